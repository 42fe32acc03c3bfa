"""faster-whisper's ``transcribe`` keywords turned into mediakit's decode options.

A keyword whose faster-whisper meaning mediakit's decoder does not have is refused with a ValueError
that names it, when it is set to anything but its no-op default: a run never silently decodes other
than asked.
"""

from __future__ import annotations

import dataclasses
import inspect
from typing import Any, Iterable, Mapping, Optional, Sequence, Union

from mediakit.config import APPEND_PUNCTUATIONS, PREPEND_PUNCTUATIONS
from mediakit.config import VadOptions as MediakitVad

from .records import TranscriptionOptions, VadOptions

#: ``WhisperModel.transcribe``'s keywords after ``audio``, in faster-whisper 1.2.1's order, with its defaults.
DEFAULTS: dict[str, Any] = {
    "language": None,
    "task": "transcribe",
    "log_progress": False,
    "beam_size": 5,
    "best_of": 5,
    "patience": 1,
    "length_penalty": 1,
    "repetition_penalty": 1,
    "no_repeat_ngram_size": 0,
    "temperature": (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    "compression_ratio_threshold": 2.4,
    "log_prob_threshold": -1.0,
    "no_speech_threshold": 0.6,
    "condition_on_previous_text": True,
    "prompt_reset_on_temperature": 0.5,
    "initial_prompt": None,
    "prefix": None,
    "suppress_blank": True,
    "suppress_tokens": (-1,),
    "without_timestamps": False,
    "max_initial_timestamp": 1.0,
    "word_timestamps": False,
    "prepend_punctuations": PREPEND_PUNCTUATIONS,
    "append_punctuations": APPEND_PUNCTUATIONS,
    "multilingual": False,
    "vad_filter": False,
    "vad_parameters": None,
    "max_new_tokens": None,
    "chunk_length": None,
    "clip_timestamps": "0",
    "hallucination_silence_threshold": None,
    "hotwords": None,
    "language_detection_threshold": 0.5,
    "language_detection_segments": 1,
}

#: ``BatchedInferencePipeline.transcribe``'s: no timestamps and Silero on by default, clips as dictionaries,
#: and ``batch_size`` (before ``hotwords``, as there).
_BATCHED_CHANGES = {"without_timestamps": True, "vad_filter": True, "clip_timestamps": None}
BATCHED_DEFAULTS: dict[str, Any] = {}
for _name, _default in DEFAULTS.items():
    if _name == "hotwords":
        BATCHED_DEFAULTS["batch_size"] = 8
    BATCHED_DEFAULTS[_name] = _BATCHED_CHANGES.get(_name, _default)


def bind(defaults: Mapping[str, Any], args: Sequence[Any], keywords: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A call's values of faster-whisper's keywords (positional ones in ``defaults``' order, the rest
    defaulted), and the keywords that are not faster-whisper's (mediakit's own decode options)."""
    names = list(defaults)
    if len(args) > len(names):
        raise TypeError(f"transcribe() takes at most {len(names) + 1} positional arguments after self ({len(args) + 1} given)")
    values = dict(defaults)
    values.update(zip(names, args))
    twice = sorted(set(names[: len(args)]) & set(keywords))
    if twice:
        raise TypeError(f"transcribe() got multiple values for {', '.join(twice)}")
    values.update((name, value) for name, value in keywords.items() if name in defaults)
    return values, {name: value for name, value in keywords.items() if name not in defaults}


def signature(defaults: Mapping[str, Any]) -> inspect.Signature:
    """``(self, audio, <faster-whisper's keywords with their defaults>, **mediakit_options)``, for help() and IDEs."""
    plain = inspect.Parameter.POSITIONAL_OR_KEYWORD
    return inspect.Signature(
        [inspect.Parameter("self", plain), inspect.Parameter("audio", plain)]
        + [inspect.Parameter(name, plain, default=value) for name, value in defaults.items()]
        + [inspect.Parameter("mediakit_options", inspect.Parameter.VAR_KEYWORD)]
    )

#: faster-whisper keywords with no counterpart, and the value at which they do nothing.
_NO_OPS: dict[str, Any] = {
    "prefix": None,
    "multilingual": False,
    "max_new_tokens": None,  # not openai-whisper's sample_len: on jfk.flac, 6 gave faster-whisper 3 tokens
    "prompt_reset_on_temperature": 0.5,  # openai-whisper's rule, which mediakit's decoder follows
}


def _refuse_unsupported(values: Mapping[str, Any]) -> None:
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


#: faster-whisper keywords that are mediakit decode options of the same name and meaning.
_SAME_MEANING = (
    "language", "task", "beam_size", "best_of", "repetition_penalty", "no_repeat_ngram_size", "hotwords",
    "compression_ratio_threshold", "no_speech_threshold",
    "condition_on_previous_text", "suppress_blank", "without_timestamps", "max_initial_timestamp",
    "word_timestamps", "prepend_punctuations", "append_punctuations", "hallucination_silence_threshold",
    "language_detection_segments",
)  # fmt: skip


def decode_options(values: Mapping[str, Any], batch_size: int) -> tuple[dict[str, Any], Optional[VadOptions]]:
    """mediakit's decode options for a call's faster-whisper keywords (ValueError for one it cannot
    honour), and the VAD options to report (None without ``vad_filter``)."""
    _refuse_unsupported(values)
    if values["length_penalty"] != 1:
        raise ValueError(
            f"length_penalty={values['length_penalty']!r}: faster-whisper's penalty (score / length^p) has no "
            "counterpart here; mediakit's length_penalty is openai-whisper's (mediakit.transcribe(..., length_penalty=))"
        )
    if values["chunk_length"] not in (None, 30):
        raise ValueError(f"chunk_length={values['chunk_length']!r}: Whisper's windows are 30 s here")
    prompt = values["initial_prompt"]
    if prompt is not None and not isinstance(prompt, str):
        raise ValueError("initial_prompt: give the prompt as text (token ids are not accepted)")
    if prompt is not None and batch_size > 0:
        raise ValueError(
            "initial_prompt is not supported by the batched pipeline here (mediakit's batched mode decodes every "
            "window without previous text); use WhisperModel.transcribe, or hotwords= for words every window should see"
        )
    reported, vad = vad_options(values["vad_parameters"]) if values["vad_filter"] else (None, None)
    decode = {name: values[name] for name in _SAME_MEANING}
    decode.update(
        temperature=temperatures(values["temperature"]),
        logprob_threshold=values["log_prob_threshold"],
        initial_prompt=prompt,
        suppress_tokens=suppress_tokens(values["suppress_tokens"]),
        clip_timestamps=clip_timestamps(values["clip_timestamps"]),
        vad=bool(values["vad_filter"]),
        vad_options=vad,
        batch_size=batch_size,
    )
    if values["beam_size"] is not None and values["beam_size"] > 1:  # patience 1: beam search's own count
        decode["patience"] = float(values["patience"])
    return decode, reported


def record(values: Mapping[str, Any]) -> TranscriptionOptions:
    """The TranscriptionOptions faster-whisper reports in TranscriptionInfo, from the call's keywords."""
    fields = {f.name for f in dataclasses.fields(TranscriptionOptions)}
    given = {name: values[name] for name in fields if name in values}
    given["temperatures"] = list(temperatures(values["temperature"]))
    given["suppress_tokens"] = None if values["suppress_tokens"] is None else [int(t) for t in values["suppress_tokens"]]
    return TranscriptionOptions(**given)
