"""Subtitle layout: which words share a line and which lines share a cue.

The rules are openai-whisper's ``SubtitlesWriter``, so the same options give the same cues:

* Without word timestamps every segment is one cue with the segment's stripped text.
* With word timestamps a line takes words while their width (``len``, so a Chinese or Japanese
  character counts as one) stays within ``max_line_width``; a word that starts a line loses its
  leading space. Every segment starts a new cue unless both ``max_line_width`` and
  ``max_line_count`` are set: then a cue ends after ``max_line_count`` lines or before a word that
  starts more than 3 s after the previous word's start.
* ``max_words_per_line`` splits each segment into runs of that many words, each starting a new cue
  (it has no effect when both ``max_line_width`` and ``max_line_count`` are set).
* ``highlight_words`` repeats a cue once per word with that word wrapped in ``<u>...</u>``, and fills
  the gaps between words with the plain cue.

One addition to openai-whisper: a word wider than ``max_line_width`` that contains East Asian wide
characters (no spaces to break at) is cut into pieces of ``max_line_width`` characters, its time
shared out by character count, so no line is wider than asked. A Latin word that long still gets a
line of its own, as in openai-whisper.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Iterator, Sequence

from mediakit.config import WriterOptions
from mediakit.errors import ConfigError
from mediakit.records import Segment, Transcript, Word

from .text import cue_text
from .timestamps import milliseconds

LONG_PAUSE = 3.0  # seconds between word starts that end a cue when max_line_count is set
_UNLIMITED = 1000  # openai-whisper's stand-in for "no limit"
_LEADING_SPACE = re.compile(r"^(\s*)(.*)$")


@dataclass(frozen=True)
class Cue:
    """One subtitle: its time span in seconds and its text (lines joined with ``\\n``)."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class _Piece:
    """A word placed in a cue; ``text`` starts with ``\\n`` when the word starts a new line."""

    start: float
    end: float
    text: str


def check_layout(options: WriterOptions) -> None:
    """Raise :class:`ConfigError` for a layout limit below 1 (openai-whisper would silently misbehave)."""
    for name in ("max_line_width", "max_line_count", "max_words_per_line"):
        value = getattr(options, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name} must be at least 1, got {value}")


def subtitle_cues(transcript: Transcript, options: WriterOptions) -> Iterator[Cue]:
    """The cues of ``transcript`` laid out with ``options``; cue text is safe for SRT and VTT."""
    segments = transcript.segments
    if not segments or segments[0].words is None:
        for segment in segments:
            yield Cue(segment.start, segment.end, cue_text(segment.text.strip()))
        return
    for group in _group_words(segments, options):
        if options.highlight_words:
            yield from _highlighted(group)
        else:
            yield Cue(group[0].start, group[-1].end, cue_text("".join(p.text for p in group)))


def _group_words(segments: Sequence[Segment], options: WriterOptions) -> Iterator[list[_Piece]]:
    keep_segments = options.max_line_count is None or options.max_line_width is None
    max_width = options.max_line_width or _UNLIMITED
    words_per_run = options.max_words_per_line or _UNLIMITED
    max_lines = options.max_line_count

    cue: list[_Piece] = []
    line_width = 0
    line_count = 1
    previous_start = _first_word_start(segments) or 0.0
    for segment in segments:
        words = list(segment.words or ())
        if options.max_line_width:
            words = [piece for word in words for piece in _fit_wide_word(word, options.max_line_width)]
        for run_start in range(0, len(words), words_per_run):
            for position, word in enumerate(words[run_start : run_start + words_per_run]):
                text = word.word
                long_pause = not keep_segments and word.start - previous_start > LONG_PAUSE
                new_segment = keep_segments and position == 0 and bool(cue)
                if line_width > 0 and line_width + len(text) <= max_width and not long_pause and not new_segment:
                    line_width += len(text)
                else:
                    text = text.strip()
                    cue_full = max_lines is not None and (long_pause or line_count >= max_lines)
                    if (cue and cue_full) or new_segment:
                        yield cue
                        cue = []
                        line_count = 1
                    elif line_width > 0:
                        line_count += 1
                        text = "\n" + text
                    line_width = len(text.strip())
                cue.append(_Piece(word.start, word.end, text))
                previous_start = word.start
    if cue:
        yield cue


def _first_word_start(segments: Sequence[Segment]) -> float | None:
    for segment in segments:
        for word in segment.words or ():
            return word.start
    return segments[0].start if segments else None


def _highlighted(cue: list[_Piece]) -> Iterator[Cue]:
    plain = cue_text("".join(p.text for p in cue))
    shown_until = cue[0].start
    for index, piece in enumerate(cue):
        if milliseconds(shown_until) != milliseconds(piece.start):
            yield Cue(shown_until, piece.start, plain)
        parts = [_LEADING_SPACE.sub(r"\1<u>\2</u>", p.text) if i == index else p.text for i, p in enumerate(cue)]
        yield Cue(piece.start, piece.end, cue_text("".join(parts)))
        shown_until = piece.end


def _is_wide(char: str) -> bool:
    return unicodedata.east_asian_width(char) in ("W", "F")


def _fit_wide_word(word: Word, max_width: int) -> list[Word]:
    """Cut a word of East Asian characters wider than ``max_width`` into pieces that fit a line."""
    body = word.word.strip()
    if len(body) <= max_width or not any(_is_wide(c) for c in body):
        return [word]
    leading = word.word[: len(word.word) - len(word.word.lstrip())]
    chunks = [body[i : i + max_width] for i in range(0, len(body), max_width)]
    per_char = (word.end - word.start) / len(body)
    pieces = []
    offset = 0
    for i, chunk in enumerate(chunks):
        start = word.start + offset * per_char
        offset += len(chunk)
        end = word.end if i == len(chunks) - 1 else word.start + offset * per_char
        pieces.append(Word(start, end, (leading if i == 0 else "") + chunk, word.probability))
    return pieces
