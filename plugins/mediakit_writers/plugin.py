"""Hook implementations of the built-in ``writers`` plugin."""

from __future__ import annotations

from typing import Callable

from mediakit import hookimpl

from .plain import JsonWriter, TsvWriter, TxtWriter
from .subtitles import SrtWriter, VttWriter


@hookimpl(trylast=True)
def mediakit_register_writers(register: Callable[..., None]) -> None:
    register("txt", TxtWriter)
    register("vtt", VttWriter)
    register("srt", SrtWriter)
    register("tsv", TsvWriter)
    register("json", JsonWriter)
