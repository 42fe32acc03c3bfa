"""What every command shares: the plugin host of this invocation, logging, the console streams."""

from __future__ import annotations

import gc
import logging
import sys

from ..plugins import PluginHost, disabled_from_env, load_plugins

_hosts: dict[tuple[str, ...], PluginHost] = {}
#: Plugins named by ``--disable-plugin`` in the current invocation (set by the root callback).
_disabled_by_option: list[str] = []


def set_disabled_by_option(names: tuple[str, ...]) -> None:
    _disabled_by_option[:] = names


def disabled_plugins() -> tuple[str, ...]:
    """Plugins disabled by ``--disable-plugin`` options and ``MEDIAKIT_DISABLE_PLUGINS``."""
    return tuple(dict.fromkeys(disabled_from_env() + tuple(_disabled_by_option)))


def get_host() -> PluginHost:
    """The plugin host for this invocation, loaded once."""
    key = disabled_plugins()
    if key not in _hosts:
        _hosts[key] = load_plugins(key)
    return _hosts[key]


def setup_logging(verbosity: int) -> None:
    """Warnings by default, ``-v`` info, ``-vv`` debug; always on stderr."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    root = logging.getLogger("mediakit")
    for handler in list(root.handlers):
        if getattr(handler, "_mediakit_cli", False):
            root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler._mediakit_cli = True  # type: ignore[attr-defined]
    handler.setLevel(level)
    handler.setFormatter(logging.Formatter("%(levelname)s: %(message)s" if verbosity else "warning: %(message)s"))
    root.addHandler(handler)
    root.setLevel(level)
    for name in ("mediakit_ffmpeg", "mediakit_logmel", "mediakit_whisper", "mediakit_decode", "mediakit_writers"):
        logging.getLogger(name).setLevel(level)
        if not logging.getLogger(name).handlers:
            logging.getLogger(name).addHandler(handler)


def err(message: str) -> None:
    sys.stderr.write(message + "\n")
    sys.stderr.flush()


def collect_from_here() -> None:
    """Turn the garbage collector back on (``main`` starts without it), with every object made so
    far (torch's modules, the model) moved out of its reach: a full pass over them cost 0.1 s
    each time it ran during a transcription."""
    if not gc.isenabled():  # only where main() turned it off; a program calling the app keeps its own
        gc.freeze()
        gc.enable()
