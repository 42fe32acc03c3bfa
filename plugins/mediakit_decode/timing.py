"""Word timestamps: align text tokens to audio frames with the alignment heads' cross-attention.

Steps (openai-whisper's method): attention weights of the alignment heads over the window's real
frames -> per-frame normalisation across tokens -> median filter -> mean over heads -> dynamic time
warping of tokens against frames -> word boundaries where the path jumps to the next token ->
punctuation merged into neighbouring words -> heuristics for over-long words at pauses.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch

from .segments import Draft

TOKENS_PER_SECOND = 50  # encoder positions per second (0.02 s each)
MEDIAN_FILTER_WIDTH = 7
SENTENCE_END_MARKS = ".。!！?？"


@dataclass
class WordTiming:
    word: str
    tokens: list[int]
    start: float
    end: float
    probability: float


#: Elements of the sliding windows a median filter holds at once (12 MB at most). One pass over all rows had
#: held a sorted window per element: 6 heads x 224 tokens x 1500 frames x 7 cost 170 MB, the peak of a long
#: recording's coverage pass.
MEDIAN_BLOCK = 1 << 20

#: A sorting network of 7 inputs (16 compare-exchanges; Knuth, TAOCP 5.3.4): the width of Whisper's filter.
_SORT_7 = ((0, 6), (2, 3), (4, 5), (0, 2), (1, 4), (3, 6), (0, 1), (2, 5), (3, 4), (1, 2), (4, 6), (2, 3), (4, 5), (1, 2), (3, 4), (5, 6))


def median_filter(x: torch.Tensor, width: int) -> torch.Tensor:
    """Median over a sliding window of odd ``width`` along the last axis, reflect-padded; rows a block at a time.

    Width 7 (Whisper's) goes through a sorting network of elementwise minima and maxima over the seven
    shifted copies (2 to 3 times faster than sorting each window); the median is the same value either
    way. A block holding NaN is sorted, where NaN counts as the largest value.
    """
    pad = width // 2
    if x.shape[-1] <= pad:
        return x
    shape, n = x.shape, x.shape[-1]
    rows = x.reshape(-1, 1, n)  # (rows, 1, n)
    out = torch.empty_like(rows)
    step = max(1, MEDIAN_BLOCK // (n * width))
    for first in range(0, rows.shape[0], step):
        y = torch.nn.functional.pad(rows[first : first + step], (pad, pad), mode="reflect")
        if width == 7 and not bool(torch.isnan(y).any()):
            v = [y[..., i : i + n] for i in range(width)]
            for a, b in _SORT_7:
                v[a], v[b] = torch.minimum(v[a], v[b]), torch.maximum(v[a], v[b])
            out[first : first + step] = v[pad]
        else:
            out[first : first + step] = y.unfold(-1, width, 1).sort(dim=-1).values[..., pad]  # (block, 1, n)
    return out.reshape(shape)


def dtw(cost: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Monotonic alignment path through ``cost`` (N tokens, M frames): (token indices, frame indices).

    Vectorised over anti-diagonals, sums in float32; ties break as openai-whisper's (diagonal, then up,
    then left). The accumulator is held skewed, anti-diagonal ``k = i + j`` as row ``k`` indexed by ``i``,
    so that a cell's three predecessors are slices of rows ``k - 2`` and ``k - 1``.
    """
    n, m = cost.shape
    acc = np.full((n + m + 1, n + 1), np.inf, dtype=np.float32)
    trace = np.full((n + m + 1, n + 1), 2, dtype=np.int8)  # 0 diagonal, 1 up, 2 left
    acc[0, 0] = 0
    tokens = np.arange(1, n + 1)[:, None]
    skewed = np.zeros((n + m + 1, n + 1), dtype=np.float32)
    skewed[tokens + np.arange(1, m + 1), tokens] = cost
    diagonal, up, both = (np.empty(n, dtype=bool) for _ in range(3))
    best = np.empty(n, dtype=np.float32)
    for k in range(2, n + m + 1):
        lo, hi = max(1, k - m), min(n, k - 1) + 1
        c0, c1, c2 = acc[k - 2, lo - 1 : hi - 1], acc[k - 1, lo - 1 : hi - 1], acc[k - 1, lo:hi]
        d, u, b, tmp = diagonal[: hi - lo], up[: hi - lo], best[: hi - lo], both[: hi - lo]
        np.less(c0, c1, out=d)
        d &= np.less(c0, c2, out=tmp)
        np.less(c1, c0, out=u)
        u &= np.less(c1, c2, out=tmp)
        b[:] = c2
        np.copyto(b, c1, where=u)
        np.copyto(b, c0, where=d)
        np.add(skewed[k, lo:hi], b, out=acc[k, lo:hi])
        t = trace[k, lo:hi]
        t -= u
        t -= d
        t -= d
    i = np.arange(n + 1)[:, None]
    return _backtrace(trace[i + np.arange(m + 1), i])  # back to (N + 1, M + 1)


def _backtrace(trace: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    i, j = trace.shape[0] - 1, trace.shape[1] - 1
    trace[0, :] = 2
    trace[:, 0] = 1
    path = []
    while i > 0 or j > 0:
        path.append((i - 1, j - 1))
        t = trace[i, j]
        if t == 0:
            i, j = i - 1, j - 1
        elif t == 1:
            i -= 1
        else:
            j -= 1
    result = np.array(path[::-1]).T
    return result[0], result[1]


def _alignment_input(tokenizer, text_tokens: list[int], audio_features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The tokens the alignment reads (1, T): start of transcript, no timestamps, the text, end of text;
    and the window's encoder output as a batch of one (1, ctx, d)."""
    tokens = [*tokenizer.sot_sequence, tokenizer.no_timestamps, *text_tokens, tokenizer.eot]
    x = torch.tensor([tokens], dtype=torch.long, device=audio_features.device)
    return x, audio_features[None] if audio_features.dim() == 2 else audio_features


def _alignment_path(runtime, tokenizer, x: torch.Tensor, features: torch.Tensor, num_frames: int, cross=None):
    """The DTW path (token indices, frame indices) of the text + eot of ``x`` (:func:`_alignment_input`)
    through one window's frames (``cross``: the window's decoder state, see the runtime's
    ``alignment_attention``)."""
    with torch.no_grad():
        # (H, T, frames): softmax over the window's real frames only
        if cross is None:
            weights = runtime.alignment_attention(x, features, audio_positions=num_frames // 2)
        else:
            weights = runtime.alignment_attention(x, features, audio_positions=num_frames // 2, cross=cross)
        weights = weights.float()
    std, mean = torch.std_mean(weights, dim=-2, keepdim=True, unbiased=False)
    weights = (weights - mean) / std
    weights = median_filter(weights, MEDIAN_FILTER_WIDTH)
    matrix = weights.mean(dim=0)[len(tokenizer.sot_sequence) : -1]  # (text tokens + 1, frames)
    return dtw(-matrix.cpu().double().numpy())


def _word_bounds(tokenizer, text_tokens: list[int], path: tuple[np.ndarray, np.ndarray]):
    """(words, their tokens, boundaries in tokens, start and end seconds), or None for no word."""
    text_indices, time_indices = path
    words, word_tokens = tokenizer.split_to_word_tokens(text_tokens + [tokenizer.eot])
    if len(word_tokens) <= 1:
        return None
    boundaries = np.pad(np.cumsum([len(t) for t in word_tokens[:-1]]), (1, 0))
    jumps = np.pad(np.diff(text_indices), (1, 0), constant_values=1).astype(bool)
    jump_times = time_indices[jumps] / TOKENS_PER_SECOND
    return words, word_tokens, boundaries, jump_times[boundaries[:-1]], jump_times[boundaries[1:]]


def find_alignment(
    runtime, tokenizer, text_tokens: list[int], audio_features: torch.Tensor, num_frames: int
) -> list[WordTiming]:
    """Word timings (seconds from the window start) of ``text_tokens`` in one window."""
    if not text_tokens:
        return []
    x, features = _alignment_input(tokenizer, text_tokens, audio_features)
    with torch.no_grad():
        logits = runtime.logits_full(x, features)[0].float()  # (T, n_vocab)
    sampled = logits[len(tokenizer.sot_sequence) :, : tokenizer.eot].softmax(dim=-1)
    token_probs = sampled[torch.arange(len(text_tokens)), torch.tensor(text_tokens)].tolist()
    bounds = _word_bounds(tokenizer, text_tokens, _alignment_path(runtime, tokenizer, x, features, num_frames))
    if bounds is None:
        return []
    words, word_tokens, boundaries, starts, ends = bounds
    probabilities = [float(np.mean(token_probs[i:j])) for i, j in zip(boundaries[:-1], boundaries[1:])]
    return [
        WordTiming(word, list(toks), float(s), float(e), p)
        for word, toks, s, e, p in zip(words, word_tokens, starts, ends, probabilities)
    ]


def word_spans(
    runtime, tokenizer, text_tokens: list[int], audio_features: torch.Tensor, num_frames: int, cross=None
) -> list[tuple[str, int, float, float]]:
    """(word, its token count, start, end seconds from the window start) of ``text_tokens`` in one window:
    :func:`find_alignment`'s words and times without their probabilities, for one decoder pass (the
    alignment heads' layers) instead of two, and no output projection over the vocabulary."""
    if not text_tokens:
        return []
    x, features = _alignment_input(tokenizer, text_tokens, audio_features)
    path = _alignment_path(runtime, tokenizer, x, features, num_frames, cross)
    bounds = _word_bounds(tokenizer, text_tokens, path)
    if bounds is None:
        return []
    words, word_tokens, _, starts, ends = bounds
    return [(word, len(toks), float(s), float(e)) for word, toks, s, e in zip(words, word_tokens, starts, ends)]


def merge_punctuations(alignment: list[WordTiming], prepended: str, appended: str) -> None:
    """Attach opening punctuation to the next word and closing punctuation to the previous one."""
    i, j = len(alignment) - 2, len(alignment) - 1
    while i >= 0:
        previous, following = alignment[i], alignment[j]
        if previous.word.startswith(" ") and previous.word.strip() in prepended:
            following.word = previous.word + following.word
            following.tokens = previous.tokens + following.tokens
            previous.word, previous.tokens = "", []
        else:
            j = i
        i -= 1
    i, j = 0, 1
    while j < len(alignment):
        previous, following = alignment[i], alignment[j]
        if not previous.word.endswith(" ") and following.word in appended:
            previous.word = previous.word + following.word
            previous.tokens = previous.tokens + following.tokens
            following.word, following.tokens = "", []
        else:
            i = j
        j += 1


def add_word_timestamps(
    segments: Sequence[Draft],
    runtime,
    tokenizer,
    audio_features: torch.Tensor,
    num_frames: int,
    prepend_punctuations: str,
    append_punctuations: str,
    last_speech_timestamp: float,
    time_offset: float,
) -> None:
    """Fill ``words`` of the segments of one window and tighten their ends to the words."""
    if not segments:
        return
    per_segment = [[t for t in s.tokens if t < tokenizer.eot] for s in segments]
    text_tokens = list(itertools.chain.from_iterable(per_segment))
    alignment = find_alignment(runtime, tokenizer, text_tokens, audio_features, num_frames)
    durations = np.array([t.end - t.start for t in alignment])
    durations = durations[durations.nonzero()]
    median_duration = min(0.7, float(np.median(durations))) if len(durations) else 0.0
    max_duration = median_duration * 2

    # words at sentence boundaries are at most twice the median word duration
    if len(durations):
        for i in range(1, len(alignment)):
            if alignment[i].end - alignment[i].start > max_duration:
                if alignment[i].word in SENTENCE_END_MARKS:
                    alignment[i].end = alignment[i].start + max_duration
                elif alignment[i - 1].word in SENTENCE_END_MARKS:
                    alignment[i].start = alignment[i].end - max_duration

    merge_punctuations(alignment, prepend_punctuations, append_punctuations)

    index = 0
    for segment, tokens in zip(segments, per_segment):
        saved = 0
        words: list[dict] = []
        while index < len(alignment) and saved < len(tokens):
            timing = alignment[index]
            if timing.word:
                words.append(
                    dict(
                        word=timing.word,
                        start=round(time_offset + timing.start, 2),
                        end=round(time_offset + timing.end, 2),
                        probability=timing.probability,
                    )
                )
            saved += len(timing.tokens)
            index += 1

        if words:
            # the first words after a pause are at most twice the median duration
            if words[0]["end"] - last_speech_timestamp > median_duration * 4 and (
                words[0]["end"] - words[0]["start"] > max_duration
                or (len(words) > 1 and words[1]["end"] - words[0]["start"] > max_duration * 2)
            ):
                if len(words) > 1 and words[1]["end"] - words[1]["start"] > max_duration:
                    boundary = max(words[1]["end"] / 2, words[1]["end"] - max_duration)
                    words[0]["end"] = words[1]["start"] = boundary
                words[0]["start"] = max(0, words[0]["end"] - max_duration)

            # prefer the segment's start when the first word is too long, else snap the segment to it
            if segment.start < words[0]["end"] and segment.start - 0.5 > words[0]["start"]:
                words[0]["start"] = max(0, min(words[0]["end"] - median_duration, segment.start))
            else:
                segment.start = words[0]["start"]

            if segment.end > words[-1]["start"] and segment.end + 0.5 < words[-1]["end"]:
                words[-1]["end"] = max(words[-1]["start"] + median_duration, segment.end)
            else:
                segment.end = words[-1]["end"]

            last_speech_timestamp = segment.end
        segment.words = words


def last_word_end(segments: Sequence[Draft]) -> float | None:
    """End of the last word, else the last segment's end, else None."""
    for segment in reversed(segments):
        for word in reversed(segment.words or []):
            return word["end"]
    return segments[-1].end if segments else None
