"""openai-whisper's Python API on mediakit: ``import mediakit.whisper as whisper`` runs code written for it.

>>> import mediakit.whisper as whisper
>>> model = whisper.load_model("base")                    # doctest: +SKIP
>>> result = model.transcribe("audio.mp3")                # doctest: +SKIP
>>> print(result["text"])                                 # doctest: +SKIP

Submodules mirror openai-whisper's: ``audio``, ``decoding``, ``model``, ``normalizers``, ``timing``,
``tokenizer``, ``transcribe``, ``utils``; ``python -m mediakit.whisper`` is its command. The differences are
listed in docs/openai-compat.md.
"""

from __future__ import annotations

import os
from typing import List, Optional, Union

import torch

from mediakit import __version__

from . import audio, decoding, model, timing, tokenizer, utils  # noqa: F401 (whisper.timing... as openai's import gives)
from .audio import load_audio, log_mel_spectrogram, pad_or_trim
from .decoding import DecodingOptions, DecodingResult, decode, detect_language
from .model import ModelDimensions, Whisper
from .transcribe import transcribe

__all__ = [
    "available_models", "load_model", "load_audio", "log_mel_spectrogram", "pad_or_trim", "DecodingOptions",
    "DecodingResult", "decode", "detect_language", "ModelDimensions", "Whisper", "transcribe", "__version__",
]  # fmt: skip

#: openai-whisper's model names, in its order.
_MODEL_NAMES = (
    "tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium",
    "large-v1", "large-v2", "large-v3", "large", "large-v3-turbo", "turbo",
)  # fmt: skip


def _official():
    from mediakit_whisper import names

    return {name: names.OFFICIAL[names.canonical(name)] for name in _MODEL_NAMES}


def __getattr__(name: str):
    # openai-whisper's module-level tables, which some programs read: name -> checkpoint URL / alignment heads
    if name == "_MODELS":
        return {n: m.url for n, m in _official().items()}
    if name == "_ALIGNMENT_HEADS":
        return {n: m.heads_mask for n, m in _official().items()}
    raise AttributeError(f"module 'mediakit.whisper' has no attribute {name!r}")


def _download(url: str, root: str, in_memory: bool) -> Union[bytes, str]:
    """The checkpoint at an official ``url`` in ``root`` (downloaded and sha256-checked when missing):
    its path, or its bytes with ``in_memory``."""
    from pathlib import Path

    from mediakit_whisper.locate import download_official

    found = next((n for n, m in _official().items() if m.url == url), None)
    if found is None:
        raise RuntimeError(f"{url} is not an official Whisper checkpoint URL")
    target = Path(root) / _official()[found].file
    if not target.is_file():
        target = download_official(found, Path(root))
    return target.read_bytes() if in_memory else str(target)


def available_models() -> List[str]:
    """The official model names (each loads from an installed package or a cache, else downloads)."""
    return list(_MODEL_NAMES)


def load_model(
    name: str,
    device: Optional[Union[str, torch.device]] = None,
    download_root: Optional[str] = None,
    in_memory: bool = False,
    *,
    compute_type: str = "auto",
    threads: int = 0,
) -> Whisper:
    """Load a model by official name or from a checkpoint path (``.pt``, CTranslate2 or Hugging Face folder).

    ``device``: default CUDA when available, else the CPU. ``download_root``: where checkpoints are looked
    for and downloaded (default: mediakit's cache, then openai-whisper's ``~/.cache/whisper``). ``in_memory``
    is accepted for compatibility; mediakit maps the weights file instead of reading it whole.
    mediakit's own: ``compute_type`` (auto, float32, mixed, float16, bfloat16, int8) and ``threads``
    (torch CPU threads; 0 leaves torch's setting).
    """
    from mediakit.config import ModelOptions
    from mediakit.errors import StageNotFoundError
    from mediakit.pipeline import load_model as load_stage

    from ._host import plugin_manager

    if device is None:
        device = "cuda" if torch.cuda.is_available() else "cpu"
    options = ModelOptions(
        name=os.fspath(name),
        device=str(device),
        compute_type=compute_type,
        threads=threads,
        model_dir=download_root if download_root is not None else os.environ.get("MEDIAKIT_MODEL_DIR"),
    )
    pm = plugin_manager()
    try:
        runtime = load_stage(pm, options)
    except StageNotFoundError as err:
        raise RuntimeError(f"Model {name} not found; available models = {available_models()}") from err
    return Whisper._from_runtime(runtime, options, pm)
