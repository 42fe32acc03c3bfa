"""The hooks of the ``lrc`` plugin: only what mediakit calls, nothing heavy to import."""

from __future__ import annotations

from typing import Callable

from mediakit import hookimpl

from .writer import LrcWriter


@hookimpl
def mediakit_register_writers(register: Callable[..., None]) -> None:
    register("lrc", LrcWriter)
