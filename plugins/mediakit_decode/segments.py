"""Turn one window's tokens into segments, and decide where the next window starts (openai-whisper's rules)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence


@dataclass
class Draft:
    """A segment while the seek loop still adjusts it (word timestamps may move its ends)."""

    seek: int
    start: float
    end: float
    tokens: list[int]
    text: str = ""
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: list[dict] | None = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def from_result(cls, seek: int, start: float, end: float, tokens: Sequence[int], tokenizer, result) -> "Draft":
        """A segment of a window's decoding ``result`` (a WindowResult) spanning ``start``..``end`` seconds."""
        return cls(
            seek=seek,
            start=start,
            end=end,
            tokens=list(tokens),
            text=tokenizer.decode([t for t in tokens if t < tokenizer.eot]),
            temperature=result.temperature,
            avg_logprob=result.avg_logprob,
            compression_ratio=result.compression_ratio,
            no_speech_prob=result.no_speech_prob,
        )


@dataclass(frozen=True)
class Split:
    spans: list[tuple[float, float, list[int]]]  # (start s, end s, tokens) per segment
    advance: int  # frames the seek moves forward
    single_timestamp_ending: bool  # the window ended with one timestamp: no speech after it


def split_window(
    tokens: Sequence[int],
    timestamp_begin: int,
    time_offset: float,
    segment_size: int,
    time_precision: float = 0.02,
    input_stride: int = 2,
) -> Split:
    """Cut at every pair of consecutive timestamps; without pairs the whole window is one segment.

    An unfinished last segment (text after the last pair, no closing timestamp) is dropped and the
    next window starts at the last timestamp; a single timestamp at the end consumes the window.
    """
    tokens = list(tokens)
    is_ts = [t >= timestamp_begin for t in tokens]
    single_ending = is_ts[-2:] == [False, True]
    cuts = [i + 1 for i in range(len(tokens) - 1) if is_ts[i] and is_ts[i + 1]]
    spans: list[tuple[float, float, list[int]]] = []
    if cuts:
        if single_ending:
            cuts.append(len(tokens))
        last = 0
        for cut in cuts:
            piece = tokens[last:cut]
            start = time_offset + (piece[0] - timestamp_begin) * time_precision
            end = time_offset + (piece[-1] - timestamp_begin) * time_precision
            spans.append((start, end, piece))
            last = cut
        if single_ending:
            advance = segment_size
        else:
            advance = (tokens[last - 1] - timestamp_begin) * input_stride
    else:
        duration = segment_size * time_precision / input_stride
        stamps = [t for t in tokens if t >= timestamp_begin]
        if stamps and stamps[-1] != timestamp_begin:
            duration = (stamps[-1] - timestamp_begin) * time_precision
        spans.append((time_offset, time_offset + duration, tokens))
        advance = segment_size
    return Split(spans, advance, single_ending)
