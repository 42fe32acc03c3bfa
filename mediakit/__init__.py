"""mediakit: speech to text for any media file, built from plugins.

Importing mediakit is cheap (no torch); models load only when asked for.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

__version__ = "0.1.0"

#: Marker for plugin hook implementations: ``@hookimpl def mediakit_register_writers(register): ...``
hookimpl = pluggy.HookimplMarker("mediakit")

__all__ = ["__version__", "hookimpl", "transcribe", "load_model", "available_models"]

if TYPE_CHECKING:  # pragma: no cover
    from .api import available_models, load_model, transcribe


def __getattr__(name: str) -> Any:
    if name in {"transcribe", "load_model", "available_models"}:
        from . import api

        return getattr(api, name)
    raise AttributeError(f"module 'mediakit' has no attribute {name!r}")
