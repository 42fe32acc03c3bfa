"""The temperature fallback ladder: re-decode a window hotter while its result looks like a failure."""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Sequence

from mediakit.config import DecodeOptions

from .job import Job
from .quality import compression_ratio, find_loop
from .window import WindowBatch, WindowResult, decode_windows

log = logging.getLogger(__name__)


def needs_fallback(result: WindowResult, options: DecodeOptions, guard_loops: bool, eot: int) -> bool:
    """openai-whisper's rule (too repetitive or too improbable, unless it is silence), plus token loops."""
    failed = False
    if options.compression_ratio_threshold is not None and result.compression_ratio > options.compression_ratio_threshold:
        failed = True  # too repetitive
    if options.logprob_threshold is not None and result.avg_logprob < options.logprob_threshold:
        failed = True  # too improbable
    if guard_loops and find_loop([t for t in result.tokens if t < eot]) is not None:
        failed = True  # a loop the compression ratio missed
    if (
        options.no_speech_threshold is not None
        and result.no_speech_prob > options.no_speech_threshold
        and options.logprob_threshold is not None
        and result.avg_logprob < options.logprob_threshold
    ):
        failed = False  # silence: the window will be skipped
    return failed


def trim_loop(result: WindowResult, tokenizer) -> WindowResult:
    """Keep one copy of a repetition loop and drop everything after it."""
    positions = [i for i, t in enumerate(result.tokens) if t < tokenizer.eot]
    loop = find_loop([result.tokens[i] for i in positions])
    if loop is None:
        return result
    cut = positions[loop.start + loop.period - 1] + 1
    tokens = result.tokens[:cut]
    text = tokenizer.decode([t for t in tokens if t < tokenizer.eot]).strip()
    log.info("repetition guard: cut a %d-token loop repeated %d times", loop.period, loop.repeats)
    return replace(result, tokens=tokens, text=text, compression_ratio=compression_ratio(text), trimmed_loop=True)


def ladder(options: DecodeOptions) -> tuple[float, ...]:
    """The temperatures to try, in order."""
    return tuple(options.temperature) or (0.0,)


def decode_with_fallback(batch: WindowBatch, job: Job, prompt: Sequence[int] = ()) -> list[WindowResult]:
    """Each window's result at the first temperature of the ladder that passes, else at the last one:
    ``job``'s tokenizer, options, filters and random generator, after ``prompt`` (the previous text)."""
    first = decode_windows(
        batch, job.tokenizer, job.options, job.filters, prompt, ladder(job.options)[0], job.options.without_timestamps,
        job.generator,
    )  # fmt: skip
    return fall_back(batch, range(batch.size), first, job, prompt)


def fall_back(
    batch: WindowBatch, windows: Sequence[int], first: Sequence[WindowResult], job: Job, prompt: Sequence[int] = ()
) -> list[WindowResult]:
    """The rest of the ladder for the windows ``windows`` of ``batch``, whose results at the ladder's first
    temperature are ``first``: the windows that failed are decoded again, hotter, until they pass.

    Only these windows take part (and only they draw from ``generator``), so the outcome is the same
    whether ``batch`` holds just them or the windows of other inputs too (see :mod:`.shared`).
    """
    tokenizer, options = job.tokenizer, job.options
    temperatures = ladder(options)
    results: dict[int, WindowResult] = dict(zip(windows, first))
    pending = [w for w in windows if needs_fallback(results[w], options, options.repetition_guard, tokenizer.eot)]
    if pending and len(temperatures) > 1:
        log.debug("temperature %.1f failed for %d window(s); falling back", temperatures[0], len(pending))
    current, current_index = batch, list(range(batch.size))
    for temperature in temperatures[1:]:
        if not pending:
            break
        if pending != current_index:
            current, current_index = batch.subset(pending), pending
        decoded = decode_windows(
            current, tokenizer, options, job.filters, prompt, temperature, options.without_timestamps, job.generator
        )
        still = []
        for i, result in zip(pending, decoded):
            results[i] = result
            if needs_fallback(result, options, options.repetition_guard, tokenizer.eot):
                still.append(i)
        if still and temperature != temperatures[-1]:
            log.debug("temperature %.1f failed for %d window(s); falling back", temperature, len(still))
        pending = still
    final = [results[w] for w in windows]
    if options.repetition_guard:
        final = [trim_loop(r, tokenizer) for r in final]
    return final
