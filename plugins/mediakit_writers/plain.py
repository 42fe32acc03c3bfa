"""Plain text, tab-separated and JSON writers."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Sequence, TextIO

from mediakit.config import WriterOptions
from mediakit.records import Segment, Transcript

from .text import one_line, tsv_field
from .timestamps import milliseconds


@dataclass(frozen=True)
class TxtWriter:
    """One line per segment: its text, stripped."""

    options: WriterOptions = field(default_factory=WriterOptions)
    extension: ClassVar[str] = "txt"

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        self.open_stream(stream).add(transcript.segments)

    def open_stream(self, stream: TextIO) -> "_PerSegment":
        """A file that grows one line per segment (live input)."""
        return _PerSegment(stream, lambda segment: one_line(segment.text))


@dataclass(frozen=True)
class _PerSegment:
    """A text stream that grows one line per segment, as ``line`` writes it (without its newline)."""

    stream: TextIO
    line: Callable[[Segment], str]

    def add(self, segments: Sequence[Segment]) -> None:
        for segment in segments:
            self.stream.write(self.line(segment) + "\n")


@dataclass(frozen=True)
class TsvWriter:
    """A ``start<TAB>end<TAB>text`` header, then one row per segment with times in whole milliseconds."""

    options: WriterOptions = field(default_factory=WriterOptions)
    extension: ClassVar[str] = "tsv"

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        self.open_stream(stream).add(transcript.segments)

    def open_stream(self, stream: TextIO) -> "_PerSegment":
        """A file that grows one row per segment (live input): the header now, then the rows."""
        stream.write("start\tend\ttext\n")
        return _PerSegment(stream, lambda s: f"{milliseconds(s.start)}\t{milliseconds(s.end)}\t{tsv_field(s.text)}")


@dataclass(frozen=True)
class JsonWriter:
    """``Transcript.to_dict()`` (text, segments with every field and their words, language).

    Written as openai-whisper's ``json.dump(result, file)``: one line, non-ASCII characters escaped
    as ``\\uXXXX`` (every JSON reader decodes them; the file stays plain ASCII), no final newline.
    """

    options: WriterOptions = field(default_factory=WriterOptions)
    extension: ClassVar[str] = "json"

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        json.dump(transcript.to_dict(), stream, default=_plain_number)


def _plain_number(value: Any) -> Any:
    """numpy scalars and arrays (a decoder may leave some in a record) as Python numbers and lists."""
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
