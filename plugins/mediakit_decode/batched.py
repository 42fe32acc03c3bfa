"""Batched long-form mode: speech regions cut into windows of at most 30 s, decoded together.

Like faster-whisper's BatchedInferencePipeline: no previous-text conditioning, so windows are
independent; the encoder runs once per batch and beam search runs over all windows' beams at once.
Given a batcher, a batch may also carry windows of other inputs (:mod:`.shared`).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable

import torch

from mediakit.records import ProgressCallback
from mediakit.stages import Batcher

from .job import Job
from .longform import log_segment
from .segments import Draft, split_window
from .shared import Chunk, decode_chunk
from .timing import add_word_timestamps
from .window import WindowResult

log = logging.getLogger(__name__)


def window_spans(result: WindowResult, timestamp_begin: int, time_offset: float, duration: float, precision: float):
    """Every segment of a window; text after the last timestamp runs to the window's end."""
    tokens = list(result.tokens)
    spans: list[tuple[float, float, list[int]]] = []
    current: list[int] = []
    start: float | None = None
    for token in tokens:
        if token >= timestamp_begin:
            t = time_offset + (token - timestamp_begin) * precision
            if start is None or not any(x < timestamp_begin for x in current):
                start, current = t, [token]  # an opening timestamp
            else:
                current.append(token)
                spans.append((start, t, current))
                start, current = None, []
        else:
            if start is None:
                start = time_offset
            current.append(token)
    if any(x < timestamp_begin for x in current):
        spans.append((start if start is not None else time_offset, time_offset + duration, current))
    return spans


#: Decoding rounds: a window whose text stops at a timestamp pair before its end leaves the rest
#: for a further round (as the seek loop would), decoded in the next batch with the windows still
#: waiting. A window's result does not depend on its batch, so the order only saves batches.
MAX_ROUNDS = 4
#: A rest shorter than this (seconds) is not decoded again; any unfinished text runs to the window end.
MIN_REST = 1.0


def transcribe_batched(
    job: Job,
    source,
    windows: list[tuple[int, int]],
    progress: ProgressCallback | None = None,
    batcher: Batcher | None = None,
    keep: Callable[[int, int, torch.Tensor, list[Draft]], None] | None = None,
) -> list[Draft]:
    """Decode the frame ranges ``windows`` (each <= one window long) of a feature source (:mod:`.source`)
    in batches of ``batch_size``; with a ``batcher``, each batch may be decoded together with other
    inputs' (see :mod:`.shared`). ``keep(start, size, encoder output, segments)`` is called for each
    decoded window with text (the coverage pass keeps the outputs it will align)."""
    options, tokenizer = job.options, job.tokenizer
    fps = job.frames_per_second
    total = source.content_frames / fps
    drafts: list[Draft] = []
    size = max(1, options.batch_size)
    queue = deque((start, end, 0) for start, end in windows)  # (first frame, end frame, round)
    reached = 0.0  # the end of the furthest first-round window decoded
    while queue:
        chunk = [queue.popleft() for _ in range(min(size, len(queue)))]
        limits = _open_until(job, chunk)
        ranges = tuple((s, e - s) for s, e, _ in chunk)
        request = Chunk(job, source, ranges, None if limits is None else tuple(limits))
        audio_features, results = decode_chunk(request, batcher)  # (B, A, d), one result per window
        for row, ((start, end, round_index), result) in enumerate(zip(chunk, results)):
            if round_index == 0:
                reached = max(reached, end / fps)
            if _is_silence(result, options):
                continue
            current, rest = _window_segments(job, result, start, end, round_index == MAX_ROUNDS - 1)
            if rest is not None:
                queue.append((*rest, round_index + 1))
            if options.word_timestamps:
                add_word_timestamps(
                    current,
                    job.runtime,
                    tokenizer,
                    audio_features[row],
                    end - start,
                    options.prepend_punctuations,
                    options.append_punctuations,
                    max((d.end for d in drafts if d.end <= start / fps), default=0.0),  # speech before it
                    start / fps,
                )
            drafts.extend(current)
            if keep is not None and current:
                keep(start, end - start, audio_features[row], current)
        if progress is not None:
            progress(min(reached, total), total)
    if progress is not None:
        progress(total, total)
    drafts.sort(key=lambda d: (d.start, d.seek))
    if options.verbose:
        for draft in drafts:
            log_segment(draft)
    return drafts


def _open_until(job: Job, chunk: list[tuple[int, int, int]]) -> list[int] | None:
    """Per window, the timestamp (in steps) up to which its text may not end with a rest left over
    (see ``window.early_ends``): a rest costs a window of its own, and with VAD-cut windows it holds
    speech the model stopped short of. -1 (no limit) in the last round, which leaves no rest."""
    if job.options.without_timestamps:
        return None
    step = job.input_stride
    return [
        (end - start - round(MIN_REST * job.frames_per_second)) // step if round_index < MAX_ROUNDS - 1 else -1
        for start, end, round_index in chunk
    ]


def _is_silence(result: WindowResult, options) -> bool:
    if options.no_speech_threshold is None or result.no_speech_prob <= options.no_speech_threshold:
        return False
    return options.logprob_threshold is None or result.avg_logprob <= options.logprob_threshold


def _window_segments(
    job: Job, result: WindowResult, start: int, end: int, last_round: bool
) -> tuple[list[Draft], tuple[int, int] | None]:
    """The segments of one window, and the frame range left for the next round (or None)."""
    tokenizer, fps = job.tokenizer, job.frames_per_second
    offset, size = start / fps, end - start
    rest = None
    spans = None
    if not job.options.without_timestamps and not last_round:
        split = split_window(result.tokens, tokenizer.timestamp_begin, offset, size, job.time_precision, job.input_stride)
        if not split.single_timestamp_ending and 0 < split.advance and size - split.advance >= MIN_REST * fps:
            spans, rest = split.spans, (start + split.advance, end)
    if spans is None:
        spans = window_spans(result, tokenizer.timestamp_begin, offset, size / fps, job.time_precision)
    drafts = [
        Draft.from_result(start, s, min(e, offset + size / fps) if e > s else e, toks, tokenizer, result)
        for s, e, toks in spans
    ]
    return [d for d in drafts if d.text.strip()], rest
