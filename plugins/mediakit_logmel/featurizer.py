"""The features stage object: Whisper's log-mel of one whole input, padded as ``transcribe()`` pads it."""

from __future__ import annotations

from typing import Iterable

import numpy as np

from mediakit.errors import StageError
from mediakit.records import Audio, Features, FeatureSpec

from .spectrogram import log_mel_spectrogram
from .stream import MelStream


class LogMelFeaturizer:
    """Computes :class:`~mediakit.records.Features` for a model with ``spec``."""

    def __init__(self, spec: FeatureSpec):
        self.spec = spec

    def featurize(self, audio: Audio) -> Features:
        spec = self.spec
        if audio.sample_rate != spec.sample_rate:
            raise StageError(
                f"{audio.source or 'audio'}: the logmel featurizer needs {spec.sample_rate} Hz audio, "
                f"got {audio.sample_rate} Hz (the demuxer should resample)"
            )
        # Whisper's convention: chunk_seconds of silence after the content, so that a 30 s window
        # starting anywhere in the content can be cut without running off the end.
        padding = spec.chunk_seconds * spec.sample_rate
        mel = log_mel_spectrogram(audio.samples, spec, padding=padding)  # (n_mels, (n + padding) // hop)
        return Features(mel=mel, content_frames=len(audio.samples) // spec.hop_length, spec=spec, audio=audio)

    def featurize_stream(self, chunks: Iterable[np.ndarray], source: str, live: bool = False) -> MelStream:
        """The same features read window by window from audio chunks (see :mod:`mediakit_logmel.stream`)."""
        return MelStream(chunks, self.spec, source, live)
