"""What the decoder reads features from: whole :class:`~mediakit.records.Features`, or a stream.

Both look like :class:`mediakit.stages.FeatureSource`, so the seek loop, language detection, VAD and the
batched mode read windows the same way whether the input was featurized whole or as a stream.
"""

from __future__ import annotations

import sys

import numpy as np

from mediakit.records import Features

#: Content length the loop assumes for a live input whose end has not been seen.
LIVE_END = sys.maxsize // 4


class WholeFeatures:
    """A :class:`~mediakit.stages.FeatureSource` over features computed for the whole input at once."""

    live = False
    ended = True

    def __init__(self, features: Features):
        self.features = features
        self.spec = features.spec
        self.source = features.audio.source
        self.content_frames = features.content_frames
        self.n_samples = len(features.audio.samples)

    def wait(self, frame: int) -> int:
        return min(frame, self.content_frames)

    def mel(self, start: int, stop: int) -> np.ndarray:
        return self.features.mel[:, start:stop]

    def samples(self, start: int, stop: int) -> np.ndarray:
        return self.features.audio.samples[start:stop]

    def release(self, frame: int) -> None:
        pass

    def close(self) -> None:
        pass


def as_source(features):
    """``features`` as a feature source: whole ``Features`` wrapped, a stream as it is."""
    return WholeFeatures(features) if isinstance(features, Features) else features


def known_content(source, seek: int, window: int) -> int:
    """Content frames to plan the window at ``seek`` with: final for a finished input; for a live one,
    after waiting for the window's frames, :data:`LIVE_END` while the input goes on."""
    if not source.live:
        return source.content_frames
    source.wait(seek + window)
    return source.content_frames if source.ended else LIVE_END


def duration(source) -> float:
    return source.content_frames / float(source.spec.frames_per_second)


def audio_range(source, start: float, end: float) -> np.ndarray:
    """Samples between ``start`` and ``end`` seconds, from whole features or a stream alike.

    A finite stream keeps its samples in a temporary file until it is closed, so any stretch can be
    read again after the seek loop (a repair pass over uncovered stretches); a live source only holds
    what the loop has not released yet.
    """
    rate = source.spec.sample_rate
    first = max(0, int(round(start * rate)))
    last = min(source.n_samples, int(round(end * rate)))
    return source.samples(first, last) if last > first else np.zeros(0, dtype=np.float32)
