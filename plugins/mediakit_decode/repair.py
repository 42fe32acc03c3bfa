"""Repair: decode again, on their own windows, the speech stretches the seek loop left without text.

After the seek loop, :mod:`.coverage` tells which speech got no words. Each such stretch of at least
``coverage.MIN_UNCOVERED`` seconds is decoded by the seek loop again, restricted to the stretch (a
window starting at the stretch, zero-padded after it) with the text before it as the prompt. Its
segments are kept only when the model itself says they are speech, then merged in time order and
marked ``extra["repaired"]``. Where nothing was left uncovered nothing is decoded and the segments
are returned as they are, so the transcript is the seek loop's own.

Batched mode (:func:`repair_batched`) decodes only VAD's windows, so what Silero misses (far-field,
whispered speech) is never heard: every stretch of at least a second without a segment is encoded,
and decoded when the model's no-speech probability of it says it may be speech.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Sequence

import torch

from .batched import transcribe_batched
from .coverage import KEPT_FEATURES_BYTES, MIN_UNCOVERED, WORD_PAD, SpeechMap, Stretch, WordSpans, accounts, uncovered, within
from .longform import format_timestamp, log_segment, transcribe_windows
from .quality import is_silent, normalise_segment
from .segments import Draft
from .window import WindowBatch, hotword_tokens, initial_tokens

log = logging.getLogger(__name__)

#: A repaired segment must have a no-speech probability at most this (sure speech) ...
MAX_NO_SPEECH_SURE = 0.6
#: ... or at most this where Silero was unsure (whispering, falsetto, far-field, or noise).
MAX_NO_SPEECH_UNSURE = 0.3
#: Batched mode: audio without text is decoded again when the model's no-speech probability of it
#: is at most this (what Silero missed there is unsure speech by definition).
MAX_NO_SPEECH_GAP = 0.5
#: Rounds of repair: a repair's own seek loop may leave speech uncovered too.
MAX_ROUNDS = 2
#: Seconds of audio kept before and after an uncovered stretch in its window.
MARGIN = 0.1
#: ... and up to this much more where no word was aligned (the stretch's speech may run on under a long word).
EXTEND = 1.0


@dataclass(frozen=True)
class RepairReport:
    """What the repair found and did (for the log and the tests)."""

    found: tuple[Stretch, ...]
    repaired: tuple[Stretch, ...]  # the stretches that got text


def repair(
    job,
    features,
    drafts: list[Draft],
    words: WordSpans,
    speech: SpeechMap,
    ranges: Sequence[tuple[float, float]],
    initial_prompt: Sequence[int] = (),
) -> tuple[list[Draft], RepairReport]:
    """``drafts`` with segments added where speech within ``ranges`` (seconds) has no words."""
    stretches = within(speech, speech.stretches(), ranges)
    # speech outside every segment, however short: the windows beside it are aligned (their segments'
    # timestamps may have run over speech their words skipped)
    words.align_near(features, words.outside_segments(speech, stretches))
    found: list[Stretch] = []
    repaired: list[Stretch] = []
    tried: list[Stretch] = []
    for round_index in range(MAX_ROUNDS):
        gaps = _gaps(features, speech, stretches, words, tried)
        if round_index == 0:
            gaps = sorted(gaps + _unheard(job, features, speech, words, gaps, ranges), key=lambda g: g.start)
        if not gaps:
            break
        added: list[Draft] = []
        for gap in gaps:
            tried.append(gap)
            found.append(gap)
            kind = "speech" if gap.sure else "possible speech"
            log.info(
                "coverage: %s of %s at [%s --> %s] has no text; decoding it again",
                f"{gap.duration:.1f} s", kind, format_timestamp(gap.start), format_timestamp(gap.end),
            )
            segments = _decode_stretch(job, features, gap, drafts + added, words, initial_prompt)
            kept = [s for s in segments if _accept(s, gap, drafts + added, job.options)]
            for segment in kept:
                segment.extra["repaired"] = True
                log.info("repaired [%s --> %s] %s", format_timestamp(segment.start), format_timestamp(segment.end), segment.text)
                if job.options.verbose:
                    log_segment(segment)
            if kept:
                repaired.append(gap)
            else:
                log.info("coverage: [%s --> %s] gave no text the model calls speech", format_timestamp(gap.start), format_timestamp(gap.end))
            added.extend(kept)
        if not added:
            break
        drafts = merge(drafts, added, words)
    return drafts, RepairReport(tuple(found), tuple(repaired))


def merge(drafts: list[Draft], added: list[Draft], words: WordSpans) -> list[Draft]:
    """All segments in the order their words are spoken. A segment whose span reaches over a repaired
    one (the seek loop's timestamps ran over the speech it skipped) is cut back to its words."""

    def spoken(draft: Draft) -> float:
        found = words.words_of(draft)
        return found[0] if found is not None else draft.start

    merged = sorted(drafts + added, key=spoken)  # stable: the seek loop's order among equals
    for new in added:
        for draft in drafts:
            found = words.words_of(draft)
            if found is None or not (draft.start < new.end and draft.end > new.start):
                continue
            if found[0] >= new.start:  # its words come after the repaired ones begin
                draft.start = max(draft.start, min(new.end, found[0]))
            elif found[1] <= new.start + 0.5:  # its words come before
                draft.end = min(draft.end, max(new.start, found[1]))
    return merged


def _gaps(features, speech: SpeechMap, stretches, words: WordSpans, tried: Sequence[Stretch]) -> list[Stretch]:
    """The stretches without words not tried yet. The windows left unaligned beside them are aligned
    first (their words, not their segments' spans, decide what is covered), until none is left there."""
    while True:
        gaps = [g for g in uncovered(speech, stretches, words.covered()) if not _tried(g, tried)]
        if not gaps or not words.align_near(features, gaps):
            return gaps


def _unheard(job, features, speech: SpeechMap, words: WordSpans, gaps, ranges) -> list[Stretch]:
    """Speech Silero hardly hears (far-field whispering scores under 0.15): the parts of the segments whose
    text does not account for their spans (``WordSpans.sparse``) without words, at least MIN_UNCOVERED
    long, not among ``gaps``, not all silence to Silero (a read pause scores under 0.03), that the
    model's no-speech probability calls speech (at most MAX_NO_SPEECH_GAP)."""
    sparse = within(speech, [Stretch(s, e, False) for s, e in words.sparse], ranges)
    parts = [
        p for p in uncovered(speech, sparse, words.covered())
        if speech.heard(p.start, p.end) and not any(p.start < g.end and p.end > g.start for g in gaps)
    ]
    fps, hop = job.frames_per_second, features.spec.hop_length
    frames = [(round(p.start * fps), min(features.content_frames, round(p.end * fps))) for p in parts]
    kept = [(p, f) for p, f in zip(parts, frames) if f[1] > f[0] and not is_silent(features.samples(f[0] * hop, f[1] * hop))]
    if not kept:
        return []
    probs = no_speech_probabilities(job, features, [f for _, f in kept])
    for _, (start, end) in kept:
        job.primed.pop((start, end - start), None)
    for (part, _), prob in zip(kept, probs):
        log.debug("coverage: [%s --> %s] has no words, no-speech probability %.2f", format_timestamp(part.start), format_timestamp(part.end), prob)
    # judged by the model: MAX_NO_SPEECH_SURE applies to what is decoded there
    return [Stretch(p.start, p.end, True) for (p, _), prob in zip(kept, probs) if prob <= MAX_NO_SPEECH_GAP]


def _tried(gap: Stretch, tried: Sequence[Stretch]) -> bool:
    return any(gap.start >= t.start - 0.5 and gap.end <= t.end + 0.5 for t in tried)


def _decode_stretch(job, features, gap: Stretch, drafts: Sequence[Draft], words: WordSpans, initial_prompt) -> list[Draft]:
    """The seek loop on the stretch's window (``_window_of``)."""
    start, end = _window_of(job, features, gap, words)
    prompt = list(initial_prompt) + _context(job, drafts, gap.start)
    quiet = replace(job, options=replace(job.options, verbose=False))  # only the kept segments are shown
    segments, _ = transcribe_windows(quiet, features, [(start, end)], prompt, None, on_window=words.observe)
    return segments


def _window_of(job, features, gap: Stretch, words: WordSpans) -> tuple[int, int]:
    """The frames to decode a stretch on: the stretch widened up to EXTEND seconds each side where no
    solid word lies, and by MARGIN at least."""
    fps = job.frames_per_second
    solid = [(s, e) for s, e, ok in words.covered() if ok]
    before = max([e for s, e in solid if e <= gap.start + 0.01], default=0.0)
    after = min([s for s, e in solid if s >= gap.end - 0.01], default=features.content_frames / fps)
    start = max(0, round(min(gap.start - MARGIN, max(gap.start - EXTEND, before)) * fps))
    end = min(features.content_frames, round(max(gap.end + MARGIN, min(gap.end + EXTEND, after)) * fps))
    return start, end


def _context(job, drafts: Sequence[Draft], before: float) -> list[int]:
    """The text tokens of the segments before ``before`` seconds, at most half the text context."""
    if not job.options.condition_on_previous_text:
        return []
    eot = job.tokenizer.eot
    tokens = [t for d in drafts if d.end <= before + 0.5 and d.start < before for t in d.tokens if t < eot]
    return tokens[-(job.runtime.dims.n_text_ctx // 2 - 1) :]


def _accept(segment: Draft, gap: Stretch, others: Sequence[Draft], options) -> bool:
    """Speech by the model's own judgement (no-speech probability, and the fallback's checks passed,
    whatever the thresholds the user chose), not a copy of a neighbour's text."""
    text = normalise_segment(segment.text)
    if not text:
        return False
    if segment.no_speech_prob > (MAX_NO_SPEECH_SURE if gap.sure else MAX_NO_SPEECH_UNSURE):
        return False
    if segment.avg_logprob < (options.logprob_threshold if options.logprob_threshold is not None else -1.0):
        return False
    if segment.compression_ratio > (options.compression_ratio_threshold or 2.4):
        return False
    neighbours = " ".join(normalise_segment(d.text) for d in others if d.end > gap.start - 5 and d.start < gap.end + 5)
    if text in neighbours:
        return False  # the stretch was said, and written, beside it
    return True


def batched_gaps(job, features, windows: Sequence[tuple[int, int]], ranges: Sequence[tuple[int, int]]) -> list[tuple[int, int]]:
    """Frame ranges within ``ranges`` that none of ``windows`` (frame ranges) holds, at least
    ``MIN_UNCOVERED`` long, cut to windows of at most 30 s, without digital silence."""
    fps, hop = job.frames_per_second, features.spec.hop_length
    out: list[tuple[int, int]] = []
    for start, end in ranges:
        position = start
        for w_start, w_end in sorted(windows) + [(end, end)]:
            if w_end <= position:
                continue
            gap_end = min(w_start, end)
            while gap_end - position >= MIN_UNCOVERED * fps:
                piece = (position, min(gap_end, position + job.n_frames))
                if not is_silent(features.samples(piece[0] * hop, piece[1] * hop)):
                    out.append(piece)
                position = piece[1]
            position = max(position, w_end)
            if position >= end:
                break
    return out


def no_speech_probabilities(job, features, windows: Sequence[tuple[int, int]]) -> list[float]:
    """The model's no-speech probability of each window (its encoder output is kept for decoding)."""
    probs: list[float] = []
    n_ctx = job.runtime.dims.n_text_ctx
    hotwords = hotword_tokens(job.tokenizer, job.options.hotwords, n_ctx)
    tokens = initial_tokens(job.tokenizer, [], job.options.without_timestamps, n_ctx, hotwords)
    for start in range(0, len(windows), max(1, job.options.batch_size)):
        chunk = [(s, e - s) for s, e in windows[start : start + max(1, job.options.batch_size)]]
        encoded = job.encode_ranges(features, chunk)
        job.primed.update(zip(chunk, encoded))
        started = WindowBatch(job.runtime, encoded).start(1, tokens, tokens.index(job.tokenizer.sot), job.tokenizer.no_speech)
        probs.extend(started.no_speech)
    return probs


def repair_written_over(
    job, features, drafts: list[Draft], windows: Sequence[tuple[int, int]], speech: SpeechMap
) -> tuple[list[Draft], RepairReport]:
    """Batched mode: a window whose segments do not account for their spans (``coverage.accounts``: the
    model may have written one sentence over two) is encoded again and aligned; the speech in it left
    without words is decoded on its own, as the seek loop's repair does."""
    fps, eot = job.frames_per_second, job.tokenizer.eot
    by_window: dict[int, list[Draft]] = {}
    for draft in drafts:
        if draft.text.strip():
            by_window.setdefault(draft.seek, []).append(draft)
    words = WordSpans(job)
    suspects: list[tuple[float, float]] = []
    for seek, group in sorted(by_window.items()):
        tokens = [[t for t in d.tokens if t < eot] for d in group]
        end = next((e for s, e in windows if s <= seek < e), None)
        if end is None:
            continue
        if accounts(group, tokens):  # its segments bound the windows decoded for the others' stretches
            words.claim(seek, end - seek, group, tokens)
            continue
        encoded = job.encode_ranges(features, [(seek, end - seek)])[0]  # kept by keep_unaccounted, if it could
        words.align(seek / fps, end - seek, encoded, group, tokens)
        suspects.append((seek / fps, end / fps))
    if not suspects:
        return drafts, RepairReport((), ())
    gaps = uncovered(speech, within(speech, speech.stretches(), suspects), words.covered())
    found, repaired, added = [], [], []
    quiet = replace(job, options=replace(job.options, verbose=False))
    for gap in gaps:
        found.append(gap)
        log.info(
            "coverage: %s of %s at [%s --> %s] has no words; decoding it again", f"{gap.duration:.1f} s",
            "speech" if gap.sure else "possible speech", format_timestamp(gap.start), format_timestamp(gap.end),
        )
        segments = transcribe_batched(quiet, features, [_window_of(job, features, gap, words)])
        kept = _mark_repaired([s for s in segments if _accept(s, gap, drafts + added, job.options)])
        if kept:
            repaired.append(gap)
        added.extend(kept)
    if not added:
        return drafts, RepairReport(tuple(found), ())
    return merge(drafts, added, words), RepairReport(tuple(found), tuple(repaired))


def keep_unaccounted(job) -> Callable[[int, int, torch.Tensor, list[Draft]], None]:
    """For batched mode's ``keep``: the encoder output of a window whose segments do not account for
    their spans (the windows :func:`repair_written_over` aligns) goes into ``job.primed`` (a copy, up
    to ``KEPT_FEATURES_BYTES`` in all), so the repair aligns it without encoding the window again."""
    eot = job.tokenizer.eot
    free = KEPT_FEATURES_BYTES

    def keep(start: int, size: int, audio_features: torch.Tensor, drafts: list[Draft]) -> None:
        nonlocal free
        nbytes = audio_features.numel() * audio_features.element_size()
        if nbytes > free or accounts(drafts, [[t for t in d.tokens if t < eot] for d in drafts]):
            return
        free -= nbytes
        job.primed[(start, size)] = audio_features.detach().clone()

    return keep


def _mark_repaired(kept: list[Draft]) -> list[Draft]:
    """Flag segments decoded by a repair (the JSON's "repaired") and log each; returns them."""
    for segment in kept:
        segment.extra["repaired"] = True
        log.info("repaired [%s --> %s] %s", format_timestamp(segment.start), format_timestamp(segment.end), segment.text)
    return kept


def repair_batched(
    job, features, drafts: list[Draft], ranges, windows: Sequence[tuple[int, int]], speech: SpeechMap | None
) -> tuple[list[Draft], RepairReport]:
    """Batched mode: segments written over speech they skipped (``repair_written_over``, given the
    decoded ``windows`` and the speech map); then audio without a segment (left out by VAD, or within a
    window the model wrote nothing for) is decoded where the model's no-speech probability says speech."""
    over = RepairReport((), ())
    if speech is not None and windows:
        drafts, over = repair_written_over(job, features, drafts, windows, speech)
    drafts, report = _repair_gaps(job, features, drafts, ranges)
    return drafts, RepairReport(over.found + report.found, over.repaired + report.repaired)


def _repair_gaps(job, features, drafts: list[Draft], ranges) -> tuple[list[Draft], RepairReport]:
    fps = job.frames_per_second
    segments = [(round((d.start - WORD_PAD) * fps), round((d.end + WORD_PAD) * fps)) for d in drafts if d.text.strip()]
    gaps = batched_gaps(job, features, segments, ranges)
    if not gaps:
        return drafts, RepairReport((), ())
    probs = no_speech_probabilities(job, features, gaps)
    found, repaired, added = [], [], []
    for (start, end), prob in zip(gaps, probs):
        log.debug("coverage: [%s --> %s] has no text, no-speech probability %.2f", format_timestamp(start / fps), format_timestamp(end / fps), prob)
    candidates = [g for g, p in zip(gaps, probs) if p <= MAX_NO_SPEECH_GAP]
    for start, end in gaps:
        if (start, end) not in candidates:
            job.primed.pop((start, end - start), None)
    if not candidates:
        return drafts, RepairReport((), ())
    for start, end in candidates:
        stretch = Stretch(start / fps, end / fps, True)  # judged by the model: MAX_NO_SPEECH_SURE applies
        found.append(stretch)
        log.info(
            "coverage: %.1f s without text at [%s --> %s] may be speech (model); decoding it again",
            stretch.duration, format_timestamp(stretch.start), format_timestamp(stretch.end),
        )
    quiet = replace(job, options=replace(job.options, verbose=False))
    segments = transcribe_batched(quiet, features, candidates)
    for stretch in found:
        kept = _mark_repaired(
            [s for s in segments if stretch.start <= s.start < stretch.end and _accept(s, stretch, drafts + added, job.options)]
        )
        if kept:
            repaired.append(stretch)
        added.extend(kept)
    if not added:
        return drafts, RepairReport(tuple(found), ())
    merged = sorted(drafts + added, key=lambda d: (d.start, d.seek))
    if job.options.verbose:
        for segment in added:
            log_segment(segment)
    return merged, RepairReport(tuple(found), tuple(repaired))
