"""``mediakit serve --batch_size``: windows of concurrent requests decoded together, each request's
transcript the same as when it is sent alone; a bad file or a client that gives up hurts no other."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest

from serverkit import DATA, jfk_samples, openai, start_server, stop_server, write_wav

pytestmark = pytest.mark.weights

SHARED_SPEECH = Path(__file__).resolve().parents[3] / "shared" / "data" / "speech"
SHARED_CLIPS = ("en_librispeech_1995-1837-0001.wav", "en_cmuarctic_aew_a0001.wav", "en_mfa_whispered.flac")


@pytest.fixture(scope="module")
def batching_server(tmp_path_factory):
    """tiny.en; up to 4 windows of any requests at once (and so 4 workers)."""
    srv = start_server(tmp_path_factory.mktemp("batching"), "--model", "tiny.en", "--batch_size", "4",
                       "--max_upload_mb", "32")  # fmt: skip
    yield srv
    stop_server(srv)


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> list[Path]:
    """jfk.flac, its two halves, and a few clips of the shared speech set when it is there."""
    folder = tmp_path_factory.mktemp("clips")
    samples = jfk_samples()
    half = len(samples) // 2
    out = [DATA / "jfk.flac", write_wav(folder / "jfk_a.wav", samples[:half]), write_wav(folder / "jfk_b.wav", samples[half:])]
    out += [SHARED_SPEECH / name for name in SHARED_CLIPS if (SHARED_SPEECH / name).exists()]
    return out


def _transcribe(client, path: Path):
    with open(path, "rb") as f:
        result = client.audio.transcriptions.create(file=f, model="whisper-1", response_format="verbose_json")
    return result.text, [(s.start, s.end, s.text) for s in result.segments]


@pytest.fixture(scope="module")
def alone(batching_server, clips):
    """Each clip's transcript with nothing else in the server."""
    client = batching_server.client()
    return {path: _transcribe(client, path) for path in clips}


def test_concurrent_requests_share_batches_and_get_their_text_alone(batching_server, clips, alone, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00\x00\x00WAVEfmt definitely not audio")
    shared_before = batching_server.metric("mediakit_batches_shared_total")
    client = batching_server.client()
    requests = [*clips, bad, *clips]
    with ThreadPoolExecutor(len(requests)) as pool:
        futures = [pool.submit(_transcribe, client, path) for path in requests]
    for path, future in zip(requests, futures):
        if path == bad:
            with pytest.raises(openai.BadRequestError):
                future.result()
        else:
            assert future.result() == alone[path], path.name
    assert batching_server.metric("mediakit_batches_shared_total") > shared_before
    assert batching_server.metric("mediakit_batch_windows_total") >= 2 * len(clips)
    assert not batching_server.leftovers()


def test_a_client_that_gives_up_is_cancelled_without_hurting_its_batch_mates(batching_server, clips, alone, tmp_path):
    # 6 minutes: 12 copies of the clip 20 s apart, one per window (a window holding the same sentence
    # twice is too repetitive and falls back through the whole ladder: one batch would take long)
    jfk = jfk_samples()
    long = write_wav(tmp_path / "long.wav", np.tile(np.concatenate([jfk, np.zeros(20 * 16000, np.float32)]), 12))
    cancelled = batching_server.metric("mediakit_requests_cancelled_total")
    impatient = batching_server.client(timeout=3.0)
    gave_up = threading.Event()

    def give_up():
        with pytest.raises(openai.APITimeoutError):
            _transcribe(impatient, long)
        gave_up.set()

    thread = threading.Thread(target=give_up)
    thread.start()
    time.sleep(1.0)
    client = batching_server.client()
    with ThreadPoolExecutor(2) as pool:
        texts = list(pool.map(lambda p: _transcribe(client, p), clips[:2]))
    assert texts == [alone[clips[0]], alone[clips[1]]]
    thread.join(30)
    assert gave_up.is_set()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and batching_server.metric("mediakit_transcriptions_running") > 0:
        time.sleep(0.2)
    assert batching_server.metric("mediakit_transcriptions_running") == 0  # the long one stopped
    assert batching_server.metric("mediakit_requests_cancelled_total") == cancelled + 1


def test_batching_is_the_batched_mode_of_mediakit_transcribe(batching_server, clips, alone):
    """With --batch_size 4 a request is decoded as `mediakit transcribe --batch_size 4` decodes it."""
    import mediakit

    reference = mediakit.transcribe(clips[0], model="tiny.en", batch_size=4)
    assert alone[clips[0]][0] == reference.text.strip()
