"""whisper.audio as published code calls it: load_audio, pad_or_trim, log_mel_spectrogram, the constants."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.weights


def test_load_audio_and_mel_from_any_input(whisper, jfk_path):
    from mediakit.whisper.audio import SAMPLE_RATE, load_audio, log_mel_spectrogram

    audio = load_audio(jfk_path)
    assert audio.ndim == 1 and audio.dtype == np.float32
    assert SAMPLE_RATE * 10 < audio.shape[0] < SAMPLE_RATE * 12
    assert 0 < audio.std() < 1

    from_array = log_mel_spectrogram(audio)
    from_path = log_mel_spectrogram(jfk_path)
    from_tensor = log_mel_spectrogram(torch.from_numpy(audio))
    assert isinstance(from_array, torch.Tensor) and from_array.dtype == torch.float32
    assert from_array.shape == (80, audio.shape[0] // 160)
    assert torch.allclose(from_array, from_path) and torch.allclose(from_array, from_tensor)
    assert from_array.max() - from_array.min() <= 2.0
    assert log_mel_spectrogram(audio, n_mels=128, padding=whisper.audio.N_SAMPLES).shape == (128, audio.shape[0] // 160 + 3000)


def test_readme_window(whisper, jfk_path):
    audio = whisper.pad_or_trim(whisper.load_audio(jfk_path))
    assert audio.shape == (whisper.audio.N_SAMPLES,)
    mel = whisper.log_mel_spectrogram(audio)
    assert mel.shape == (80, whisper.audio.N_FRAMES)


def test_pad_or_trim_keeps_type_and_axis(whisper):
    x = np.ones((2, 5), dtype=np.float32)
    assert whisper.pad_or_trim(x, 3).shape == (2, 3)
    padded = whisper.pad_or_trim(x, 8)
    assert padded.shape == (2, 8) and padded[:, 5:].sum() == 0 and isinstance(padded, np.ndarray)
    assert whisper.pad_or_trim(x, 4, axis=0).shape == (4, 5)
    t = torch.ones(2, 5)
    assert whisper.pad_or_trim(t, 8).shape == (2, 8) and torch.is_tensor(whisper.pad_or_trim(t, 8))
    assert whisper.pad_or_trim(t, 3).shape == (2, 3)
    assert whisper.pad_or_trim(t, 4, axis=0)[2:].sum() == 0


def test_constants(whisper):
    a = whisper.audio
    assert (a.SAMPLE_RATE, a.N_FFT, a.HOP_LENGTH, a.CHUNK_LENGTH) == (16000, 400, 160, 30)
    assert (a.N_SAMPLES, a.N_FRAMES, a.N_SAMPLES_PER_TOKEN) == (480000, 3000, 320)
    assert (a.FRAMES_PER_SECOND, a.TOKENS_PER_SECOND) == (100, 50)
    assert a.mel_filters("cpu", 80).shape == (80, 201)


def test_unreadable_audio_raises_runtime_error(whisper, tmp_path):
    bad = tmp_path / "notes.mp3"
    bad.write_text("not audio")
    with pytest.raises(RuntimeError, match="Failed to load audio"):
        whisper.load_audio(str(bad))
