"""SRT and WebVTT writers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Sequence, TextIO

from mediakit.config import WriterOptions
from mediakit.records import Segment, Transcript

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

    def open_stream(self, stream: TextIO) -> "_SrtCues":
        """A file that grows one cue at a time (live input); numbering goes on across calls."""
        return _SrtCues(self, stream)


class _SrtCues:
    def __init__(self, writer: SrtWriter, stream: TextIO):
        self.writer, self.stream, self.number = writer, stream, 0

    def add(self, segments: Sequence[Segment]) -> None:
        for cue in subtitle_cues(_partial(segments), self.writer.options):
            self.number += 1
            start = format_timestamp(cue.start, always_include_hours=True, decimal_marker=",")
            end = format_timestamp(cue.end, always_include_hours=True, decimal_marker=",")
            self.stream.write(f"{self.number}\n{start} --> {end}\n{cue.text}\n\n")


def _partial(segments: Sequence[Segment]) -> Transcript:
    """Segments decoded so far, as a transcript the layout can read (cues never span two calls)."""
    return Transcript(text="", segments=tuple(segments), language="")


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

    def open_stream(self, stream: TextIO) -> "_VttCues":
        """A file that grows one cue at a time (live input): the header now, then the cues."""
        stream.write("WEBVTT\n\n")
        return _VttCues(self, stream)


class _VttCues:
    def __init__(self, writer: VttWriter, stream: TextIO):
        self.writer, self.stream = writer, stream

    def add(self, segments: Sequence[Segment]) -> None:
        for cue in subtitle_cues(_partial(segments), self.writer.options):
            self.stream.write(f"{format_timestamp(cue.start)} --> {format_timestamp(cue.end)}\n{cue.text}\n\n")
