"""The logmel featurizer: Whisper's log-mel, checked against an independent float64 numpy version,
a small golden file, openai-whisper's published jfk statistics and the Slaney filter facts."""

from __future__ import annotations

import json
import math
import subprocess
from pathlib import Path

import numpy as np
import pytest

from mediakit.errors import StageError
from mediakit.records import Audio, FeatureSpec
from mediakit_logmel import LogMelFeaturizer, log_mel_spectrogram, mel_filters
from mediakit_logmel import plugin as logmel_plugin
from mediakit_logmel.spectrogram import _log_mel

GOLDEN = Path(__file__).parents[1] / "data" / "logmel_golden.json"


# --- an independent float64 reference: plain numpy, no torch, written from the published facts ---


def reference_filters(sample_rate: int, n_fft: int, n_mels: int) -> np.ndarray:
    def to_mel(hz: float) -> float:
        return hz * 3.0 / 200.0 if hz < 1000.0 else 15.0 + math.log(hz / 1000.0) * 27.0 / math.log(6.4)

    def to_hz(mel: float) -> float:
        return mel * 200.0 / 3.0 if mel < 15.0 else 1000.0 * math.exp((mel - 15.0) * math.log(6.4) / 27.0)

    top = to_mel(sample_rate / 2)
    edges = [to_hz(top * k / (n_mels + 1)) for k in range(n_mels + 2)]
    bins = [sample_rate / 2 * j / (n_fft // 2) for j in range(n_fft // 2 + 1)]
    out = np.zeros((n_mels, len(bins)))
    for i in range(n_mels):
        lo, mid, hi = edges[i], edges[i + 1], edges[i + 2]
        for j, f in enumerate(bins):
            tri = min((f - lo) / (mid - lo), (hi - f) / (hi - mid))
            out[i, j] = max(tri, 0.0) * 2.0 / (hi - lo)
    return out


def reference_log_mel(samples: np.ndarray, n_mels: int, padding: int = 0) -> np.ndarray:
    n_fft, hop = 400, 160
    x = np.concatenate([samples.astype(np.float64), np.zeros(padding)])
    x = np.pad(x, n_fft // 2, mode="reflect")
    n_frames = (len(x) - n_fft) // hop  # centred frames, minus the dropped last one
    window = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)  # periodic Hann
    frames = np.stack([x[f * hop : f * hop + n_fft] * window for f in range(n_frames)], axis=1)
    power = np.abs(np.fft.rfft(frames, axis=0)) ** 2
    log = np.log10(np.maximum(reference_filters(16000, n_fft, n_mels) @ power, 1e-10))
    return (np.maximum(log, log.max() - 8.0) + 4.0) / 4.0


def synthetic_signal() -> np.ndarray:
    """1.5 s at 16 kHz: a 440 Hz tone, a rising chirp, a high tone, faint noise and 0.1 s of silence (deterministic)."""
    t = np.arange(24000) / 16000.0
    x = 0.5 * np.sin(2 * np.pi * 440 * t) + 0.25 * np.sin(2 * np.pi * (200 + 1500 * t) * t)
    x += 0.05 * np.sin(2 * np.pi * 6100 * t)
    k = np.arange(24000, dtype=np.int64)
    x += 0.01 * ((k * k * 7919) % 10007 / 10007 - 0.5)  # broadband pseudo-noise from integer arithmetic
    x[9600:11200] = 0.0
    return x.astype(np.float32)


GOLDEN_FRAMES = {80: [0, 1, 2, 40, 65, 100, 148, 149], 128: [0, 70, 149]}


def write_golden() -> None:
    """Regenerate the golden file (run this module as a script); review the diff by eye."""
    x = synthetic_signal()
    lines = [
        "{",
        '"signal": "tests/plugins/test_logmel.py::synthetic_signal, 24000 samples, padding 0",',
        '"generator": "reference_log_mel, float64 numpy; values[k] is the column of frame frames[k]",',
    ]
    for n_mels, frames in GOLDEN_FRAMES.items():
        mel = reference_log_mel(x, n_mels)
        rows = [json.dumps([round(float(v), 6) for v in mel[:, f]]) for f in frames]
        last = n_mels == max(GOLDEN_FRAMES)
        lines.append(f'"mel_{n_mels}": {{"frames": {json.dumps(frames)}, "values": [')
        lines.append(",\n".join(rows))
        lines.append("]}" + ("" if last else ","))
    GOLDEN.write_text("\n".join(lines) + "\n}\n")


# --- tests ---


@pytest.mark.parametrize("n_mels", [80, 128])
def test_matches_golden_file(n_mels):
    golden = json.loads(GOLDEN.read_text())[f"mel_{n_mels}"]
    mel = log_mel_spectrogram(synthetic_signal(), FeatureSpec(n_mels=n_mels))
    assert mel.shape == (n_mels, 150) and mel.dtype == np.float32
    expected = np.array(golden["values"]).T  # (n_mels, len(frames))
    np.testing.assert_allclose(mel[:, golden["frames"]], expected, atol=1e-4, rtol=0)


def test_golden_file_is_what_the_reference_computes():
    golden = json.loads(GOLDEN.read_text())["mel_80"]
    reference = reference_log_mel(synthetic_signal(), 80)
    np.testing.assert_allclose(reference[:, golden["frames"]], np.array(golden["values"]).T, atol=1e-6, rtol=0)


def test_matches_reference_with_padding_and_floor():
    rng = np.random.default_rng(7)
    x = (0.3 * rng.standard_normal(5000)).astype(np.float32)
    mel = log_mel_spectrogram(x, FeatureSpec(), padding=16000)
    reference = reference_log_mel(x, 80, padding=16000)
    assert mel.shape == reference.shape == (80, 21000 // 160)
    np.testing.assert_allclose(mel, reference, atol=1e-4, rtol=0)
    # the padded frames sit at the floor, exactly 2.0 below the maximum
    assert mel[:, -10:].max() == pytest.approx(mel.max() - 2.0, abs=1e-6)


def test_jfk_statistics_match_openai_whisper(jfk_path):
    import imageio_ffmpeg

    # openai-whisper's load_audio: ffmpeg to 16 kHz mono s16le, then / 32768
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-i", str(jfk_path), "-f", "s16le", "-ac", "1", "-ar", "16000", "-"]
    samples = np.frombuffer(subprocess.run(command, capture_output=True, check=True).stdout, np.int16) / np.float32(32768)
    assert len(samples) == 176_000
    mel = log_mel_spectrogram(np.pad(samples, (0, 480_000 - len(samples))), FeatureSpec())
    assert mel.shape == (80, 3000)
    assert float(mel.min()) == pytest.approx(-0.538742, abs=1e-5)
    assert float(mel.max()) == pytest.approx(1.461258, abs=1e-5)
    assert float(mel.mean()) == pytest.approx(-0.295029, abs=1e-5)
    assert float(mel.std()) == pytest.approx(0.422067, abs=1e-5)


@pytest.mark.parametrize(("n_mels", "peak"), [(80, 0.02588), (128, 0.04168)])
def test_slaney_filters(n_mels, peak):
    filters = mel_filters(16000, 400, n_mels)
    assert filters.shape == (n_mels, 201) and filters.dtype == np.float32
    assert float(filters.max()) == pytest.approx(peak, abs=1e-5)
    np.testing.assert_allclose(filters, reference_filters(16000, 400, n_mels), atol=1e-8, rtol=0)
    assert (filters >= 0).all()
    # each triangle starts where its left neighbour peaks: filters overlap in pairs only
    assert ((filters > 0).sum(axis=0) <= 2).all()


def test_blocks_do_not_change_the_result():
    x = synthetic_signal()
    whole = _log_mel(x, FeatureSpec(), padding=3000, block_frames=10_000)
    blocked = _log_mel(x, FeatureSpec(), padding=3000, block_frames=7)
    np.testing.assert_allclose(blocked, whole, atol=1e-6, rtol=0)


@pytest.mark.parametrize("n", [0, 100, 160, 250, 399])
def test_short_inputs(n):
    x = (0.2 * np.sin(np.arange(n) / 3.0)).astype(np.float32)
    mel = log_mel_spectrogram(x, FeatureSpec())
    assert mel.shape == (80, n // 160)
    if n > 200:  # numpy's reflect padding needs more samples than the pad width to match torch's
        np.testing.assert_allclose(mel, reference_log_mel(x, 80), atol=1e-4, rtol=0)


def test_featurizer_pads_like_transcribe():
    x = synthetic_signal()
    features = LogMelFeaturizer(FeatureSpec()).featurize(Audio(x, 16000, "synthetic"))
    assert features.mel.shape == (80, (24000 + 480_000) // 160)
    assert features.content_frames == 150
    assert features.duration == pytest.approx(1.5)
    np.testing.assert_allclose(features.mel, reference_log_mel(x, 80, padding=480_000), atol=1e-4, rtol=0)
    assert features.audio.samples is x


def test_featurizer_rejects_the_wrong_sample_rate():
    with pytest.raises(StageError, match=r"clip\.wav: .*16000 Hz.*8000 Hz"):
        LogMelFeaturizer(FeatureSpec()).featurize(Audio(np.zeros(800, np.float32), 8000, "clip.wav"))


def test_hook_returns_a_featurizer_for_the_model_spec():
    from mediakit.testing import make_plugin_manager

    pm = make_plugin_manager(logmel_plugin, builtins=False)
    featurizer = pm.hook.mediakit_make_featurizer(spec=FeatureSpec(n_mels=128))
    features = featurizer.featurize(Audio(np.zeros(16000, np.float32), 16000, "silence"))
    assert features.mel.shape == (128, 3100)


def test_plugin_module_does_not_import_torch():
    code = "import sys, mediakit_logmel.plugin; assert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([__import__("sys").executable, "-c", code], check=True)


if __name__ == "__main__":
    write_golden()
