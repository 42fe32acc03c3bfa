"""mediakit's built-in Whisper model stage: the PyTorch model, its tokenizer and weight loaders.

Embedding use (load once, run many)::

    import mediakit_whisper
    model = mediakit_whisper.load("base")          # or a path to a .pt, CTranslate2 or Hugging Face copy
    features = model.encode(mel)                     # (B, n_mels, 3000) -> (B, 1500, d)

Importing this package is cheap: torch loads with the first ``load``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from .loader import load, load_path
    from .runtime import DecoderState, WhisperRuntime

__all__ = ["load", "load_path", "WhisperRuntime", "DecoderState"]


def __getattr__(name: str) -> Any:
    if name in {"load", "load_path"}:
        from . import loader

        return getattr(loader, name)
    if name in {"WhisperRuntime", "DecoderState"}:
        from . import runtime

        return getattr(runtime, name)
    raise AttributeError(f"module 'mediakit_whisper' has no attribute {name!r}")
