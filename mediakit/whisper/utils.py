"""openai-whisper's ``whisper.utils``: small helpers and the result writers, on mediakit's writer plugins.

``get_writer(output_format, output_dir)`` returns ``writer(result, audio_path, options=None, **kwargs)``,
which writes ``<output_dir>/<audio basename>.<ext>``; any installed writer plugin's name works, and
``"all"`` writes openai-whisper's five formats.
"""

from __future__ import annotations

import os
import sys
import zlib
from typing import Any, Callable, Optional, TextIO

from mediakit.config import WriterOptions
from mediakit.records import Transcript

system_encoding = sys.getdefaultencoding()

if system_encoding != "utf-8":

    def make_safe(string: str) -> str:
        """Replace what the console's encoding cannot show with ``?``."""
        return string.encode(system_encoding, errors="replace").decode(system_encoding)

else:

    def make_safe(string: str) -> str:
        """UTF-8 shows everything: the string unchanged."""
        return string


def exact_div(x: int, y: int) -> int:
    if x % y != 0:
        raise AssertionError(f"{x} is not divisible by {y}")
    return x // y


def str2bool(string: str) -> bool:
    choices = {"True": True, "False": False}
    if string in choices:
        return choices[string]
    raise ValueError(f"Expected one of {set(choices.keys())}, got {string}")


def optional_int(string: str) -> Optional[int]:
    return None if string == "None" else int(string)


def optional_float(string: str) -> Optional[float]:
    return None if string == "None" else float(string)


def compression_ratio(text: str) -> float:
    """Length of the UTF-8 text over its zlib-compressed length (repetitive text scores high)."""
    data = text.encode("utf-8")
    return len(data) / len(zlib.compress(data))


def format_timestamp(seconds: float, always_include_hours: bool = False, decimal_marker: str = ".") -> str:
    """``[HH:]MM:SS.mmm``; the hours appear when asked for or when not zero."""
    if seconds < 0:
        raise AssertionError("non-negative timestamp expected")
    milliseconds = round(seconds * 1000.0)
    hours, milliseconds = divmod(milliseconds, 3_600_000)
    minutes, milliseconds = divmod(milliseconds, 60_000)
    secs, milliseconds = divmod(milliseconds, 1_000)
    hours_marker = f"{hours:02d}:" if always_include_hours or hours > 0 else ""
    return f"{hours_marker}{minutes:02d}:{secs:02d}{decimal_marker}{milliseconds:03d}"


def get_start(segments: list[dict]) -> Optional[float]:
    """Start of the first word, else of the first segment; None without segments."""
    return next((w["start"] for s in segments for w in s.get("words") or []), segments[0]["start"] if segments else None)


def get_end(segments: list[dict]) -> Optional[float]:
    """End of the last word, else of the last segment; None without segments."""
    return next(
        (w["end"] for s in reversed(segments) for w in reversed(s.get("words") or [])),
        segments[-1]["end"] if segments else None,
    )


_LAYOUT_KEYS = ("max_line_width", "max_line_count", "highlight_words", "max_words_per_line")


def _writer_options(options: Optional[dict], kwargs: dict[str, Any]) -> WriterOptions:
    """openai-whisper's rule: a keyword given wins, else the options dict's value."""
    options = options or {}
    unknown = set(kwargs) - set(_LAYOUT_KEYS)
    if unknown:
        raise TypeError(f"write_result() got an unexpected keyword argument {sorted(unknown)[0]!r}")
    values = {key: kwargs.get(key) or options.get(key) for key in _LAYOUT_KEYS}
    values["highlight_words"] = bool(values["highlight_words"])
    return WriterOptions(**values)


def _transcript(result: dict | Transcript) -> Transcript:
    return result if isinstance(result, Transcript) else Transcript.from_dict(result)


class ResultWriter:
    """Writes a transcribe() result next to ``output_dir`` as ``<audio basename>.<extension>``.

    Subclasses name a mediakit writer plugin in ``format`` (its extension is the plugin's).
    """

    extension: str
    format: str

    def __init__(self, output_dir: str):
        self.output_dir = output_dir

    def __call__(self, result: dict, audio_path: str, options: Optional[dict] = None, **kwargs: Any) -> None:
        audio_basename = os.path.basename(audio_path)
        audio_basename = os.path.splitext(audio_basename)[0]
        output_path = os.path.join(self.output_dir, audio_basename + "." + self.extension)
        with open(output_path, "w", encoding="utf-8") as f:
            self.write_result(result, file=f, options=options, **kwargs)

    def write_result(self, result: dict, file: TextIO, options: Optional[dict] = None, **kwargs: Any) -> None:
        from mediakit.pipeline import writer_registry

        from ._host import plugin_manager

        writer = writer_registry(plugin_manager()).get(self.format).factory(_writer_options(options, kwargs))
        writer.write(_transcript(result), file)


class WriteTXT(ResultWriter):
    extension: str = "txt"
    format = "txt"


class SubtitlesWriter(ResultWriter):
    """SRT and WebVTT: cues from segments, or laid out from words (max_line_width, max_line_count...)."""

    always_include_hours: bool
    decimal_marker: str

    def format_timestamp(self, seconds: float) -> str:
        return format_timestamp(seconds, always_include_hours=self.always_include_hours, decimal_marker=self.decimal_marker)


class WriteVTT(SubtitlesWriter):
    extension: str = "vtt"
    format = "vtt"
    always_include_hours: bool = False
    decimal_marker: str = "."


class WriteSRT(SubtitlesWriter):
    extension: str = "srt"
    format = "srt"
    always_include_hours: bool = True
    decimal_marker: str = ","


class WriteTSV(ResultWriter):
    """``start<TAB>end<TAB>text`` with times in integer milliseconds."""

    extension: str = "tsv"
    format = "tsv"


class WriteJSON(ResultWriter):
    extension: str = "json"
    format = "json"


_WRITERS = {"txt": WriteTXT, "vtt": WriteVTT, "srt": WriteSRT, "tsv": WriteTSV, "json": WriteJSON}


def _plugin_writer(name: str, output_dir: str) -> ResultWriter:
    """A ResultWriter for a writer plugin that openai-whisper does not have."""
    from mediakit.pipeline import writer_registry

    from ._host import plugin_manager

    entry = writer_registry(plugin_manager()).get(name)  # StageNotFoundError lists the names
    extension = entry.factory(WriterOptions()).extension
    cls = type(f"Write{name.upper()}", (ResultWriter,), {"extension": extension, "format": name})
    return cls(output_dir)


def get_writer(output_format: str, output_dir: str) -> Callable[[dict, str, Optional[dict]], None]:
    """The writer of ``output_format`` (txt, vtt, srt, tsv, json, all, or any writer plugin's name)."""
    if output_format == "all":
        all_writers = [writer(output_dir) for writer in _WRITERS.values()]

        def write_all(result: dict, file: str, options: Optional[dict] = None, **kwargs: Any) -> None:
            for writer in all_writers:
                writer(result, file, options, **kwargs)

        return write_all
    if output_format in _WRITERS:
        return _WRITERS[output_format](output_dir)
    return _plugin_writer(output_format, output_dir)
