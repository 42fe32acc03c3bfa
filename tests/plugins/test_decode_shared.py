"""Batched mode through a batcher: two inputs' windows decoded in one batch, each input's result as alone."""

from __future__ import annotations

import threading

import pytest

from mediakit.config import DecodeOptions
from mediakit_decode.decoder import WhisperDecoder
from mediakit_decode.shared import Chunk, chunk_key
from test_decode_fakes import one_thread  # noqa: F401  (fixture)
from test_decode_fakes import FakeRuntime, Window, fake_features, ts

FAST = dict(beam_size=2, best_of=2, language="en", batch_size=4, vad=False)
SCRIPT = {
    0: Window([ts(0), 7, 8, ts(2)], confident=False),  # improbable: falls back to sampling
    1000: Window([ts(0), 5, ts(1)]),
    2000: Window([ts(0), 6, 9, ts(3)]),
}


@pytest.fixture(autouse=True)
def _fake_model_on_one_thread(one_thread):
    yield


class Gather:
    """A batcher that decodes the first ``n`` items it gets in one call (later ones alone)."""

    def __init__(self, n: int):
        self.n, self.items, self.keys, self.results, self.batches = n, [], [], None, []
        self.cond = threading.Condition()

    def decode(self, key, item, size, decode_many):
        with self.cond:
            if len(self.items) >= self.n:
                self.batches.append(1)
                return decode_many([item])[0]
            index = len(self.items)
            self.items.append(item)
            self.keys.append(key)
            if len(self.items) == self.n:
                self.batches.append(self.n)
                self.results = decode_many(self.items)
                self.cond.notify_all()
            while self.results is None:
                assert self.cond.wait(10), "the other input never came"
            return self.results[index]


def segments(result):
    return [(s.start, s.end, s.text, s.tokens, s.temperature) for s in result.segments]


def test_two_inputs_share_a_batch_and_each_gets_its_lone_result():
    a, b = dict(clip_timestamps="0,10"), dict(clip_timestamps="10,20,20,30")
    alone_a = WhisperDecoder(DecodeOptions(**FAST, **a)).decode(FakeRuntime(SCRIPT), fake_features(30.0))
    alone_b = WhisperDecoder(DecodeOptions(**FAST, **b)).decode(FakeRuntime(SCRIPT), fake_features(30.0))
    assert segments(alone_a)[0][4] > 0  # the first window was decoded again, hotter (sampling)

    runtime, batcher, out = FakeRuntime(SCRIPT), Gather(2), {}

    def run(name, options):
        out[name] = WhisperDecoder(DecodeOptions(**FAST, **options)).with_batcher(batcher).decode(runtime, fake_features(30.0))

    threads = [threading.Thread(target=run, args=("a", a)), threading.Thread(target=run, args=("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert segments(out["a"]) == segments(alone_a)
    assert segments(out["b"]) == segments(alone_b)
    assert batcher.batches[0] == 2 and batcher.keys[0] == batcher.keys[1]
    assert 6 in runtime.rows_per_call  # 3 windows x 2 beams in one step: the inputs were decoded together


def _key(runtime, **options):
    from mediakit_decode.job import Job

    options = DecodeOptions(**{**FAST, **options})
    job = Job.create(runtime, runtime.get_tokenizer(language=options.language, task=options.task), options)
    return chunk_key(Chunk(job, fake_features(1.0).mel, ((0, 100),), None))


def test_only_chunks_that_decode_alike_share_a_key():
    runtime = FakeRuntime(SCRIPT)
    base = _key(runtime)
    assert _key(runtime, word_timestamps=True, batch_size=8, vad=True, zh_script="simplified") == base  # per input
    assert _key(runtime, beam_size=3) != base
    assert _key(runtime, language="zh") != base
    assert _key(runtime, task="translate") != base
    assert _key(FakeRuntime(SCRIPT)) != base  # another model
    assert _key(runtime, temperature=(0.4, 0.6)) is None  # sampling from the start: never shared
