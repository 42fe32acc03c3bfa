"""faster-whisper's ``WhisperModel`` and ``BatchedInferencePipeline``, run by mediakit's engine.

``transcribe`` returns ``(segments, info)`` as faster-whisper does: ``info`` once the language is known,
``segments`` a generator of the segments as the decoder finalizes them (decoding runs in a thread of
its own from the call on). Both go through :meth:`mediakit.api.LoadedModel.stream`, so every installed
plugin (demuxers, decoders, writers of the CLI aside) serves them as it serves mediakit's own API.
"""

from __future__ import annotations

import logging
import os
from typing import Any, BinaryIO, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np

import mediakit
from mediakit.api import LoadedModel, SegmentStream
from mediakit.records import DecodeStart

from . import options as fw_options
from .audio import decode_audio
from .records import Segment, TranscriptionInfo, VadOptions, Word

log = logging.getLogger(__name__)

Audio = Union[str, "os.PathLike[str]", BinaryIO, np.ndarray]

#: faster-whisper compute types -> mediakit's (CTranslate2's int8 variants differ in what the
#: non-quantized layers use; mediakit's int8 keeps them float32).
_COMPUTE_TYPES = {
    "default": "auto",
    "auto": "auto",
    "float32": "float32",
    "float16": "float16",
    "bfloat16": "bfloat16",
    "int8": "int8",
    "int8_float32": "int8",
    "int8_float16": "int8",
    "int8_bfloat16": "int8",
}


class WhisperModel:
    """``WhisperModel("base", device="cpu", compute_type="int8", cpu_threads=2)``: faster-whisper's
    constructor. ``model_size_or_path`` is any name or path mediakit loads (CTranslate2 folders included)."""

    def __init__(
        self,
        model_size_or_path: str,
        device: str = "auto",
        device_index: Union[int, List[int]] = 0,
        compute_type: str = "default",
        cpu_threads: int = 0,
        num_workers: int = 1,
        download_root: Optional[str] = None,
        local_files_only: bool = False,
        files: Optional[dict] = None,
        revision: Optional[str] = None,
        use_auth_token: Optional[Union[str, bool]] = None,
        **model_kwargs: Any,
    ):
        if compute_type not in _COMPUTE_TYPES:
            raise ValueError(f"compute_type {compute_type!r} is not supported; use one of {', '.join(_COMPUTE_TYPES)}")
        if files is not None or revision is not None or model_kwargs:
            given = [n for n, v in (("files", files), ("revision", revision)) if v is not None] + sorted(model_kwargs)
            raise ValueError(f"{', '.join(given)}: not supported by mediakit's loader; give a model name or a path")
        if isinstance(device_index, list):
            if len(device_index) != 1:
                raise ValueError("device_index: mediakit loads a model on one device; give one index")
            device_index = device_index[0]
        if num_workers < 1:
            raise ValueError(f"num_workers must be at least 1, got {num_workers}")
        if device == "cuda" and device_index:
            device = f"cuda:{device_index}"
        self.num_workers = num_workers  # concurrent transcribe() calls share the model either way
        self._model: LoadedModel = mediakit.load_model(
            str(model_size_or_path),
            device=device,
            compute_type=_COMPUTE_TYPES[compute_type],
            threads=cpu_threads,
            model_dir=download_root,
            download=not local_files_only,
        )

    @property
    def mediakit_model(self) -> LoadedModel:
        """The mediakit model underneath, for mediakit's own API (writers, streams, more options)."""
        return self._model

    @property
    def supported_languages(self) -> List[str]:
        from mediakit.whisper.tokenizer import LANGUAGES

        runtime = self._model.model
        if not getattr(runtime, "is_multilingual", True):
            return ["en"]
        return list(LANGUAGES)[: getattr(runtime, "num_languages", len(LANGUAGES))]  # the model's language tokens

    def detect_language(
        self,
        audio: Optional[np.ndarray] = None,
        features: Optional[np.ndarray] = None,
        vad_filter: bool = False,
        vad_parameters: Union[dict, VadOptions, None] = None,
        language_detection_segments: int = 1,
        language_detection_threshold: float = 0.5,
    ) -> Tuple[str, float, List[Tuple[str, float]]]:
        """(language, its probability, every language's probability, most probable first) of 16 kHz
        samples, pooled over the first ``language_detection_segments`` windows (of speech with ``vad_filter``)."""
        if audio is None:
            raise ValueError("detect_language needs audio (16 kHz float32 samples); mel features are not accepted")
        values: dict[str, Any] = {"language_detection_segments": language_detection_segments, "vad": vad_filter}
        if vad_filter:
            values["vad_options"] = fw_options.vad_options(vad_parameters)[1]
        start = self._model.detect_language(_samples(audio), repair=False, **values)
        ranked = _ranked(start)
        if not ranked:
            return start.language, 1.0, [(start.language, 1.0)]
        return ranked[0][0], ranked[0][1], ranked

    def transcribe(self, audio: Audio, *args: Any, **keywords: Any) -> Tuple[Iterator[Segment], TranscriptionInfo]:
        """faster-whisper's ``transcribe``: its keywords, order and defaults (``options.DEFAULTS``).
        Keywords of mediakit's own (``repair``, ``zh_script``, ``repetition_guard``, ``audio_stream``...) may follow."""
        values, extra = fw_options.bind(fw_options.DEFAULTS, args, keywords)
        return _transcribe(self._model, audio, values, extra, batch_size=0)

    transcribe.__signature__ = fw_options.signature(fw_options.DEFAULTS)  # type: ignore[attr-defined]


class BatchedInferencePipeline:
    """faster-whisper's batched pipeline: speech cut by Silero into windows of at most 30 s, decoded
    ``batch_size`` at a time with no previous-text conditioning (mediakit's batched mode)."""

    def __init__(self, model: WhisperModel, **kwargs: Any):
        if kwargs:
            raise ValueError(f"{', '.join(sorted(kwargs))}: not supported (BatchedInferencePipeline takes the model only)")
        self.model = model

    def transcribe(self, audio: Audio, *args: Any, **keywords: Any) -> Tuple[Iterator[Segment], TranscriptionInfo]:
        """faster-whisper's batched ``transcribe``: its keywords and defaults (``options.BATCHED_DEFAULTS``: no
        timestamps, Silero on, ``batch_size=8``). ``clip_timestamps`` (dictionaries of ``start`` and ``end``
        seconds) replace the VAD, as there."""
        values, extra = fw_options.bind(fw_options.BATCHED_DEFAULTS, args, keywords)
        batch_size = values.pop("batch_size")
        if batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {batch_size}")
        if values["clip_timestamps"]:
            values["vad_filter"] = False
        return _transcribe(self.model.mediakit_model, audio, values, extra, batch_size=batch_size)

    transcribe.__signature__ = fw_options.signature(fw_options.BATCHED_DEFAULTS)  # type: ignore[attr-defined]


def _transcribe(
    model: LoadedModel, audio: Audio, values: dict[str, Any], extra: Mapping[str, Any], batch_size: int
) -> Tuple[Iterator[Segment], TranscriptionInfo]:
    decode, vad_record = fw_options.decode_options(values, batch_size)
    decode.update(extra)
    stream = model.stream(_samples(audio), **decode)
    try:
        start = stream.start()
    except BaseException:
        stream.close()
        raise
    ranked = _ranked(start)
    info = TranscriptionInfo(
        language=start.language,
        language_probability=ranked[0][1] if ranked else 1.0,
        duration=start.duration,
        duration_after_vad=start.speech,
        all_language_probs=ranked or None,
        transcription_options=fw_options.record(values),
        vad_options=vad_record,
    )
    return _segments(stream, start.duration if values["log_progress"] else None), info


def _samples(audio: Audio) -> Union[str, np.ndarray]:
    """A path as it is (mediakit streams it), samples as float32, a file object decoded first."""
    if isinstance(audio, np.ndarray):
        return np.ascontiguousarray(audio, dtype=np.float32)
    if isinstance(audio, (str, os.PathLike)):
        return os.fspath(audio)
    if hasattr(audio, "read"):
        return decode_audio(audio)
    raise ValueError(f"audio must be a path, a file object or a NumPy array, got {type(audio).__name__}")


def _ranked(start: DecodeStart) -> List[Tuple[str, float]]:
    if not start.language_probs:
        return []
    return sorted(((code, float(p)) for code, p in start.language_probs.items()), key=lambda item: -item[1])


def _segments(stream: SegmentStream, duration: Optional[float]) -> Iterator[Segment]:
    """faster-whisper's Segment for each of mediakit's, ids from 1; closing the generator stops the decoding."""
    try:
        for segment in stream:
            if duration:
                log.info("transcribed %.1f of %.1f s", min(segment.end, duration), duration)
            words = None
            if segment.words is not None:
                words = [Word(w.start, w.end, w.word, w.probability) for w in segment.words]
            yield Segment(
                id=segment.id + 1,
                seek=segment.seek,
                start=segment.start,
                end=segment.end,
                text=segment.text,
                tokens=list(segment.tokens),
                avg_logprob=segment.avg_logprob,
                compression_ratio=segment.compression_ratio,
                no_speech_prob=segment.no_speech_prob,
                words=words,
                temperature=segment.temperature,
            )
    finally:
        stream.close()
