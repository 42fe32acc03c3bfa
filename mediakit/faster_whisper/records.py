"""faster-whisper's result and option records, with its field names and defaults (faster-whisper 1.2).

Frozen: they describe a result, nothing reads them back in. ``dataclasses.asdict`` and ``_asdict()`` give
the dictionaries faster-whisper's users serialise.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Iterable, List, Optional, Tuple, Union


class _AsDict:
    def _asdict(self) -> dict[str, Any]:
        """The record as a dictionary (faster-whisper's records were namedtuples before 1.0)."""
        return dataclasses.asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Word(_AsDict):
    start: float
    end: float
    word: str
    probability: float


@dataclass(frozen=True)
class Segment(_AsDict):
    id: int  # from 1, as faster-whisper counts
    seek: int  # frame offset of the 30 s window it was decoded in
    start: float
    end: float
    text: str
    tokens: List[int]
    avg_logprob: float
    compression_ratio: float
    no_speech_prob: float
    words: Optional[List[Word]]
    temperature: Optional[float]


@dataclass(frozen=True)
class VadOptions(_AsDict):
    """Silero VAD settings, faster-whisper's names and defaults. ``neg_threshold`` and a finite
    ``max_speech_duration_s`` have no counterpart in mediakit's VAD and are refused when set."""

    threshold: float = 0.5
    neg_threshold: Optional[float] = None
    min_speech_duration_ms: int = 0
    max_speech_duration_s: float = float("inf")
    min_silence_duration_ms: int = 2000
    speech_pad_ms: int = 400


@dataclass(frozen=True)
class TranscriptionOptions(_AsDict):
    beam_size: int
    best_of: int
    patience: float
    length_penalty: float
    repetition_penalty: float
    no_repeat_ngram_size: int
    log_prob_threshold: Optional[float]
    no_speech_threshold: Optional[float]
    compression_ratio_threshold: Optional[float]
    condition_on_previous_text: bool
    prompt_reset_on_temperature: float
    temperatures: List[float]
    initial_prompt: Optional[Union[str, Iterable[int]]]
    prefix: Optional[str]
    suppress_blank: bool
    suppress_tokens: Optional[List[int]]
    without_timestamps: bool
    max_initial_timestamp: float
    word_timestamps: bool
    prepend_punctuations: str
    append_punctuations: str
    multilingual: bool
    max_new_tokens: Optional[int]
    clip_timestamps: Union[str, List[float]]
    hallucination_silence_threshold: Optional[float]
    hotwords: Optional[str]


@dataclass(frozen=True)
class TranscriptionInfo(_AsDict):
    language: str
    language_probability: float
    duration: float
    duration_after_vad: float
    all_language_probs: Optional[List[Tuple[str, float]]]
    transcription_options: TranscriptionOptions
    vad_options: Optional[VadOptions]
