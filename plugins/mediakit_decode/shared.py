"""Windows of several inputs decoded together: the batched mode's chunks handed to a shared batcher.

Batched mode (:mod:`.batched`) decodes an input's speech windows ``batch_size`` at a time; each such
chunk is a :class:`Chunk`. Given a batcher (:class:`mediakit.stages.Batcher`, e.g. ``mediakit serve
--batch_size``), chunks of concurrent inputs whose windows decode alike (same model, language, task
and window options: :func:`chunk_key`) are decoded by :func:`decode_chunks` in one batch:

* each chunk's windows are encoded as they would be alone (same ranges, same primed windows);
* the ladder's first temperature (0: beam search or argmax, no random draws) decodes every window of
  every chunk at once;
* the windows that fail it fall back chunk by chunk, with the chunk's own random generator, exactly
  as when the chunk is decoded alone (:func:`.fallback.fall_back`).

So an input's tokens are those of the same input decoded on its own. What may differ is the last bits
of the float scores (``avg_logprob``, ``no_speech_prob``): the matrix library rounds a row's dot
products differently depending on how many rows a step carries and how many threads run it, which
already varies within one input (windows finish at different steps; the thread count is chosen by
timing, see ``window.StepThreads``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Hashable, Sequence

import numpy as np
import torch

from mediakit.config import DecodeOptions
from mediakit.stages import Batcher

from .fallback import decode_with_fallback, fall_back, ladder
from .job import Job
from .window import WindowBatch, WindowResult, decode_windows

#: DecodeOptions fields that do not change how a window is decoded (they act before or after it, per
#: input): chunks that differ only in these share a batch. Any other field must be equal.
PER_INPUT_FIELDS = (
    "language",  # the tokenizer's language is in the key (a detected language included)
    "language_detection_segments",
    "initial_prompt",
    "carry_initial_prompt",
    "condition_on_previous_text",
    "word_timestamps",
    "prepend_punctuations",
    "append_punctuations",
    "clip_timestamps",
    "hallucination_silence_threshold",
    "vad",
    "vad_options",
    "zh_script",
    "batch_size",
    "verbose",
)
_NEUTRAL = {name: getattr(DecodeOptions(), name) for name in PER_INPUT_FIELDS}


@dataclass(frozen=True)
class Chunk:
    """Up to ``batch_size`` windows of one input, decoded in one step of batched mode."""

    job: Job
    source: object  # whole Features or a FeatureSource (see .source): what job.encode_ranges reads
    ranges: tuple[tuple[int, int], ...]  # (first frame, frame count) per window
    open_until: tuple[int, ...] | None  # per window, see window.early_ends; None without timestamps

    @property
    def size(self) -> int:
        return len(self.ranges)


#: What a chunk's decoding gives back: its encoder output (B, n_audio_ctx, d) and one result per window.
Decoded = tuple[torch.Tensor, list[WindowResult]]


def chunk_key(chunk: Chunk) -> Hashable | None:
    """Chunks with equal keys may be decoded together; None: this chunk is decoded on its own (its
    ladder starts above temperature 0, so even its first decoding draws from its random generator)."""
    job = chunk.job
    if ladder(job.options)[0] != 0:
        return None
    window_options = dataclasses.replace(job.options, **_NEUTRAL)
    return (id(job.runtime), job.tokenizer.language, job.tokenizer.task, window_options)


def decode_chunks(chunks: Sequence[Chunk]) -> list[Decoded]:
    """Decode ``chunks`` (all with the same :func:`chunk_key`) in one batch; one result per chunk.

    A single chunk is decoded exactly as batched mode decodes it without a batcher."""
    with torch.inference_mode():
        encoded = [c.job.encode_ranges(c.source, list(c.ranges)) for c in chunks]  # (B_i, A, d) each
        if len(chunks) == 1:
            chunk, features = chunks[0], encoded[0]
            job = chunk.job
            batch = WindowBatch(job.runtime, features, chunk.open_until)
            results = decode_with_fallback(batch, job)
            return [(features, results)]
        lead = chunks[0].job
        limits = None  # the key holds without_timestamps: every chunk has limits, or none has
        if chunks[0].open_until is not None:
            limits = [limit for c in chunks for limit in c.open_until or ()]
        batch = WindowBatch(lead.runtime, torch.cat(encoded), limits)  # (sum B_i, A, d)
        options = lead.options
        first = decode_windows(
            batch, lead.tokenizer, options, lead.filters, [], ladder(options)[0], options.without_timestamps
        )  # temperature 0: no random draws
        out: list[Decoded] = []
        start = 0
        for chunk, features in zip(chunks, encoded):
            job, rows = chunk.job, range(start, start + chunk.size)
            results = fall_back(batch, rows, first[rows.start : rows.stop], job)
            out.append((features, results))
            start += chunk.size
        return out


def decode_chunk(chunk: Chunk, batcher: Batcher | None = None) -> Decoded:
    """Decode one chunk: through ``batcher`` (with other inputs' chunks) when it may share, else here."""
    key = None if batcher is None else chunk_key(chunk)
    if key is None:
        return decode_chunks([chunk])[0]
    return batcher.decode(key, chunk, chunk.size, decode_chunks)
