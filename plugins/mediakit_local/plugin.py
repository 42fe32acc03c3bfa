"""Hook implementations of the built-in ``local`` plugin."""

from __future__ import annotations

from typing import Callable

from mediakit import hookimpl

from .runner import LocalRunner


@hookimpl(trylast=True)
def mediakit_register_runners(register: Callable[..., None]) -> None:
    register("local", LocalRunner)
