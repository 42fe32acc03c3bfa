"""Under load: a full queue answers 429, /health stays quick while a long file decodes, and a client that
goes away stops its transcription and frees its slot. One worker and a queue of one make it deterministic."""

from __future__ import annotations

import statistics
import threading
import time

import openai
import pytest

from serverkit import httpx, repeated_jfk, start_server, stop_server


@pytest.fixture(scope="module")
def busy_server(tmp_path_factory):
    srv = start_server(tmp_path_factory.mktemp("busy"), "--model", "tiny.en", "--workers", "1", "--max_queue", "1",
                       "--max_upload_mb", "64", "--retry_after", "7")
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def long_wav(tmp_path_factory):
    """About 7 minutes of speech: the JFK clip decoded at 16 kHz and repeated."""
    return repeated_jfk(tmp_path_factory.mktemp("long") / "long.wav", 40)


def _wait_for(predicate, limit: float, what: str) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} not within {limit} s")


def _send_and_give_up(server, path, timeout: float, errors: list) -> threading.Thread:
    def send() -> None:
        client = server.client(timeout=timeout)
        try:
            with open(path, "rb") as media:
                client.audio.transcriptions.create(file=media, model="whisper-1", language="en")
        except openai.APITimeoutError:
            pass  # the client gives up and disconnects, as intended
        except Exception as err:  # noqa: BLE001 (reported by the test)
            errors.append(err)

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def test_full_queue_429_quick_health_and_cancel_on_disconnect(busy_server, long_wav, jfk):
    server, errors = busy_server, []
    first = _send_and_give_up(server, long_wav, 10.0, errors)
    _wait_for(lambda: server.metric("mediakit_transcriptions_running") == 1, 30, "the first request running")
    pings = []
    for _ in range(5):
        start = time.perf_counter()
        assert httpx.get(server.url + "/health", timeout=5).status_code == 200
        pings.append(time.perf_counter() - start)
    assert statistics.median(pings) < 0.1, pings  # the event loop is not blocked by the decoding
    second = _send_and_give_up(server, long_wav, 10.0, errors)
    _wait_for(lambda: server.metric("mediakit_queue_depth") == 1, 30, "the second request waiting")
    with open(jfk, "rb") as media, pytest.raises(openai.RateLimitError) as refused:
        server.client().audio.transcriptions.create(file=media, model="whisper-1")
    assert refused.value.response.headers["retry-after"] == "7"
    assert refused.value.body["code"] is not None or refused.value.body["type"]
    first.join(30)
    second.join(30)
    assert not errors, errors
    # both clients went away: their work stops within seconds and the slots are free again
    _wait_for(lambda: server.metric("mediakit_transcriptions_running") == 0
              and server.metric("mediakit_queue_depth") == 0, 20, "the slots freed")
    assert server.metric("mediakit_requests_cancelled_total") >= 1
    with open(jfk, "rb") as media:
        text = server.client().audio.transcriptions.create(file=media, model="whisper-1").text
    assert "fellow Americans" in text
    assert not server.leftovers()
