"""The form fields of a transcription or translation request, checked and turned into options.

OpenAI's fields come first (``file``, ``model``, ``language``, ``prompt``, ``response_format``,
``temperature``, ``timestamp_granularities[]``, ``stream``, ``chunking_strategy``, ``include[]``);
mediakit's own decoding and layout options are extra fields (:data:`EXTRA_FIELDS`). Array fields are
accepted in every spelling clients use: ``key[]``, ``key``, repeated, comma-separated, a JSON string.
A field nobody knows is a 400 that names it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any, Callable

from ..config import DecodeOptions, DemuxOptions, WriterOptions, temperature_ladder
from .errors import bad_request
from .uploads import UploadedForm

#: OpenAI's response formats; every writer plugin's name is one too.
OPENAI_FORMATS = ("json", "text", "srt", "vtt", "verbose_json")
GRANULARITIES = ("word", "segment")

TRANSCRIPTION_FIELDS = ("model", "language", "prompt", "response_format", "temperature",
                        "timestamp_granularities", "stream", "chunking_strategy", "include")
TRANSLATION_FIELDS = ("model", "prompt", "response_format", "temperature", "language")


def _bool(name: str, value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in ("true", "1", "yes", "on"):
        return True
    if lowered in ("false", "0", "no", "off"):
        return False
    raise bad_request(f"{name}: expected true or false, got {value!r}", param=name, code="invalid_value")


def _int(name: str, value: str) -> int:
    try:
        return int(value.strip())
    except ValueError:
        raise bad_request(f"{name}: expected an integer, got {value!r}", param=name, code="invalid_value") from None


def _float(name: str, value: str) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise bad_request(f"{name}: expected a number, got {value!r}", param=name, code="invalid_value") from None
    if number != number or number in (float("inf"), float("-inf")):
        raise bad_request(f"{name}: expected a finite number, got {value!r}", param=name, code="invalid_value")
    return number


def _optional_float(name: str, value: str) -> float | None:
    return None if value.strip().lower() in ("none", "null", "") else _float(name, value)


def _text(name: str, value: str) -> str:
    return value


#: mediakit's extra fields: name -> (parser, section). Sections: decode, demux, writer, decoder.
EXTRA_FIELDS: dict[str, tuple[Callable[[str, str], Any], str]] = {
    "vad": (_bool, "decode"),
    "beam_size": (_int, "decode"),
    "best_of": (_int, "decode"),
    "patience": (_optional_float, "decode"),
    "length_penalty": (_optional_float, "decode"),
    "hotwords": (_text, "decode"),
    "repetition_penalty": (_float, "decode"),
    "no_repeat_ngram_size": (_int, "decode"),
    "word_timestamps": (_bool, "decode"),
    "zh_script": (_text, "decode"),
    "batch_size": (_int, "decode"),
    "condition_on_previous_text": (_bool, "decode"),
    "carry_initial_prompt": (_bool, "decode"),
    "compression_ratio_threshold": (_optional_float, "decode"),
    "logprob_threshold": (_optional_float, "decode"),
    "no_speech_threshold": (_optional_float, "decode"),
    "hallucination_silence_threshold": (_optional_float, "decode"),
    "clip_timestamps": (_text, "decode"),
    "language_detection_segments": (_int, "decode"),
    "suppress_tokens": (_text, "decode"),
    "suppress_blank": (_bool, "decode"),
    "without_timestamps": (_bool, "decode"),
    "repetition_guard": (_bool, "decode"),
    "repair": (_bool, "decode"),
    "prepend_punctuations": (_text, "decode"),
    "append_punctuations": (_text, "decode"),
    "temperature_increment_on_fallback": (_optional_float, "ladder"),
    "audio_stream": (_int, "demux"),
    "max_line_width": (_int, "writer"),
    "max_line_count": (_int, "writer"),
    "max_words_per_line": (_int, "writer"),
    "highlight_words": (_bool, "writer"),
    "decoder": (_text, "decoder"),
}


@dataclass(frozen=True)
class AudioRequest:
    """A transcription or translation request, checked."""

    task: str  # transcribe or translate
    model: str | None  # as the client named it (None: the default model)
    response_format: str
    granularities: tuple[str, ...]
    stream: bool
    decode: DecodeOptions
    demux: DemuxOptions = field(default_factory=DemuxOptions)
    writer: WriterOptions = field(default_factory=WriterOptions)
    decoder: str = "whisper"

    @property
    def words(self) -> bool:
        return self.response_format == "verbose_json" and "word" in self.granularities

    @property
    def segments(self) -> bool:
        return not self.granularities or "segment" in self.granularities


def base_name(name: str) -> str:
    """``timestamp_granularities[]`` and ``chunking_strategy[type]`` -> their field's name."""
    return name.split("[", 1)[0]


def list_values(values: list[str]) -> list[str]:
    """Every spelling of an array field flattened: repeated, comma-separated, or a JSON array string."""
    out: list[str] = []
    for value in values:
        value = value.strip()
        if value.startswith("["):
            try:
                parsed = json.loads(value)
            except ValueError:
                parsed = None
            if isinstance(parsed, list):
                out.extend(str(v).strip() for v in parsed)
                continue
        out.extend(part.strip() for part in value.split(",") if part.strip())
    return out


def parse_request(
    form: UploadedForm, task: str, formats: tuple[str, ...], default_vad: bool | None = None, default_batch_size: int = 0
) -> AudioRequest:
    """Check the fields of ``form`` for ``task`` (transcribe or translate); 400 names a bad field.
    ``default_vad`` and ``default_batch_size`` are the server's defaults for the ``vad`` and ``batch_size`` fields."""
    known = TRANSCRIPTION_FIELDS if task == "transcribe" else TRANSLATION_FIELDS
    grouped: dict[str, list[str]] = {}
    for name, value in form.fields:
        grouped.setdefault(base_name(name), []).append(value)
    unknown = [n for n in grouped if n not in known and n not in EXTRA_FIELDS]
    if unknown:
        route = "transcriptions" if task == "transcribe" else "translations"
        raise bad_request(
            f"unknown field {unknown[0]!r} for /v1/audio/{route}; known: {', '.join(known)}, and mediakit's "
            f"{', '.join(EXTRA_FIELDS)}",
            param=unknown[0], code="unknown_parameter",
        )  # fmt: skip
    if form.path is None:
        raise bad_request("no file: send the audio as the multipart field 'file'", param="file", code="missing_file")

    def one(name: str) -> str | None:
        values = grouped.get(name)
        if not values:
            return None
        if len(values) > 1 and len(set(values)) > 1:
            raise bad_request(f"{name} given {len(values)} times with different values", param=name)
        return values[-1]

    response_format = (one("response_format") or "json").strip()
    if response_format not in OPENAI_FORMATS and response_format not in formats:
        available = list(OPENAI_FORMATS) + [f for f in formats if f not in OPENAI_FORMATS]
        raise bad_request(
            f"response_format {response_format!r} is not one of {', '.join(available)}",
            param="response_format", code="invalid_value",
        )  # fmt: skip
    granularities = tuple(dict.fromkeys(list_values(grouped.get("timestamp_granularities", []))))
    for value in granularities:
        if value not in GRANULARITIES:
            raise bad_request(
                f"timestamp_granularities: {value!r} is not word or segment", param="timestamp_granularities",
                code="invalid_value",
            )  # fmt: skip
    stream = _bool("stream", one("stream") or "false")
    if stream and response_format not in ("json", "text"):
        raise bad_request(
            f"stream=true sends transcript.text events; use response_format json or text, not {response_format!r}",
            param="stream", code="invalid_value",
        )  # fmt: skip

    decode: dict[str, Any] = {"task": task, "vad": default_vad, "batch_size": max(0, default_batch_size)}
    language = one("language")
    if language and language.strip():
        decode["language"] = language.strip()
    prompt = one("prompt")
    if prompt and prompt.strip():
        decode["initial_prompt"] = prompt
        decode["batch_size"] = 0  # batched mode has no prompt: the server's default gives way (a batch_size field does not)
    temperature = 0.0
    if one("temperature") is not None:
        temperature = _float("temperature", one("temperature") or "")
        if not 0.0 <= temperature <= 1.0:
            raise bad_request(f"temperature must be between 0 and 1, got {temperature}", param="temperature",
                              code="invalid_value")
    if grouped.get("chunking_strategy"):
        decode["vad"] = True  # OpenAI's "auto" and server_vad both cut the audio where nobody speaks
    increment: float | None = 0.2
    demux: dict[str, Any] = {}
    writer: dict[str, Any] = {}
    decoder = "whisper"
    for name, (parse, section) in EXTRA_FIELDS.items():
        value = one(name)
        if value is None:
            continue
        parsed = parse(name, value)
        if section == "decode":
            decode[name] = parsed
        elif section == "ladder":
            increment = parsed
        elif section == "demux":
            demux[name] = parsed
        elif section == "writer":
            writer[name] = parsed
        else:
            decoder = parsed
    decode["temperature"] = temperature_ladder(temperature, increment)
    if response_format == "verbose_json" and "word" in granularities:
        decode["word_timestamps"] = True
    if stream:
        decode["verbose"] = True  # the decoder reports each segment as it is decoded
    if any(writer.get(k) for k in ("max_line_width", "max_line_count", "max_words_per_line", "highlight_words")):
        if not decode.get("word_timestamps"):
            raise bad_request("max_line_width, max_line_count, max_words_per_line and highlight_words need "
                              "word_timestamps=true", param="word_timestamps", code="invalid_value")
    return AudioRequest(
        task=task,
        model=(one("model") or "").strip() or None,
        response_format=response_format,
        granularities=granularities,
        stream=stream,
        decode=replace(DecodeOptions(), **decode),
        demux=DemuxOptions(**demux),
        writer=WriterOptions(**writer),
        decoder=decoder,
    )
