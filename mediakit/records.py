"""Frozen records that flow between the stages: demux -> features -> model/decode -> writers.

Records hold data only; they import numpy but never torch, so the host stays cheap to import.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

#: Progress callback: ``(seconds_done, seconds_total)`` of the audio being decoded.
ProgressCallback = Callable[[float, float], None]


@dataclass(frozen=True)
class FeatureSpec:
    """What a model needs as input; fixed by the model, it decides the featurizer and the demuxer."""

    sample_rate: int = 16000  # Hz, mono
    n_mels: int = 80  # mel bins: 80, or 128 for large-v3
    n_fft: int = 400  # STFT size in samples (25 ms)
    hop_length: int = 160  # samples per frame (10 ms)
    chunk_seconds: int = 30  # length of one model input window

    @property
    def frames_per_second(self) -> int:
        return self.sample_rate // self.hop_length

    @property
    def chunk_frames(self) -> int:
        return self.chunk_seconds * self.frames_per_second


@dataclass(frozen=True, eq=False)
class Audio:
    """Decoded audio of one input.

    samples: (n,) float32 mono at ``sample_rate``, values in [-1, 1].
    source: the input as the user named it (a path, ``-`` for stdin, or a URL), for messages.
    """

    samples: np.ndarray
    sample_rate: int
    source: str = ""

    @property
    def duration(self) -> float:
        return len(self.samples) / float(self.sample_rate)


@dataclass(frozen=True, eq=False)
class Features:
    """Model input features of one whole input.

    mel: (n_mels, n_frames) float32 log-mel spectrogram of the audio followed by ``spec.chunk_seconds``
         of silence (Whisper's convention: a window starting anywhere in the content can be cut
         without running off the end).
    content_frames: number of leading frames that come from real audio; the rest is padding.
    audio: the samples the features were computed from (for voice activity detection).
    """

    mel: np.ndarray
    content_frames: int
    spec: FeatureSpec
    audio: Audio

    @property
    def duration(self) -> float:
        return self.content_frames / float(self.spec.frames_per_second)


@dataclass(frozen=True)
class Word:
    """One word with its time span in seconds and the model's probability for it."""

    start: float
    end: float
    word: str  # with its leading space, as the model wrote it
    probability: float


@dataclass(frozen=True)
class Segment:
    """One decoded segment, with the fields of openai-whisper's segment dictionaries."""

    id: int
    seek: int  # frame offset of the 30 s window the segment was decoded in
    start: float  # seconds
    end: float  # seconds
    text: str
    tokens: tuple[int, ...] = ()
    temperature: float = 0.0
    avg_logprob: float = 0.0
    compression_ratio: float = 0.0
    no_speech_prob: float = 0.0
    words: tuple[Word, ...] | None = None
    repaired: bool = False  # decoded again by the coverage repair: the seek loop had left this speech without text

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["tokens"] = list(self.tokens)
        # openai-whisper's keys only, unless the segment came from a repair
        if not self.repaired:
            del data["repaired"]
        if self.words is None:
            del data["words"]
        else:
            # openai-whisper's key order, so our JSON files match its byte for byte
            data["words"] = [{"word": w.word, "start": w.start, "end": w.end, "probability": w.probability} for w in self.words]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Segment":
        words = data.get("words")
        return cls(
            id=int(data["id"]),
            seek=int(data.get("seek", 0)),
            start=float(data["start"]),
            end=float(data["end"]),
            text=str(data["text"]),
            tokens=tuple(int(t) for t in data.get("tokens", ())),
            temperature=float(data.get("temperature", 0.0)),
            avg_logprob=float(data.get("avg_logprob", 0.0)),
            compression_ratio=float(data.get("compression_ratio", 0.0)),
            no_speech_prob=float(data.get("no_speech_prob", 0.0)),
            words=None if words is None else tuple(Word(**w) for w in words),
            repaired=bool(data.get("repaired", False)),
        )


@dataclass(frozen=True)
class DecodeStart:
    """What a decoder knows once it has looked at an input and before its first segment: the language
    (detected or given) and how much audio it will decode."""

    language: str
    language_probs: Mapping[str, float] | None = field(default=None, compare=False)  # when detected
    duration: float = 0.0  # seconds of audio in the input
    speech: float = 0.0  # seconds it decodes: the duration less what clip_timestamps and VAD leave out


@dataclass(frozen=True)
class Transcript:
    """The result of decoding one input.

    ``to_dict()`` has the keys of openai-whisper's result: ``text``, ``segments``, ``language``.
    """

    text: str
    segments: tuple[Segment, ...]
    language: str
    duration: float = 0.0  # seconds of audio decoded
    language_probs: Mapping[str, float] | None = field(default=None, compare=False)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "segments": [s.to_dict() for s in self.segments],
            "language": self.language,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "Transcript":
        segments = tuple(Segment.from_dict(s) for s in data.get("segments", ()))
        end = segments[-1].end if segments else 0.0
        return cls(text=str(data["text"]), segments=segments, language=str(data["language"]), duration=end)


@dataclass(frozen=True)
class StreamInfo:
    """One stream of a media file, as ``mediakit probe`` shows it."""

    index: int
    type: str  # audio, video, subtitle, data, attachment
    codec: str
    language: str | None = None
    sample_rate: int | None = None  # audio only
    channels: int | None = None  # audio only
    channel_layout: str | None = None
    duration: float | None = None  # seconds
    bit_rate: int | None = None  # bits per second
    width: int | None = None  # video only
    height: int | None = None
    default: bool = False
    title: str | None = None


@dataclass(frozen=True)
class MediaInfo:
    """What a demuxer can tell about a media file without decoding it."""

    source: str
    container: str
    duration: float | None
    start_time: float | None
    bit_rate: int | None
    streams: tuple[StreamInfo, ...]
    reader: str | None = None  # the program that read it, e.g. "ffmpeg 7.1 at /usr/bin/ffmpeg (found on PATH)"

    @property
    def audio_streams(self) -> tuple[StreamInfo, ...]:
        return tuple(s for s in self.streams if s.type == "audio")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["streams"] = [asdict(s) for s in self.streams]
        return data


@dataclass(frozen=True)
class ModelInfo:
    """A model name a plugin knows, for ``mediakit models list``."""

    name: str
    plugin: str
    available: bool
    location: str | None = None  # where the weights are, when available
    size_bytes: int | None = None
    multilingual: bool | None = None
    description: str = ""
