"""openai-whisper's ``whisper.transcribe``: ``transcribe(model, audio, **options) -> dict``, run by mediakit's stages.

The audio goes through mediakit's demux stage (a path) and featurizer, and the decoder plugin (``decoder=``,
default ``whisper``) runs the 30 s seek loop. openai-whisper's keywords keep their defaults (greedy decoding
with the temperature fallback, no repetition guard); mediakit's own (``vad``, ``batch_size``, ``zh_script``,
``repetition_guard``, ``audio_stream``...) pass through to the stages.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import os
import warnings
from typing import TYPE_CHECKING, Any, List, Optional, Tuple, Union

import numpy as np
import torch

from .tokenizer import LANGUAGES, TO_LANGUAGE_CODE
from .utils import format_timestamp, make_safe

if TYPE_CHECKING:  # pragma: no cover
    from .model import Whisper

#: DecodingOptions fields transcribe() passes on (``temperature`` is its own argument).
_DECODING_KEYS = {
    "task", "language", "sample_len", "best_of", "beam_size", "patience", "length_penalty", "prompt", "prefix",
    "suppress_tokens", "suppress_blank", "without_timestamps", "max_initial_timestamp", "fp16",
}  # fmt: skip
#: Keywords of mediakit's API that reach its stages (see docs/api.md).
_MEDIAKIT_KEYS = {"decoder", "progress", "temperature_increment_on_fallback", "audio_stream", "ffmpeg"}


def _mediakit_fields() -> set[str]:
    from mediakit.config import DecodeOptions

    return {f.name for f in dataclasses.fields(DecodeOptions)}


def _language_code(language: Optional[str]) -> Optional[str]:
    if language is None:
        return None
    key = language.lower()
    if key in LANGUAGES:
        return key
    if key in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[key]
    raise ValueError(f"Unsupported language: {language}")


def _samples(audio: Union[str, os.PathLike, np.ndarray, torch.Tensor]):
    if torch.is_tensor(audio):
        return audio.detach().to("cpu", torch.float32).numpy()
    if isinstance(audio, np.ndarray):
        return np.ascontiguousarray(audio, dtype=np.float32)
    return os.fspath(audio)


class _Printer(logging.Handler):
    """Prints what the decoder logs as it goes (the detected language, each segment) as openai-whisper prints it."""

    def __init__(self, segments: bool):
        super().__init__(logging.INFO)
        self.segments = segments
        self.language_printed = False
        self.segments_printed = 0

    def emit(self, record: logging.LogRecord) -> None:
        if record.name == "mediakit_decode.decoder" and record.msg.startswith("Detected language") and record.args:
            code = record.args[0]
            print(f"Detected language: {LANGUAGES.get(code, code).title()}")
            self.language_printed = True
        elif self.segments and record.name == "mediakit_decode.longform" and record.msg.startswith("[%s --> %s]"):
            print(make_safe(record.getMessage()))
            self.segments_printed += 1


@contextlib.contextmanager
def _printing(printer: _Printer | None):
    """Route the decoder's INFO records to ``printer`` for the duration (not to the application's handlers)."""
    if printer is None:
        yield
        return
    logger = logging.getLogger("mediakit_decode")
    level, propagate = logger.level, logger.propagate
    logger.addHandler(printer)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    try:
        yield
    finally:
        logger.removeHandler(printer)
        logger.setLevel(level)
        logger.propagate = propagate


class _ProgressBar:
    """openai-whisper's progress bar (``verbose=False``), drawn with tqdm when it is installed."""

    def __init__(self, enabled: bool):
        self.bar = None
        self.enabled = enabled

    def __call__(self, done: float, total: float) -> None:
        if not self.enabled:
            return
        if self.bar is None:
            try:
                from tqdm import tqdm
            except ImportError:
                self.enabled = False
                return
            self.bar = tqdm(total=round(total * 100), unit="frames")
        self.bar.update(round(done * 100) - self.bar.n)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


def transcribe(
    model: "Whisper",
    audio: Union[str, np.ndarray, torch.Tensor],
    *,
    verbose: Optional[bool] = None,
    temperature: Union[float, Tuple[float, ...]] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0),
    compression_ratio_threshold: Optional[float] = 2.4,
    logprob_threshold: Optional[float] = -1.0,
    no_speech_threshold: Optional[float] = 0.6,
    condition_on_previous_text: bool = True,
    initial_prompt: Optional[str] = None,
    carry_initial_prompt: bool = False,
    word_timestamps: bool = False,
    prepend_punctuations: str = "\"'“¿([{-",
    append_punctuations: str = "\"'.。,，!！?？:：”)]}、",
    clip_timestamps: Union[str, List[float]] = "0",
    hallucination_silence_threshold: Optional[float] = None,
    **decode_options: Any,
) -> dict:
    """Transcribe a path, or 16 kHz mono samples (array or tensor), with openai-whisper's result:
    ``{"text", "segments": [{"id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
    "compression_ratio", "no_speech_prob"[, "words"]}], "language"}``.

    ``decode_options`` are DecodingOptions fields, or mediakit's options (``vad=True``, ``batch_size=8``,
    ``zh_script=...``, ``decoder=...``, ``progress=...``); any other keyword raises TypeError.
    """
    from mediakit.api import LoadedModel
    from mediakit.config import ModelOptions, VadOptions
    from mediakit.errors import InputError

    known = _DECODING_KEYS | _MEDIAKIT_KEYS | (_mediakit_fields() - {"temperature", "verbose"})
    for name in decode_options:
        if name not in known:
            raise TypeError(f"transcribe() got an unexpected keyword argument '{name}'")
    options = dict(decode_options)
    fp16 = bool(options.pop("fp16", True))
    if model.device.type == "cpu":
        if torch.cuda.is_available():
            warnings.warn("Performing inference on CPU when CUDA is available")
        if fp16:
            warnings.warn("FP16 is not supported on CPU; using FP32 instead")
            fp16 = False
    runtime = model.runtime(fp16)

    options.pop("prompt", None)  # openai-whisper replaces it with the previous windows' text
    if options.pop("prefix", None) is not None:
        warnings.warn("transcribe(): prefix is not supported by mediakit's seek loop and is ignored")
    language = _language_code(options.pop("language", None))
    if language is None and not model.is_multilingual:
        language = "en"
    if isinstance(options.get("suppress_tokens"), (list, tuple)):
        options["suppress_tokens"] = ",".join(str(int(t)) for t in options["suppress_tokens"])
    if options.get("suppress_tokens", "-1") is None:
        options["suppress_tokens"] = ""
    if isinstance(options.get("vad_options"), dict):
        options["vad_options"] = VadOptions(**options["vad_options"])
    if not isinstance(clip_timestamps, str):
        clip_timestamps = ",".join(str(float(t)) for t in clip_timestamps)
    if isinstance(temperature, (int, float)) and "temperature_increment_on_fallback" not in options:
        temperature = (float(temperature),)
    if word_timestamps and options.get("task") == "translate":
        warnings.warn("Word-level timestamps on translations may not be reliable.")
    decoder = options.pop("decoder", "whisper")
    user_progress = options.pop("progress", None)
    options.setdefault("beam_size", None)
    options.setdefault("best_of", None)
    options.setdefault("repetition_guard", False)

    if language is None and verbose:
        print("Detecting language using up to the first 30 seconds. Use `--language` to specify the language")
    bar = _ProgressBar(verbose is False)

    def progress(done: float, total: float) -> None:
        bar(done, total)
        if user_progress is not None:
            user_progress(done, total)

    printer = _Printer(segments=bool(verbose)) if verbose is not None else None
    loaded = LoadedModel(model._pm or _pm(), runtime, model._options or ModelOptions())
    try:
        with _printing(printer):
            result = loaded.transcribe(
                _samples(audio),
                decoder=decoder,
                progress=progress,
                language=language,
                temperature=temperature,
                compression_ratio_threshold=compression_ratio_threshold,
                logprob_threshold=logprob_threshold,
                no_speech_threshold=no_speech_threshold,
                condition_on_previous_text=condition_on_previous_text,
                initial_prompt=initial_prompt,
                carry_initial_prompt=carry_initial_prompt,
                word_timestamps=word_timestamps,
                prepend_punctuations=prepend_punctuations,
                append_punctuations=append_punctuations,
                clip_timestamps=clip_timestamps,
                hallucination_silence_threshold=hallucination_silence_threshold,
                verbose=bool(verbose),
                **options,
            )
    except InputError as err:
        raise RuntimeError(f"Failed to load audio: {err}") from err
    finally:
        bar.close()

    if language is None and verbose is not None and not printer.language_printed:
        print(f"Detected language: {LANGUAGES[result.language].title()}")
    if verbose and printer.segments_printed == 0:  # a mode that does not report segments as it goes (batched)
        for segment in result.segments:
            line = f"[{format_timestamp(segment.start)} --> {format_timestamp(segment.end)}] {segment.text}"
            print(make_safe(line))
    return result.to_dict()


def _pm():
    from ._host import plugin_manager

    return plugin_manager()


def cli() -> None:
    """openai-whisper's ``whisper`` command: its flags, run by ``mediakit transcribe`` (``python -m mediakit.whisper``)."""
    from ._cli import main

    main()
