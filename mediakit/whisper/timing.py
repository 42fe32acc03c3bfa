"""openai-whisper's ``whisper.timing``: word timestamps from the alignment heads' cross-attention, with DTW.

The alignment itself is mediakit's (``mediakit_decode.timing``); these functions take openai-whisper's
arguments (a mel window, segment dicts) and return its types.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, List

import numpy as np
import torch

from mediakit_decode.timing import WordTiming, merge_punctuations
from mediakit_decode.timing import dtw as _dtw
from mediakit_decode.timing import median_filter as _median_filter

from .audio import HOP_LENGTH, SAMPLE_RATE, TOKENS_PER_SECOND

if TYPE_CHECKING:  # pragma: no cover
    from .model import Whisper
    from .tokenizer import Tokenizer

__all__ = ["WordTiming", "add_word_timestamps", "dtw", "dtw_cpu", "dtw_cuda", "find_alignment", "median_filter",
           "merge_punctuations", "TOKENS_PER_SECOND"]  # fmt: skip


def median_filter(x: torch.Tensor, filter_width: int) -> torch.Tensor:
    """Median over a sliding window of odd ``filter_width`` along the last dimension, reflect-padded."""
    if not (filter_width > 0 and filter_width % 2 == 1):
        raise AssertionError("`filter_width` should be an odd number")
    return _median_filter(x, filter_width)


def dtw_cpu(x: np.ndarray) -> np.ndarray:
    """The cheapest monotonic path through the cost matrix ``x`` (N, M): (2, path length) array of (i, j)."""
    rows, columns = _dtw(np.asarray(x))
    return np.stack([rows, columns])


def dtw_cuda(x: torch.Tensor, BLOCK_SIZE: int = 1024) -> np.ndarray:
    """As :func:`dtw_cpu` for a tensor on any device (the path is computed on the CPU)."""
    return dtw_cpu(x.detach().float().cpu().numpy())


def dtw(x: torch.Tensor) -> np.ndarray:
    return dtw_cpu(x.detach().double().cpu().numpy())


def _core_tokenizer(runtime, tokenizer: "Tokenizer"):
    return runtime.get_tokenizer(task=tokenizer.task or "transcribe", language=tokenizer.language)


def _check_defaults(medfilt_width: int, qk_scale: float) -> None:
    if medfilt_width != 7 or qk_scale != 1.0:
        raise ValueError("mediakit's alignment uses a median filter of width 7 and qk_scale 1.0; other values are not supported")


def find_alignment(
    model: "Whisper",
    tokenizer: "Tokenizer",
    text_tokens: List[int],
    mel: torch.Tensor,
    num_frames: int,
    *,
    medfilt_width: int = 7,
    qk_scale: float = 1.0,
) -> List[WordTiming]:
    """Word timings (seconds from the window's start) of ``text_tokens`` in one 30 s mel window (n_mels, 3000)."""
    from mediakit_decode.timing import find_alignment as align

    _check_defaults(medfilt_width, qk_scale)
    runtime = model.runtime()
    features = runtime.encode(mel)[0]  # (n_audio_ctx, n_audio_state)
    return align(runtime, _core_tokenizer(runtime, tokenizer), list(text_tokens), features, num_frames)


def add_word_timestamps(
    *,
    segments: List[dict],
    model: "Whisper",
    tokenizer: "Tokenizer",
    mel: torch.Tensor,
    num_frames: int,
    prepend_punctuations: str = "\"'“¿([{-",
    append_punctuations: str = "\"'.。,，!！?？:：”)]}、",
    last_speech_timestamp: float,
    **kwargs,
) -> None:
    """Add ``words`` to the segment dicts of one window (``mel`` (n_mels, 3000)) and fit their ends to the words."""
    from mediakit_decode.segments import Draft
    from mediakit_decode.timing import add_word_timestamps as add

    if len(segments) == 0:
        return
    _check_defaults(kwargs.pop("medfilt_width", 7), kwargs.pop("qk_scale", 1.0))
    runtime = model.runtime()
    features = runtime.encode(mel)[0]
    drafts = [Draft(seek=s["seek"], start=s["start"], end=s["end"], tokens=list(s["tokens"]), text=s.get("text", "")) for s in segments]
    time_offset = segments[0]["seek"] * HOP_LENGTH / SAMPLE_RATE
    add(
        drafts, runtime, _core_tokenizer(runtime, tokenizer), features, num_frames,
        prepend_punctuations, append_punctuations, last_speech_timestamp, time_offset,
    )  # fmt: skip
    for segment, draft in zip(segments, drafts):
        segment["start"], segment["end"], segment["words"] = draft.start, draft.end, draft.words
