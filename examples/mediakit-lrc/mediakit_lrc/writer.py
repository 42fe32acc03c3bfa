"""LRC lyric files: ``[mm:ss.xx]text`` lines that music players show in time with the audio."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import ClassVar, TextIO

from mediakit.config import WriterOptions
from mediakit.records import Transcript

_LINE_BREAKS = re.compile(r"\s*[\r\n]+\s*")


def lrc_timestamp(seconds: float) -> str:
    """``mm:ss.xx`` in centiseconds (rounded); minutes go past 59 instead of adding hours.

    >>> lrc_timestamp(3725.504)
    '62:05.50'
    """
    minutes, centis = divmod(_centiseconds(seconds), 6000)
    secs, centis = divmod(centis, 100)
    return f"{minutes:02d}:{secs:02d}.{centis:02d}"


def _centiseconds(seconds: float) -> int:
    return max(0, round(seconds * 100))


@dataclass(frozen=True)
class LrcWriter:
    """One ``[mm:ss.xx]text`` line per segment, after optional ``[ti:...]`` and ``[la:...]`` tags.

    When a segment ends before the next one starts (or it is the last one), an empty
    ``[mm:ss.xx]`` line at its end clears the display during the silence.

    :param options: mediakit's writer options; LRC has no subtitle layout, so they are unused.
    :param title: written as ``[ti:...]`` when given (API use; the command line has no title).
    """

    options: WriterOptions = field(default_factory=WriterOptions)
    title: str | None = None
    extension: ClassVar[str] = "lrc"

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        if self.title:
            stream.write(f"[ti:{_tag_value(self.title)}]\n")
        if transcript.language:
            stream.write(f"[la:{_tag_value(transcript.language)}]\n")
        segments = transcript.segments
        for index, segment in enumerate(segments):
            text = _LINE_BREAKS.sub(" ", segment.text.strip())
            stream.write(f"[{lrc_timestamp(segment.start)}]{text}\n")
            following = segments[index + 1] if index + 1 < len(segments) else None
            if following is None or _centiseconds(following.start) > _centiseconds(segment.end):
                stream.write(f"[{lrc_timestamp(segment.end)}]\n")


def _tag_value(value: str) -> str:
    """A tag value on one line; square brackets become round ones so the tag cannot close early."""
    return _LINE_BREAKS.sub(" ", value.strip()).replace("[", "(").replace("]", ")")
