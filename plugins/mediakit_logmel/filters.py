"""Slaney-style mel filter banks, as librosa's ``filters.mel(sr, n_fft, n_mels)`` builds them by default.

Whisper's ``mel_filters.npz`` was saved from that function; computing the triangles here matches the
shipped arrays to ~4e-9, so nothing needs to be shipped.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

# Slaney's scale: linear below 1 kHz (200/3 Hz per mel), logarithmic above (27 mels per factor 6.4).
_HZ_PER_MEL = 200.0 / 3.0
_BREAK_HZ = 1000.0
_BREAK_MEL = _BREAK_HZ / _HZ_PER_MEL  # 15.0
_LOG_STEP = math.log(6.4) / 27.0


def hz_to_mel(hz: np.ndarray) -> np.ndarray:
    hz = np.asarray(hz, dtype=np.float64)
    linear = hz / _HZ_PER_MEL
    log = _BREAK_MEL + np.log(np.maximum(hz, _BREAK_HZ) / _BREAK_HZ) / _LOG_STEP
    return np.where(hz >= _BREAK_HZ, log, linear)


def mel_to_hz(mel: np.ndarray) -> np.ndarray:
    mel = np.asarray(mel, dtype=np.float64)
    linear = mel * _HZ_PER_MEL
    log = _BREAK_HZ * np.exp(_LOG_STEP * (np.maximum(mel, _BREAK_MEL) - _BREAK_MEL))
    return np.where(mel >= _BREAK_MEL, log, linear)


@lru_cache(maxsize=8)
def mel_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    """Return the (n_mels, n_fft // 2 + 1) float32 filter bank; rows are area-normalised triangles."""
    fft_hz = np.linspace(0.0, sample_rate / 2.0, n_fft // 2 + 1)  # (n_bins,)
    # n_mels + 2 edges evenly spaced in mel between 0 Hz and Nyquist; triangle i spans edges i..i+2.
    edges_hz = mel_to_hz(np.linspace(hz_to_mel(0.0), hz_to_mel(sample_rate / 2.0), n_mels + 2))  # (n_mels + 2,)
    lower, centre, upper = edges_hz[:-2, None], edges_hz[1:-1, None], edges_hz[2:, None]  # (n_mels, 1) each
    rising = (fft_hz[None, :] - lower) / (centre - lower)  # (n_mels, n_bins)
    falling = (upper - fft_hz[None, :]) / (upper - centre)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights *= 2.0 / (upper - lower)  # Slaney normalisation: every triangle has the same area
    weights = weights.astype(np.float32)
    weights.flags.writeable = False  # cached and shared
    return weights
