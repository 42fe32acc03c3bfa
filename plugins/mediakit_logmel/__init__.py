"""The built-in ``logmel`` featurizer: Whisper's log-mel spectrogram.

* ``filters``: Slaney mel filter banks, computed (not shipped) as librosa's ``filters.mel`` defaults.
* ``spectrogram``: :func:`log_mel_spectrogram`, computed in blocks so hours of audio stay in bounded memory.
* ``featurizer``: the stage object; ``plugin``: the hook implementation (imports nothing heavy).

For API users::

    from mediakit_logmel import log_mel_spectrogram
    mel = log_mel_spectrogram(samples, FeatureSpec(n_mels=80))  # (80, len(samples) // 160) float32
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["LogMelFeaturizer", "log_mel_spectrogram", "mel_filters"]

if TYPE_CHECKING:  # pragma: no cover
    from .featurizer import LogMelFeaturizer
    from .filters import mel_filters
    from .spectrogram import log_mel_spectrogram


def __getattr__(name: str) -> Any:
    # Lazy, so that importing the package (the plugin module lives in it) stays cheap.
    if name == "LogMelFeaturizer":
        from .featurizer import LogMelFeaturizer

        return LogMelFeaturizer
    if name == "log_mel_spectrogram":
        from .spectrogram import log_mel_spectrogram

        return log_mel_spectrogram
    if name == "mel_filters":
        from .filters import mel_filters

        return mel_filters
    raise AttributeError(f"module 'mediakit_logmel' has no attribute {name!r}")
