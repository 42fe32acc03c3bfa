"""faster-whisper's ``transcribe`` keywords turned into mediakit's decode options.

A keyword whose faster-whisper meaning mediakit's decoder does not have is refused with a ValueError
that names it, when it is set to anything but its no-op default: a run never silently decodes other
than asked.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from mediakit.config import VadOptions as MediakitVad

from .records import TranscriptionOptions, VadOptions

#: faster-whisper keywords with no counterpart, and the value at which they do nothing.
_NO_OPS: dict[str, Any] = {
    "repetition_penalty": 1,
    "no_repeat_ngram_size": 0,
    "prefix": None,
    "hotwords": None,
    "multilingual": False,
    "max_new_tokens": None,
    "prompt_reset_on_temperature": 0.5,  # openai-whisper's rule, which mediakit's decoder follows
}


def refuse_unsupported(values: Mapping[str, Any]) -> None:
    for name, neutral in _NO_OPS.items():
        if name in values and values[name] != neutral:
            raise ValueError(
                f"{name}={values[name]!r} is not supported by mediakit's decoder (only {neutral!r}); "
                "leave it out, or see docs/faster-whisper.md for what mediakit offers instead"
            )


def temperatures(value: Union[float, Sequence[float]]) -> tuple[float, ...]:
    """faster-whisper's temperature: one number is that temperature alone (no fallback ladder)."""
    if isinstance(value, (int, float)):
        return (float(value),)
    ladder = tuple(float(t) for t in value)
    if not ladder:
        raise ValueError("temperature: give at least one temperature")
    return ladder


def suppress_tokens(value: Optional[Iterable[int]]) -> str:
    """A list of token ids (-1: the model's non-speech symbols) as mediakit's comma-separated string."""
    return ",".join(str(int(t)) for t in value or ())


def clip_timestamps(value: Union[str, Sequence[float], Sequence[Mapping[str, float]], None]) -> str:
    """``"0"``, ``"start,end,..."``, a list of seconds, or faster-whisper's batched form (dictionaries
    with ``start`` and ``end`` in seconds) as mediakit's string."""
    if value is None or value == "":
        return "0"
    if isinstance(value, str):
        return value
    points: list[float] = []
    for item in value:
        if isinstance(item, Mapping):
            points += [float(item["start"]), float(item["end"])]
        else:
            points.append(float(item))
    return ",".join(repr(p) for p in points) or "0"


def vad_options(value: Union[VadOptions, Mapping[str, Any], None]) -> tuple[VadOptions, MediakitVad]:
    """faster-whisper's VAD parameters (its defaults where not given) and mediakit's equivalent."""
    if value is None:
        options = VadOptions()
    elif isinstance(value, VadOptions):
        options = value
    elif isinstance(value, Mapping):
        known = {f.name for f in dataclasses.fields(VadOptions)}
        unknown = sorted(set(value) - known)
        if unknown:
            raise ValueError(f"vad_parameters: unknown {', '.join(unknown)}; known: {', '.join(sorted(known))}")
        options = VadOptions(**value)
    else:
        raise ValueError(f"vad_parameters must be a dict or a VadOptions, got {type(value).__name__}")
    if options.neg_threshold is not None:
        raise ValueError("vad_parameters: neg_threshold is not supported by mediakit's VAD (leave it None)")
    if options.max_speech_duration_s != float("inf"):
        raise ValueError("vad_parameters: max_speech_duration_s is not supported by mediakit's VAD (batched mode cuts at 30 s)")
    return options, MediakitVad(
        threshold=float(options.threshold),
        min_speech_duration_ms=int(options.min_speech_duration_ms),
        min_silence_duration_ms=int(options.min_silence_duration_ms),
        speech_pad_ms=int(options.speech_pad_ms),
    )


def record(values: Mapping[str, Any], ladder: tuple[float, ...]) -> TranscriptionOptions:
    """The TranscriptionOptions faster-whisper reports in TranscriptionInfo, from the call's keywords."""
    fields = {f.name for f in dataclasses.fields(TranscriptionOptions)}
    given = {name: values[name] for name in fields if name in values}
    given["temperatures"] = list(ladder)
    given["suppress_tokens"] = None if values["suppress_tokens"] is None else [int(t) for t in values["suppress_tokens"]]
    return TranscriptionOptions(**given)
