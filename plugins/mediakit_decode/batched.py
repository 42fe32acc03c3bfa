"""Batched long-form mode: speech regions cut into windows of at most 30 s, decoded together.

Like faster-whisper's BatchedInferencePipeline: no previous-text conditioning, so windows are
independent; the encoder runs once per batch and beam search runs over all windows' beams at once.
"""

from __future__ import annotations

import logging

from mediakit.records import Features, ProgressCallback

from .fallback import decode_with_fallback
from .job import Job
from .segments import Draft
from .timing import add_word_timestamps
from .window import WindowBatch, WindowResult

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


def transcribe_batched(
    job: Job,
    features: Features,
    windows: list[tuple[int, int]],
    progress: ProgressCallback | None = None,
) -> list[Draft]:
    """Decode the frame ranges ``windows`` (each <= one window long) in batches of ``batch_size``."""
    options, tokenizer = job.options, job.tokenizer
    fps = job.frames_per_second
    total = features.content_frames / fps
    segments: list[Draft] = []
    size = max(1, options.batch_size)
    for first in range(0, len(windows), size):
        chunk = windows[first : first + size]
        mels = [job.window_mel(features.mel, s, e - s) for s, e in chunk]
        audio_features = job.encode(mels)  # (B, n_audio_ctx, d)
        batch = WindowBatch(job.runtime, audio_features)
        results = decode_with_fallback(
            batch, tokenizer, options, job.filters, [], options.without_timestamps, job.generator
        )
        for row, ((start, end), result) in enumerate(zip(chunk, results)):
            if options.no_speech_threshold is not None and result.no_speech_prob > options.no_speech_threshold:
                if options.logprob_threshold is None or result.avg_logprob <= options.logprob_threshold:
                    continue
            offset, duration = start / fps, (end - start) / fps
            current = [
                Draft(
                    seek=start,
                    start=s,
                    end=min(e, offset + duration) if e > s else e,
                    tokens=toks,
                    text=tokenizer.decode([t for t in toks if t < tokenizer.eot]),
                    temperature=result.temperature,
                    avg_logprob=result.avg_logprob,
                    compression_ratio=result.compression_ratio,
                    no_speech_prob=result.no_speech_prob,
                )
                for s, e, toks in window_spans(result, tokenizer.timestamp_begin, offset, duration, job.time_precision)
            ]
            current = [s for s in current if s.text.strip()]
            if options.word_timestamps:
                add_word_timestamps(
                    current,
                    job.runtime,
                    tokenizer,
                    audio_features[row],
                    end - start,
                    options.prepend_punctuations,
                    options.append_punctuations,
                    segments[-1].end if segments else 0.0,
                    offset,
                )
            segments.extend(current)
        if progress is not None:
            progress(min(chunk[-1][1] / fps, total), total)
    return segments
