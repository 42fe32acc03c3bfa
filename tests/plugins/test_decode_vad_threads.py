"""Silero VAD from several threads at once (a server's workers): each thread gets the regions it gets alone."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from mediakit.config import BATCHED_VAD

pytest.importorskip("silero_vad", reason="vad needs the silero-vad package")


def test_concurrent_vad_calls_do_not_share_the_model_state(jfk_path):
    from mediakit.config import DemuxOptions
    from mediakit.pipeline import demuxer_for
    from mediakit.plugins import load_plugins
    from mediakit.records import FeatureSpec
    from mediakit_decode.vad import speech_regions

    audio = demuxer_for(load_plugins().pm, str(jfk_path), DemuxOptions()).demux(str(jfk_path), FeatureSpec())
    inputs = [np.concatenate([np.zeros(k * 8000, np.float32), audio.samples]) for k in range(4)]  # other offsets
    alone = [speech_regions(x, 16000, BATCHED_VAD) for x in inputs]
    with ThreadPoolExecutor(4) as pool:
        for _ in range(3):
            assert list(pool.map(lambda x: speech_regions(x, 16000, BATCHED_VAD), inputs)) == alone


@pytest.mark.parametrize("path", ["sequence", "window at a time"])
def test_coverage_probabilities_are_silero_wrappers_own(jfk_path, monkeypatch, path):
    # the feature-source loop calls ONNX Runtime directly (silero-vad's sequence model where it ships, else its
    # streaming model a window at a time), and the coverage probe runs it in a worker thread: both give the
    # wrapper's probabilities, number for number (the repair's stretches depend on them)
    import importlib.resources

    import silero_vad

    from mediakit_decode import vad

    if path == "sequence":
        if not importlib.resources.files("silero_vad").joinpath("data", "silero_vad_16k_sequence.onnx").is_file():
            pytest.skip(f"silero-vad {getattr(silero_vad, '__version__', '')} has no sequence model (6.2 and later)")
        assert vad._sequence_session() is not None, "silero-vad ships the sequence model, but it was not loaded"
    else:
        monkeypatch.setattr(vad, "_sequence_session", lambda: None)
    from mediakit.config import DemuxOptions
    from mediakit.pipeline import demuxer_for
    from mediakit.plugins import load_plugins
    from mediakit.records import FeatureSpec
    from mediakit_decode.coverage import SpeechProbe
    from mediakit_decode.vad import speech_probabilities_of

    audio = demuxer_for(load_plugins().pm, str(jfk_path), DemuxOptions()).demux(str(jfk_path), FeatureSpec())
    joined = np.concatenate([audio.samples] * 3 + [audio.samples[:1000]])  # over one read, not whole windows

    class Source:
        spec = FeatureSpec()
        n_samples = len(joined)
        source = "jfk"

        def samples(self, start, stop):
            return joined[start:stop]

    wrapper = _wrapper_probabilities(joined)
    assert np.array_equal(speech_probabilities_of(Source()), wrapper)
    assert np.array_equal(SpeechProbe(Source()).map().probs, wrapper)


def test_vad_regions_keep_the_callers_torch_threads():
    # silero_vad's import sets torch to one thread; batched mode without the coverage pass imported it
    # through speech_regions_of first, and every encoder and decoder step after ran on one core
    import subprocess
    import sys

    script = (
        "import numpy as np, torch\n"
        "torch.set_num_threads(2)\n"
        "from mediakit.config import BATCHED_VAD\n"
        "from mediakit.records import FeatureSpec\n"
        "from mediakit_decode.vad import speech_regions_of\n"
        "samples = np.zeros(16000 * 3, np.float32)\n"
        "class Source:\n"
        "    spec = FeatureSpec()\n"
        "    n_samples = len(samples)\n"
        "    def samples(self, a, b):\n"
        "        return samples[a:b]\n"
        "assert speech_regions_of(Source(), BATCHED_VAD) == []\n"
        "print(torch.get_num_threads())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "2"


def _wrapper_probabilities(samples: np.ndarray) -> np.ndarray:
    """Silero's probability of every 512 samples (16 kHz) through silero-vad's own model wrapper, zero-padded
    at the end: the reference the library's direct session calls must equal."""
    import torch

    from mediakit_decode.vad import VAD_FRAME, _silero

    model, _ = _silero()
    audio = torch.from_numpy(np.ascontiguousarray(samples, dtype=np.float32))
    model.reset_states()
    probs = []
    for start in range(0, len(audio), VAD_FRAME):
        chunk = audio[start : start + VAD_FRAME]
        if len(chunk) < VAD_FRAME:
            chunk = torch.nn.functional.pad(chunk, (0, VAD_FRAME - len(chunk)))
        probs.append(model(chunk, 16000).item())
    model.reset_states()
    return np.asarray(probs, dtype=np.float32)
