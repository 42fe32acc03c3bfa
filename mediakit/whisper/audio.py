"""openai-whisper's ``whisper.audio``: constants, ``load_audio``, ``pad_or_trim`` and ``log_mel_spectrogram``.

Audio is read by mediakit's demux stage (the ffmpeg plugin: any container, the bundled ffmpeg when none is
on PATH) and the log-mel is mediakit's featurizer's, computed in blocks of 30 s.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Optional, Union

import numpy as np
import torch
import torch.nn.functional as F

from mediakit.errors import MediakitError
from mediakit.records import FeatureSpec

from .utils import exact_div

# hard-coded audio hyperparameters
SAMPLE_RATE = 16000
N_FFT = 400
HOP_LENGTH = 160
CHUNK_LENGTH = 30
N_SAMPLES = CHUNK_LENGTH * SAMPLE_RATE  # 480000 samples in a 30-second chunk
N_FRAMES = exact_div(N_SAMPLES, HOP_LENGTH)  # 3000 frames in a mel spectrogram input

N_SAMPLES_PER_TOKEN = HOP_LENGTH * 2  # the initial convolutions has stride 2
FRAMES_PER_SECOND = exact_div(SAMPLE_RATE, HOP_LENGTH)  # 10ms per audio frame
TOKENS_PER_SECOND = exact_div(SAMPLE_RATE, N_SAMPLES_PER_TOKEN)  # 20ms per audio token


def load_audio(file: str, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Decode any media file to mono float32 samples in [-1, 1] at ``sr`` Hz: (n,) array.

    Raises RuntimeError("Failed to load audio: ...") as openai-whisper does, chained to mediakit's error.
    """
    from mediakit.api import load_audio as demux_samples

    from ._host import plugin_manager

    try:
        return demux_samples(file, sr, pm=plugin_manager())
    except MediakitError as err:
        raise RuntimeError(f"Failed to load audio: {err}") from err


def pad_or_trim(array: Union[np.ndarray, torch.Tensor], length: int = N_SAMPLES, *, axis: int = -1):
    """Zero-pad or cut ``array`` along ``axis`` to ``length`` samples (or frames): same type as given."""
    axis = axis % array.ndim
    size = array.shape[axis]
    if size > length:
        return array[(slice(None),) * axis + (slice(0, length),)]
    if size < length:
        if torch.is_tensor(array):
            widths = [0, 0] * (array.ndim - 1 - axis) + [0, length - size]  # F.pad: last dimension first
            return F.pad(array, widths)
        widths = [(0, 0)] * array.ndim
        widths[axis] = (0, length - size)
        return np.pad(array, widths)
    return array


@lru_cache(maxsize=None)
def _filters(n_mels: int) -> np.ndarray:
    from mediakit_logmel.filters import mel_filters as computed

    return computed(SAMPLE_RATE, N_FFT, n_mels)


def mel_filters(device, n_mels: int) -> torch.Tensor:
    """The (n_mels, 201) Slaney mel filter bank (80 or 128 bins), computed rather than loaded from a file."""
    if n_mels not in {80, 128}:
        raise AssertionError(f"Unsupported n_mels: {n_mels}")
    return torch.from_numpy(np.array(_filters(n_mels))).to(device)


def log_mel_spectrogram(
    audio: Union[str, np.ndarray, torch.Tensor],
    n_mels: int = 80,
    padding: int = 0,
    device: Optional[Union[str, torch.device]] = None,
) -> torch.Tensor:
    """Whisper's log-mel of a path, samples (n,) at 16 kHz, or a tensor: (n_mels, (n + padding) // 160) float32.

    ``padding`` zero samples are appended first; the result is on ``device`` (default: the tensor's, else the CPU).
    """
    from mediakit_logmel.spectrogram import log_mel_spectrogram as compute

    target = torch.device(device) if device is not None else None
    if torch.is_tensor(audio):
        target = target or audio.device
        samples = audio.detach().to("cpu", torch.float32).numpy()
    elif isinstance(audio, (str, os.PathLike)):
        samples = load_audio(os.fspath(audio))
    else:
        samples = np.asarray(audio, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"log_mel_spectrogram needs mono samples of shape (n,), got shape {samples.shape}")
    mel = compute(samples, FeatureSpec(n_mels=n_mels), padding=padding)  # (n_mels, n_frames)
    tensor = torch.from_numpy(mel)
    return tensor.to(target) if target is not None else tensor
