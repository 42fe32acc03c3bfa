"""Hook implementations of the built-in ``ray`` plugin; importing this never imports Ray."""

from __future__ import annotations

import importlib.util
from typing import Callable

from mediakit import hookimpl
from mediakit.runners import Runner, RunnerOptions

INSTALL_HINT = "pip install 'mediakit[ray]'"


def ray_missing() -> str | None:
    """Why the ray runner cannot run here, or ``None``."""
    try:
        found = importlib.util.find_spec("ray") is not None
    except (ImportError, ValueError):  # a broken or half-removed installation
        found = False
    return None if found else f"Ray is not installed ({INSTALL_HINT})"


def _make_runner(options: RunnerOptions) -> Runner:
    from .runner import RayRunner  # imports Ray lazily itself; this only delays our own module

    return RayRunner(options)


@hookimpl(trylast=True)
def mediakit_register_runners(register: Callable[..., None]) -> None:
    register("ray", _make_runner)


@hookimpl
def mediakit_unavailable() -> str | None:
    return ray_missing()
