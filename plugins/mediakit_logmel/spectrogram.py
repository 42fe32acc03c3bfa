"""Whisper's log-mel spectrogram, computed in blocks of frames so that long inputs stay in bounded memory.

Per frame, exactly what openai-whisper computes: a centred STFT (reflect padding of ``n_fft // 2``
samples on both sides) with a periodic Hann window, the last frame dropped, the power spectrum, the
Slaney mel filters, ``log10(max(x, 1e-10))``, a floor 8 below the global maximum, then ``(x + 4) / 4``.

Memory: the result is (n_mels, n_frames) float32, 32 KB per second of audio for 80 bins (115 MB per
hour; 184 MB per hour for 128 bins). Besides the result and the caller's samples, one block of
``BLOCK_FRAMES`` frames is in flight at a time (its samples, windowed frames, complex STFT, power and
mel): measured at about 26 MB above the result for one hour of audio, whatever the input's length.
Nothing of the size of the input is copied.
"""

from __future__ import annotations

import numpy as np

from mediakit.records import FeatureSpec

from .filters import mel_filters

#: Frames per STFT block: 30 s at Whisper's 100 frames per second (larger blocks were not faster).
BLOCK_FRAMES = 3_000

_LOG_FLOOR = 1e-10  # power below this is clamped before log10
_DYNAMIC_RANGE = 8.0  # log10 units kept below the maximum (80 dB)


def log_mel_spectrogram(samples: np.ndarray, spec: FeatureSpec, padding: int = 0) -> np.ndarray:
    """Return the (spec.n_mels, (len(samples) + padding) // spec.hop_length) float32 log-mel of ``samples``.

    :param samples: (n,) mono audio at ``spec.sample_rate``, values in [-1, 1].
    :param padding: zero samples appended before the transform (Whisper's ``transcribe()`` appends
        ``chunk_seconds`` of them); the floor is taken over the padded signal's maximum.
    """
    return _log_mel(samples, spec, padding, BLOCK_FRAMES)


def _log_mel(samples: np.ndarray, spec: FeatureSpec, padding: int, block_frames: int) -> np.ndarray:
    samples = np.asarray(samples)
    if samples.ndim != 1:
        raise ValueError(f"log_mel_spectrogram needs mono samples of shape (n,), got {samples.shape}")
    if padding < 0:
        raise ValueError(f"padding must be >= 0, got {padding}")
    n_fft, hop = spec.n_fft, spec.hop_length
    total = len(samples) + padding
    n_frames = total // hop  # the centred STFT has total // hop + 1 frames; the last is dropped
    mel = np.empty((spec.n_mels, n_frames), dtype=np.float32)  # (n_mels, T)
    if n_frames == 0:
        return mel

    window, filters = block_tools(spec)
    signal = _PaddedSignal(samples, padding, n_fft // 2)

    peak = -np.inf
    for first in range(0, n_frames, block_frames):
        count = min(block_frames, n_frames - first)
        log_mel = block_log_mel(signal, first, count, spec, window, filters)  # (n_mels, count)
        mel[:, first : first + count] = log_mel
        peak = max(peak, float(log_mel.max()))

    normalise(mel, peak)
    return mel


def block_tools(spec: FeatureSpec):
    """The STFT window and the mel filters as torch tensors, made once per input."""
    import torch

    window = torch.hann_window(spec.n_fft, periodic=True, dtype=torch.float32)  # (n_fft,)
    filters = torch.from_numpy(np.array(mel_filters(spec.sample_rate, spec.n_fft, spec.n_mels)))  # (n_mels, n_bins)
    return window, filters


def block_log_mel(signal: "_PaddedSignal", first: int, count: int, spec: FeatureSpec, window, filters) -> np.ndarray:
    """The log10 mel power of frames ``[first, first + count)``, before the floor: (n_mels, count) float32.

    A frame depends only on its own samples, and a block is computed the same way whether the whole
    input or a stream supplies ``signal``; callers cut blocks at the same frames, so results are
    bit-identical.
    """
    import torch

    n_fft, hop = spec.n_fft, spec.hop_length
    with torch.inference_mode():
        # frame f covers padded samples [f * hop, f * hop + n_fft)
        block = torch.from_numpy(signal.slice(first * hop, (first + count - 1) * hop + n_fft))  # (L,)
        stft = torch.stft(block, n_fft, hop, window=window, center=False, return_complex=True)  # (n_bins, count)
        power = stft.real.square_() + stft.imag.square_()  # (n_bins, count)
        del stft
        return (filters @ power).clamp_(min=_LOG_FLOOR).log10_().numpy()  # (n_mels, count)


def floor_of(peak: float) -> np.float32:
    """The lowest log-mel value kept, 8 below the input's maximum."""
    return np.float32(peak - _DYNAMIC_RANGE)


def normalise(mel: np.ndarray, peak: float) -> np.ndarray:
    """In place: the floor 8 below ``peak``, then ``(x + 4) / 4`` (Whisper's scaling)."""
    np.maximum(mel, floor_of(peak), out=mel)
    mel += np.float32(4.0)
    mel /= np.float32(4.0)
    return mel


class _PaddedSignal:
    """``samples`` followed by ``padding`` zeros, reflect-padded by ``edge`` on both sides, without copying it."""

    def __init__(self, samples: np.ndarray, padding: int, edge: int, offset: int = 0, total: int | None = None):
        """``samples`` are the real samples from index ``offset`` on (a stream's buffer); ``total`` is the
        number of real samples in the whole input (default: ``offset + len(samples)``)."""
        self.samples = samples
        self.offset = offset
        self.real = offset + len(samples) if total is None else total  # real samples in the whole input
        self.length = self.real + padding  # the unpadded signal's length
        self.edge = edge

    def slice(self, start: int, stop: int) -> np.ndarray:
        """Return padded samples [start, stop) as a new float32 array."""
        lo, hi = start - self.edge, stop - self.edge  # in unpadded coordinates
        out = np.zeros(hi - lo, dtype=np.float32)
        inner_lo, inner_hi = max(lo, 0), min(hi, self.real)
        if inner_lo < inner_hi:  # real samples; beyond them the zeros of the padding
            out[inner_lo - lo : inner_hi - lo] = self.samples[inner_lo - self.offset : inner_hi - self.offset]
        if lo < 0 or hi > self.length:  # only the first and last blocks reach into the reflection
            outside = np.arange(lo, hi)
            outside = outside[(outside < 0) | (outside >= self.length)]
            out[outside - lo] = self._values(self._reflect(outside))
        return out

    def _reflect(self, index: np.ndarray) -> np.ndarray:
        # numpy/torch "reflect" (the edge sample is not repeated), folded as often as a short signal needs
        if self.length == 1:
            return np.zeros_like(index)
        period = 2 * (self.length - 1)
        index = np.mod(index, period)
        return np.where(index >= self.length, period - index, index)

    def _values(self, index: np.ndarray) -> np.ndarray:
        values = np.zeros(len(index), dtype=np.float32)
        real = index < self.real
        values[real] = self.samples[index[real] - self.offset]
        return values
