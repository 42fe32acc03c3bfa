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


def test_coverage_probabilities_are_silero_wrappers_own(jfk_path):
    # the feature-source loop calls the ONNX session directly, and the coverage probe runs it in a worker
    # thread: both give the wrapper's probabilities, number for number (the repair's stretches depend on them)
    from mediakit.config import DemuxOptions
    from mediakit.pipeline import demuxer_for
    from mediakit.plugins import load_plugins
    from mediakit.records import FeatureSpec
    from mediakit_decode.coverage import SpeechProbe
    from mediakit_decode.vad import speech_probabilities, speech_probabilities_of

    audio = demuxer_for(load_plugins().pm, str(jfk_path), DemuxOptions()).demux(str(jfk_path), FeatureSpec())
    joined = np.concatenate([audio.samples] * 3 + [audio.samples[:1000]])  # over one read, not whole windows

    class Source:
        spec = FeatureSpec()
        n_samples = len(joined)
        source = "jfk"

        def samples(self, start, stop):
            return joined[start:stop]

    wrapper = speech_probabilities(joined, 16000)
    assert np.array_equal(speech_probabilities_of(Source()), wrapper)
    assert np.array_equal(SpeechProbe(Source()).map().probs, wrapper)
