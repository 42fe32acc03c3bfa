"""SRT and WebVTT writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, TextIO

from mediakit.config import WriterOptions
from mediakit.records import Transcript

from .layout import check_layout, subtitle_cues
from .timestamps import format_timestamp


@dataclass(frozen=True)
class SrtWriter:
    """SubRip: cues numbered from 1, ``HH:MM:SS,mmm --> HH:MM:SS,mmm``, the text, a blank line."""

    options: WriterOptions = field(default_factory=WriterOptions)
    extension: ClassVar[str] = "srt"

    def __post_init__(self) -> None:
        check_layout(self.options)

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        for number, cue in enumerate(subtitle_cues(transcript, self.options), start=1):
            start = format_timestamp(cue.start, always_include_hours=True, decimal_marker=",")
            end = format_timestamp(cue.end, always_include_hours=True, decimal_marker=",")
            stream.write(f"{number}\n{start} --> {end}\n{cue.text}\n\n")


@dataclass(frozen=True)
class VttWriter:
    """WebVTT: a ``WEBVTT`` header, then cues ``MM:SS.mmm --> MM:SS.mmm`` (hours from one hour on)."""

    options: WriterOptions = field(default_factory=WriterOptions)
    extension: ClassVar[str] = "vtt"

    def __post_init__(self) -> None:
        check_layout(self.options)

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        stream.write("WEBVTT\n\n")
        for cue in subtitle_cues(transcript, self.options):
            stream.write(f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n{cue.text}\n\n")
