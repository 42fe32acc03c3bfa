"""A job's options: the fields of ``mediakit transcribe``, checked when the job is submitted and
kept as strings in the store, so a job restarted after a crash decodes exactly as first asked."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ...config import DecodeOptions, DemuxOptions, WriterOptions, temperature_ladder
from ..errors import bad_request
from ..forms import EXTRA_FIELDS, _float, list_values

#: The fields a job takes besides the files: mediakit's names (``initial_prompt``), OpenAI's
#: (``prompt``) where they differ, and every extra field of the OpenAI routes.
OWN_FIELDS = ("model", "language", "task", "initial_prompt", "prompt", "temperature", "output_format")
FILE_FIELDS = ("file", "path")
DEFAULT_FORMATS = ("txt", "vtt", "srt", "tsv", "json")


@dataclass(frozen=True)
class JobOptions:
    """What one job's files are decoded and written with."""

    model: str | None
    decode: DecodeOptions
    demux: DemuxOptions
    writer: WriterOptions
    decoder: str


def collect_fields(fields: list[tuple[str, str]]) -> tuple[dict[str, str], list[str]]:
    """The option fields of a request (one value each; ``[]`` suffixes dropped) and the output formats."""
    options: dict[str, str] = {}
    formats: list[str] = []
    for raw, value in fields:
        name = raw.split("[", 1)[0]
        if name in FILE_FIELDS:
            continue
        if name == "output_format" or name == "response_format":
            formats.extend(list_values([value]))
            continue
        if name not in OWN_FIELDS and name not in EXTRA_FIELDS:
            known = ", ".join(OWN_FIELDS + tuple(EXTRA_FIELDS))
            raise bad_request(f"unknown field {name!r} for a job; known: file, path, {known}", param=name,
                              code="unknown_parameter")
        if value.strip() == "":
            continue  # an empty form field (the page's "detect" choice) is the default
        if name in options and options[name] != value:
            raise bad_request(f"{name} given twice with different values", param=name)
        options[name] = value
    if "prompt" in options:
        options.setdefault("initial_prompt", options.pop("prompt"))
    return options, formats


def build(options: dict[str, str], default_vad: bool | None = None) -> JobOptions:
    """Typed options from the stored strings; a bad value is a 400 naming its field."""
    decode: dict[str, Any] = {"vad": default_vad}
    task = options.get("task", "transcribe").strip()
    if task not in ("transcribe", "translate"):
        raise bad_request(f"task: {task!r} is not transcribe or translate", param="task", code="invalid_value")
    decode["task"] = task
    if options.get("language", "").strip() not in ("", "auto", "detect"):
        decode["language"] = options["language"].strip()
    if options.get("initial_prompt"):
        decode["initial_prompt"] = options["initial_prompt"]
    temperature = _float("temperature", options["temperature"]) if "temperature" in options else 0.0
    increment: float | None = 0.2
    demux: dict[str, Any] = {}
    writer: dict[str, Any] = {}
    decoder = "whisper"
    for name, (parse, section) in EXTRA_FIELDS.items():
        if name not in options:
            continue
        value = parse(name, options[name])
        if section == "decode":
            decode[name] = value
        elif section == "ladder":
            increment = value
        elif section == "demux":
            demux[name] = value
        elif section == "writer":
            writer[name] = value
        else:
            decoder = value
    decode["temperature"] = temperature_ladder(temperature, increment)
    if any(writer.get(k) for k in ("max_line_width", "max_line_count", "max_words_per_line", "highlight_words")):
        if not decode.get("word_timestamps"):
            raise bad_request("max_line_width, max_line_count, max_words_per_line and highlight_words need "
                              "word_timestamps=true", param="word_timestamps", code="invalid_value")
    try:
        return JobOptions(
            model=(options.get("model") or "").strip() or None,
            decode=replace(DecodeOptions(), **decode),
            demux=DemuxOptions(**demux),
            writer=WriterOptions(**writer),
            decoder=decoder,
        )
    except (TypeError, ValueError) as err:
        raise bad_request(f"invalid options: {err}", code="invalid_value") from None


__all__ = ["JobOptions", "collect_fields", "build", "DEFAULT_FORMATS"]
