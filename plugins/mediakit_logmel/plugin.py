"""Hook implementation of the built-in ``logmel`` featurizer (imports nothing heavy)."""

from __future__ import annotations

from mediakit import hookimpl
from mediakit.records import FeatureSpec


@hookimpl(trylast=True)
def mediakit_make_featurizer(spec: FeatureSpec):
    """Whisper's log-mel for any sample rate, FFT size, hop and number of mel bins."""
    from .featurizer import LogMelFeaturizer

    return LogMelFeaturizer(spec)
