"""Coverage: which stretches of the input carry speech, which of them got words, and which got none.

Speech comes from Silero's per-frame probabilities at a low threshold (whispering and falsetto score
low); a stretch is *sure* when some frame of it reaches Silero's usual threshold, else *unsure* (the
repair then asks the model's no-speech probability too). Words come from the decoded windows: their
own word timestamps, or the same cross-attention alignment run on a copy (the segments are not
touched, so the transcript does not change). The alignment is the costly part: a window whose text
accounts for its span (``accounts``) is aligned only if speech turns up beside it without text
(``WordSpans.align_near``), so a recording with nothing skipped is hardly aligned at all.
"""

from __future__ import annotations

import logging
import os
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from mediakit.errors import StageError

from .segments import Draft
from .timing import word_spans
from .vad import VAD_FRAME, iter_speech_probabilities

log = logging.getLogger(__name__)

#: Speech probability from which a frame may be speech (Silero's usual threshold is 0.5); once in
#: speech, frames stay speech down to END_THRESHOLD (Silero's own hysteresis).
LOW_THRESHOLD = 0.15
END_THRESHOLD = 0.03
#: Seconds added before and after each stretch (Silero's onsets and ends are late for quiet speech).
STRETCH_PAD = 0.2
#: A stretch with a frame at or above this is sure speech.
SURE_THRESHOLD = 0.5
#: Pauses shorter than this (seconds) do not split a stretch; speech shorter than MIN_SPEECH is dropped.
MIN_PAUSE = 0.4
MIN_SPEECH = 0.25
#: Seconds added around each word before what it covers is taken away from the speech.
WORD_PAD = 0.2
#: A word longer than this (seconds) covers only LONG_WORD_END at each end: the alignment stretches
#: a word over speech that has no text.
LONGEST_WORD = 1.0
LONG_WORD_END = 0.25
#: A word shorter than this (seconds) is not solid: the alignment ran out of speech for it.
SHORTEST_WORD = 0.05
#: Uncovered speech shorter than this (seconds) is left alone.
MIN_UNCOVERED = 1.0
#: Uncovered parts less than this apart (seconds), with no word between them, are one stretch.
JOIN = 1.0
#: A window's segments account for their spans, and it is not aligned while decoding, when each has at
#: least TOKEN_RATE text tokens a second of its span beyond ALLOWANCE seconds (English is read at 3 to 4
#: tokens a second; a segment that writes one sentence over two has about 2). The span, not Silero's
#: speech in it: Silero is deaf to falsetto and far-field speech, what the seek loop most often writes over.
TOKEN_RATE = 2.5
ALLOWANCE = 1.0
#: Seconds: a window not aligned is aligned after all when a stretch without text lies this near its segments.
NEAR = 2.0
#: Encoder outputs of claimed windows kept for ``align_near`` (the most recent ones, up to this many bytes:
#: 16 windows of base); the others are encoded again if they must be aligned.
KEPT_FEATURES_BYTES = 48 << 20


@dataclass(frozen=True)
class Stretch:
    """Seconds ``start``..``end`` of speech; ``sure``: Silero reached its usual threshold in it."""

    start: float
    end: float
    sure: bool

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True, eq=False)
class SpeechMap:
    """Silero's speech probabilities of one input: (n,) float32, one per ``frame`` seconds."""

    probs: np.ndarray
    frame: float
    duration: float

    def heard(self, start: float, end: float) -> bool:
        """Some frame of ``start``..``end`` reaches END_THRESHOLD: Silero does not call it all silence."""
        a, b = int(start / self.frame), max(int(start / self.frame) + 1, int(np.ceil(end / self.frame)))
        return bool(len(self.probs[a:b]) and self.probs[a:b].max() >= END_THRESHOLD)

    def is_sure(self, start: float, end: float) -> bool:
        """Some frame of ``start``..``end`` reaches SURE_THRESHOLD."""
        a, b = int(start / self.frame), max(int(start / self.frame) + 1, int(np.ceil(end / self.frame)))
        return bool(len(self.probs[a:b]) and self.probs[a:b].max() >= SURE_THRESHOLD)

    def stretches(self) -> list[Stretch]:
        """Runs of frames that start at LOW_THRESHOLD and last down to END_THRESHOLD, joined over pauses
        shorter than MIN_PAUSE, without those shorter than MIN_SPEECH, padded by STRETCH_PAD."""
        runs: list[list[float]] = []
        inside = False
        for index, p in enumerate(self.probs):
            inside = p >= LOW_THRESHOLD or (inside and p >= END_THRESHOLD)
            if not inside:
                continue
            start, end = index * self.frame, (index + 1) * self.frame
            if runs and start - runs[-1][1] < MIN_PAUSE:
                runs[-1][1] = end
            else:
                runs.append([start, end])
        out = []
        for s, e in runs:
            s, e = max(0.0, s - STRETCH_PAD), min(self.duration, e + STRETCH_PAD)
            if e - s >= MIN_SPEECH + 2 * STRETCH_PAD:
                out.append(Stretch(s, e, self.is_sure(s, e)))
        return out


def _lower_priority() -> None:
    """This thread yields the cores to the decoder's threads (Linux: a thread's own nice value)."""
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 19)
    except (AttributeError, OSError):  # not Linux, or not allowed: the worker keeps its priority
        pass


#: One thread computes the probes' probabilities (Silero's model is one per thread, see .vad).
_PROBES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="mediakit-coverage-vad")


class SpeechProbe:
    """Silero's probabilities of a whole finite feature source, computed in a worker thread while the seek
    loop decodes (Silero is much faster than the decoder, and the decoder leaves a core idle between its
    small matrix products), or given (``probs``: --vad computed them already)."""

    def __init__(self, source, probs: np.ndarray | None = None):
        rate = source.spec.sample_rate
        self.frame = VAD_FRAME / rate
        self.duration = source.n_samples / rate
        self.source = getattr(source, "source", None) or "input"
        n = -(-source.n_samples // VAD_FRAME)
        self._probs = np.zeros(n, dtype=np.float32) if probs is None else np.asarray(probs, dtype=np.float32)
        self._done = n if probs is not None else 0
        self._error: BaseException | None = None
        self._cancelled = False
        self._finished = probs is not None
        self._changed = threading.Condition()
        if probs is None:
            _PROBES.submit(self._run, source)

    def _run(self, source) -> None:
        try:
            _lower_priority()
            for index, p in enumerate(iter_speech_probabilities(source)):
                if self._cancelled:
                    return
                self._probs[index] = p
                if index % 64 == 63:
                    with self._changed:
                        self._done = index + 1
                        self._changed.notify_all()
            self._done = len(self._probs)
        except BaseException as err:  # raised in the decoding thread by wait()
            self._error = err
        finally:
            with self._changed:
                self._finished = True
                self._changed.notify_all()

    def wait(self, seconds: float) -> None:
        """Block until the probabilities up to ``seconds`` are known."""
        frames = min(len(self._probs), int(np.ceil(seconds / self.frame)))
        with self._changed:
            while self._done < frames and not self._finished:
                self._changed.wait(0.5)
        if self._error is not None:
            raise StageError(f"{self.source}: voice activity detection for the coverage pass failed: {self._error}") from self._error
        if self._done < frames:
            raise StageError(f"{self.source}: the coverage pass's voice activity detection was stopped")

    def map(self) -> SpeechMap:
        self.wait(self.duration)
        return SpeechMap(self._probs, self.frame, self.duration)

    def close(self) -> None:
        """Stop the worker (the decoding failed)."""
        self._cancelled = True


@dataclass(frozen=True, eq=False)
class _Claimed:
    """A window not aligned yet: its segments' spans stand for their words until a stretch without text
    comes near them (then it is encoded again and aligned: ``WordSpans.align_near``)."""

    seek: int
    segment_size: int
    drafts: tuple[Draft, ...]
    tokens: tuple[tuple[int, ...], ...]

    @property
    def start(self) -> float:
        return min(d.start for d in self.drafts)

    @property
    def end(self) -> float:
        return max(d.end for d in self.drafts)


class WordSpans:
    """Collects the time spans of the words of every window the seek loop keeps (``observe``).

    With ``defer``, a window whose segments account for their spans (``accounts``) is not aligned while
    decoding: its segments' spans count as covered, and it is aligned (encoded again) only if speech
    without text turns up beside it (``align_near``).
    """

    def __init__(self, job, defer: bool = False):
        self.job = job
        self.defer = defer
        self.spans: list[tuple[float, float]] = []
        self.claimed: list[_Claimed] = []
        self.segments: list[tuple[float, float]] = []  # the spans of every segment with text
        self.sparse: list[tuple[float, float]] = []  # ... and of those whose text does not account for them
        self.aligned = 0  # windows aligned (for the log and the tests)
        self.encoded_again = 0  # ... of which encoded again (their outputs were no longer kept)
        self._features: OrderedDict[int, torch.Tensor] = OrderedDict()  # seek -> a claimed window's encoder output
        self._segments: dict[int, tuple[float, float]] = {}  # id(draft) -> its words' first start, last end

    def observe(
        self, time_offset: float, segment_size: int, audio_features: torch.Tensor, current: Sequence[Draft], state=None
    ) -> None:
        """Called by the seek loop with a window's encoder output (n_audio_ctx, d), its kept segments and
        the decoder state of its prompt (its cross-attention keys and values are read again)."""
        drafts = [d for d in current if d.text.strip()]
        if not drafts:
            return
        if all(d.words is not None for d in drafts):
            for draft in drafts:
                self._add(draft, [(w["start"], w["end"]) for w in draft.words])
            return
        eot = self.job.tokenizer.eot
        per_draft = [[t for t in d.tokens if t < eot] for d in drafts]
        if not any(per_draft):
            return
        self.segments.extend((d.start, d.end) for d in drafts)
        sparse = [(d.start, d.end) for d, tokens in zip(drafts, per_draft) if not accounts([d], [tokens])]
        self.sparse.extend(sparse)
        if self.defer and not sparse:
            seek = round(time_offset * self.job.frames_per_second)
            self.claim(seek, segment_size, drafts, per_draft)
            self._keep(seek, audio_features)
            return
        self.align(time_offset, segment_size, audio_features, drafts, per_draft, state)

    def claim(self, seek: int, segment_size: int, drafts: Sequence[Draft], per_draft) -> None:
        """Let one window's segments (``per_draft``: their text tokens) stand for their words, unaligned."""
        self.claimed.append(_Claimed(seek, segment_size, tuple(drafts), tuple(tuple(t) for t in per_draft)))
        for draft in drafts:
            self._segments[id(draft)] = (draft.start, draft.end)

    def align(self, time_offset, segment_size, audio_features, drafts, per_draft, state=None) -> None:
        """Align one window's segments (``per_draft``: their text tokens) and keep their words' spans."""
        self.aligned += 1
        text_tokens = [t for tokens in per_draft for t in tokens]
        alignment = word_spans(self.job.runtime, self.job.tokenizer, text_tokens, audio_features, segment_size, state)
        index = 0
        for draft, tokens in zip(drafts, per_draft):
            spans, taken = [], 0
            while index < len(alignment) and taken < len(tokens):
                word, count, start, end = alignment[index]
                if word.strip():
                    spans.append((time_offset + start, time_offset + end))
                taken += count
                index += 1
            self._segments.pop(id(draft), None)
            self._add(draft, spans)

    def outside_segments(self, speech: "SpeechMap", stretches: Sequence[Stretch]) -> list[Stretch]:
        """Speech (``stretches``) outside every segment's span padded by WORD_PAD, at least MIN_SPEECH long:
        where a segment's timestamps may have run over speech its words skipped."""
        return uncovered(speech, stretches, [(s - WORD_PAD, e + WORD_PAD, True) for s, e in self.segments], MIN_SPEECH)

    def align_near(self, source, stretches: Sequence[Stretch]) -> int:
        """Align the claimed windows within NEAR seconds of ``stretches`` (their audio encoded again);
        how many were."""
        near = [c for c in self.claimed if any(c.start < s.end + NEAR and c.end > s.start - NEAR for s in stretches)]
        fps = self.job.frames_per_second
        for claimed in near:
            self.claimed.remove(claimed)
            features = self._features.pop(claimed.seek, None)
            if features is None:
                self.encoded_again += 1
                features = self.job.encode_ranges(source, [(claimed.seek, claimed.segment_size)])[0]
            self.align(claimed.seek / fps, claimed.segment_size, features, list(claimed.drafts), [list(t) for t in claimed.tokens])
        return len(near)

    def _keep(self, seek: int, audio_features: torch.Tensor) -> None:
        """Keep a claimed window's encoder output (a copy: it may be a row of a batch), dropping the oldest
        beyond KEPT_FEATURES_BYTES."""
        size = audio_features.numel() * audio_features.element_size()
        if size > KEPT_FEATURES_BYTES:
            return
        while self._features and len(self._features) * size + size > KEPT_FEATURES_BYTES:
            self._features.popitem(last=False)  # a model's windows are all the same size
        self._features[seek] = audio_features.detach().clone()

    def _add(self, draft: Draft, spans: list[tuple[float, float]]) -> None:
        self.spans.extend(spans)
        if spans:  # a long first or last word stretches over speech without text: only its inner end counts
            (first_start, first_end), (last_start, last_end) = spans[0], spans[-1]
            start = max(first_start, first_end - LONGEST_WORD / 2)
            end = min(last_end, last_start + LONGEST_WORD / 2)
            self._segments[id(draft)] = (start, max(start, end))

    def words_of(self, draft: Draft) -> tuple[float, float] | None:
        """Where the words of a segment seen by ``observe`` start and end (seconds), if it has any."""
        return self._segments.get(id(draft))

    def covered(self) -> list[tuple[float, float, bool]]:
        """What the words and the claimed windows' segments cover, padded by WORD_PAD (see ``covered_spans``)."""
        claimed = [(d.start - WORD_PAD, d.end + WORD_PAD, True) for c in self.claimed for d in c.drafts]
        return sorted(covered_spans(self.spans) + claimed)


def accounts(drafts: Sequence[Draft], per_draft: Sequence[Sequence[int]]) -> bool:
    """Each segment's text accounts for its span: at least TOKEN_RATE text tokens a second beyond ALLOWANCE."""
    return all(len(tokens) >= TOKEN_RATE * (d.end - d.start - ALLOWANCE) for d, tokens in zip(drafts, per_draft))


def covered_spans(words: Sequence[tuple[float, float]]) -> list[tuple[float, float, bool]]:
    """What the words cover, padded by WORD_PAD, as (start, end, solid): a word longer than LONGEST_WORD
    covers only LONG_WORD_END seconds at each end, and those pieces are not solid (see ``uncovered``)."""
    pieces: list[tuple[float, float, bool]] = []
    for start, end in words:
        if end - start > LONGEST_WORD:
            pieces += [(start, start + LONG_WORD_END, False), (end - LONG_WORD_END, end, False)]
        else:  # a word squeezed to nothing is no sign of speech either
            pieces.append((start, end, end - start >= SHORTEST_WORD))
    return [(s - WORD_PAD, e + WORD_PAD, solid) for s, e, solid in sorted(pieces)]


def uncovered(
    speech: SpeechMap,
    stretches: Sequence[Stretch],
    covered: Sequence[tuple[float, float, bool]],
    min_length: float = MIN_UNCOVERED,
) -> list[Stretch]:
    """The parts of ``stretches`` outside every ``covered`` span, parts less than JOIN seconds apart
    with no solid word between them joined, at least ``min_length`` seconds long."""
    covered = sorted(covered)
    parts: list[tuple[float, float]] = []
    for stretch in stretches:
        position = stretch.start
        for start, end, _ in covered:
            if end <= position or start >= stretch.end:
                continue
            if start - position >= MIN_SPEECH:
                parts.append((position, start))
            position = max(position, end)
        if stretch.end - position >= MIN_SPEECH:
            parts.append((position, stretch.end))
    joined: list[tuple[float, float]] = []
    for start, end in parts:
        if joined and start - joined[-1][1] < JOIN and not any(s < start and e > joined[-1][1] and solid for s, e, solid in covered):
            joined[-1] = (joined[-1][0], end)
        else:
            joined.append((start, end))
    return [Stretch(s, e, speech.is_sure(s, e)) for s, e in joined if e - s >= min_length]


def within(speech: SpeechMap, stretches: Sequence[Stretch], ranges: Sequence[tuple[float, float]]) -> list[Stretch]:
    """``stretches`` cut to the seconds ranges ``ranges`` (what was asked to be decoded)."""
    out = []
    for stretch in stretches:
        for start, end in ranges:
            s, e = max(stretch.start, start), min(stretch.end, end)
            if e - s >= MIN_SPEECH:
                out.append(Stretch(s, e, speech.is_sure(s, e)))
    return out
