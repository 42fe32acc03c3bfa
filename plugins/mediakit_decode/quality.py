"""Quality checks of a decoded window: compression ratio and repetition loops."""

from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Sequence

import numpy as np

#: A token n-gram repeated back to back at least this many times ...
LOOP_MIN_REPEATS = 4
#: ... and covering at least this many tokens is a repetition loop.
LOOP_MIN_TOKENS = 16
#: Longest n-gram considered (tokens).
LOOP_MAX_PERIOD = 40


def compression_ratio(text: str) -> float:
    """gzip (zlib) compression ratio of the UTF-8 text; repetitive text compresses well (> 2.4)."""
    data = text.encode("utf-8")
    if not data:
        return 0.0
    return len(data) / len(zlib.compress(data))


@dataclass(frozen=True)
class Loop:
    start: int  # index of the first token of the first copy
    period: int  # n-gram length in tokens
    repeats: int  # back-to-back copies


def find_loop(
    tokens: Sequence[int],
    min_repeats: int = LOOP_MIN_REPEATS,
    min_tokens: int = LOOP_MIN_TOKENS,
    max_period: int = LOOP_MAX_PERIOD,
) -> Loop | None:
    """The earliest n-gram repeated back to back ``min_repeats`` times over ``min_tokens`` tokens, or None."""
    x = np.asarray(tokens, dtype=np.int64)
    n = len(x)
    best: Loop | None = None
    for period in range(1, min(max_period, n // 2) + 1):
        repeats_needed = max(min_repeats, -(-min_tokens // period))
        run_needed = (repeats_needed - 1) * period  # equal pairs x[i] == x[i + period] in a row
        if run_needed + period > n:
            break
        equal = x[period:] == x[:-period]  # (n - period,)
        # length of the run of equal pairs starting at each position
        padded = np.concatenate(([False], equal, [False]))
        edges = np.flatnonzero(padded[1:] != padded[:-1])
        starts, ends = edges[::2], edges[1::2]
        long = np.flatnonzero(ends - starts >= run_needed)
        if len(long):
            start = int(starts[long[0]])
            repeats = (int(ends[long[0]] - starts[long[0]]) // period) + 1
            if best is None or start < best.start:
                best = Loop(start, period, repeats)
    return best


def is_repeated_segment(text: str, previous: Sequence[str], times: int = 3) -> bool:
    """True when ``text`` would be the ``times``-th identical segment text in a row."""
    key = normalise_segment(text)
    if not key or len(previous) < times - 1:
        return False
    return all(normalise_segment(p) == key for p in previous[-(times - 1) :])


def normalise_segment(text: str) -> str:
    return " ".join("".join(c for c in text.lower() if c.isalnum() or c.isspace()).split())


#: Peak level below which a window holds no speech at all: -60 dBFS, far under any recorded voice.
SILENCE_PEAK = 10 ** (-60 / 20)


def is_silent(samples: np.ndarray) -> bool:
    """True when ``samples`` (float32 in [-1, 1]) never rise above -60 dBFS: digital or near-digital silence.

    Whisper writes "you" or "Thank you." over such windows (its no-speech probability is high but the
    text's log-probability is too, so openai-whisper keeps it); nothing can be said in them, so they
    are skipped before the encoder runs.
    """
    return samples.size == 0 or float(np.max(np.abs(samples))) < SILENCE_PEAK
