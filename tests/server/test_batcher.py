"""The shared batcher on its own: grouping by key and size, failures kept to their request, cancelling."""

from __future__ import annotations

import threading
import time

import pytest

from mediakit.server.batching import BatcherClosed, SharedBatcher


class Recorder:
    """A decode_many that records its batches; it can be held until released, and fails on "bad"."""

    def __init__(self) -> None:
        self.batches: list[list[str]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()

    def __call__(self, items):
        self.entered.set()
        self.gate.wait(10)
        self.batches.append(list(items))
        if "bad" in items:
            raise ValueError("cannot decode bad")
        return [item.upper() for item in items]


def run_all(batcher: SharedBatcher, calls, cancelled=None):
    """Call batcher.decode for each (key, item, size) on its own thread; the results (or errors) in order."""
    out: list[object] = [None] * len(calls)

    def one(i, key, item, size):
        try:
            out[i] = batcher.decode(key, item, size, decode, cancelled.get(item) if cancelled else None)
        except Exception as err:  # noqa: BLE001
            out[i] = err

    decode = calls[0][3]
    threads = [threading.Thread(target=one, args=(i, k, it, s)) for i, (k, it, s, _) in enumerate(calls)]
    for t in threads:
        t.start()
        time.sleep(0.05)  # in this order into the queue
    return threads, out


def hold_first(batcher: SharedBatcher, recorder: Recorder) -> threading.Thread:
    """Occupy the batcher thread with one item until recorder.gate is set."""
    recorder.gate.clear()
    thread = threading.Thread(target=batcher.decode, args=("k", "first", 1, recorder))
    thread.start()
    assert recorder.entered.wait(5)
    return thread


def test_items_of_one_key_share_batches_of_at_most_size_windows_oldest_first():
    recorder, batcher = Recorder(), SharedBatcher(4)
    try:
        first = hold_first(batcher, recorder)
        calls = [("k", "a", 2, recorder), ("j", "x", 1, recorder), ("k", "b", 1, recorder), ("k", "c", 2, recorder),
                 ("k", "d", 1, recorder)]  # fmt: skip
        threads, out = run_all(batcher, calls)
        recorder.gate.set()
        for t in [first, *threads]:
            t.join(10)
        assert out == ["A", "X", "B", "C", "D"]
        assert recorder.batches == [["first"], ["a", "b", "d"], ["x"], ["c"]]
        assert batcher.stats.batches == 4 and batcher.stats.shared == 1 and batcher.stats.windows == 8
    finally:
        batcher.close()


def test_a_failing_item_fails_alone_and_its_batch_mates_get_their_results():
    recorder, batcher = Recorder(), SharedBatcher(8)
    try:
        first = hold_first(batcher, recorder)
        threads, out = run_all(batcher, [("k", item, 1, recorder) for item in ("a", "bad", "c")])
        recorder.gate.set()
        for t in [first, *threads]:
            t.join(10)
        assert out[0] == "A" and out[2] == "C"
        assert isinstance(out[1], ValueError) and "bad" in str(out[1])
        assert ["a", "bad", "c"] in recorder.batches and ["a"] in recorder.batches and ["c"] in recorder.batches
        assert batcher.stats.retried == 3
    finally:
        batcher.close()


def test_a_cancelled_request_leaves_the_queue_before_its_batch_is_decoded():
    recorder, batcher = Recorder(), SharedBatcher(8)
    stop = threading.Event()
    try:
        first = hold_first(batcher, recorder)
        gone = {"b": lambda: RuntimeError("cancelled") if stop.is_set() else None}
        threads, out = run_all(batcher, [("k", "a", 1, recorder), ("k", "b", 1, recorder)], gone)
        stop.set()
        threads[1].join(5)
        assert isinstance(out[1], RuntimeError)  # answered while the batcher is still busy
        recorder.gate.set()
        for t in [first, threads[0]]:
            t.join(10)
        assert out[0] == "A" and recorder.batches == [["first"], ["a"]]
    finally:
        batcher.close()


def test_closing_answers_the_waiting_items():
    recorder, batcher = Recorder(), SharedBatcher(2)
    first = hold_first(batcher, recorder)
    threads, out = run_all(batcher, [("k", "a", 1, recorder)])
    batcher.close()
    threads[0].join(5)
    assert isinstance(out[0], BatcherClosed)
    recorder.gate.set()
    first.join(10)
    with pytest.raises(BatcherClosed):
        batcher.decode("k", "b", 1, recorder)


def test_the_server_batch_size_is_the_default_a_prompt_or_a_field_overrides():
    from mediakit.server.forms import parse_request
    from mediakit.server.uploads import UploadedForm

    def batch_size(*fields, default=4):
        form = UploadedForm(fields=list(fields), path="/tmp/clip.wav", filename="clip.wav")
        return parse_request(form, "transcribe", (), None, default).decode.batch_size

    assert batch_size() == 4
    assert batch_size(default=0) == 0  # no --batch_size: the default mode, as before
    assert batch_size(("prompt", "Kennedy")) == 0  # batched mode has no prompt
    assert batch_size(("batch_size", "0")) == 0
    assert batch_size(("prompt", "Kennedy"), ("batch_size", "2")) == 2
