"""faster-whisper's Python API on mediakit's engine: ``from mediakit.faster_whisper import WhisperModel``.

>>> from mediakit.faster_whisper import WhisperModel                 # doctest: +SKIP
>>> model = WhisperModel("base", device="cpu", compute_type="int8")  # doctest: +SKIP
>>> segments, info = model.transcribe("talk.mp3", beam_size=5)       # doctest: +SKIP
>>> for segment in segments:                                         # doctest: +SKIP
...     print(f"[{segment.start:.2f}s -> {segment.end:.2f}s] {segment.text}")

What differs from faster-whisper and what is refused: docs/faster-whisper.md.
"""

from __future__ import annotations

from typing import Any, List

from .audio import decode_audio
from .model import BatchedInferencePipeline, WhisperModel
from .records import Segment, TranscriptionInfo, TranscriptionOptions, VadOptions, Word

__version__ = "1.2.1"  # the faster-whisper release whose API this follows

__all__ = [
    "available_models",
    "decode_audio",
    "WhisperModel",
    "BatchedInferencePipeline",
    "format_timestamp",
    "Segment",
    "TranscriptionInfo",
    "TranscriptionOptions",
    "VadOptions",
    "Word",
    "__version__",
]


def available_models() -> List[str]:
    """The model names the installed plugins know (whether or not a copy is on this machine)."""
    import mediakit

    return [info.name for info in mediakit.available_models()]


def __getattr__(name: str) -> Any:
    # openai-whisper's format_timestamp is faster-whisper's too; mediakit.whisper imports torch, so only on use
    if name == "format_timestamp":
        from mediakit.whisper.utils import format_timestamp

        return format_timestamp
    raise AttributeError(f"module 'mediakit.faster_whisper' has no attribute {name!r}")
