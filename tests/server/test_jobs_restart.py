"""The jobs API across a SIGKILL: a real `mediakit serve` killed mid-job and started again on the same
--data_dir resumes its interrupted and queued jobs, never serves partial text, and keeps finished results;
--keep_days removes old jobs and their files."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from serverkit import DATA, KEY, httpx, kill_server, repeated_jfk, start_server, stop_server

PREFIX = "/mediakit/v1"
HEADERS = {"Authorization": f"Bearer {KEY}"}
# Greedy decoding, once per window, keeps the long file quick on two cores (the repeated clip would set off the
# temperature fallback's compression check); the restarted job must decode it with the same options.
OPTIONS = {"language": "en", "beam_size": "1", "temperature_increment_on_fallback": "none",
           "response_format": ["srt", "txt", "json"]}


def _submit(server, path: Path) -> str:
    with open(path, "rb") as media:
        answer = httpx.post(server.url + PREFIX + "/jobs", headers=HEADERS, timeout=60,
                            files={"file": (path.name, media, "audio/wav")}, data=OPTIONS)
    assert answer.status_code == 202, answer.text
    return answer.json()["id"]


def _job(server, job_id: str) -> dict:
    answer = httpx.get(f"{server.url}{PREFIX}/jobs/{job_id}", headers=HEADERS, timeout=10)
    assert answer.status_code == 200, answer.text
    return answer.json()


def _result(server, job_id: str, fmt: str) -> httpx.Response:
    return httpx.get(f"{server.url}{PREFIX}/jobs/{job_id}/result.{fmt}", headers=HEADERS, timeout=30)


def _until(predicate, limit: float, what: str):
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"{what}: not within {limit} s")


def _wait_done(server, job_id: str, limit: float = 120.0) -> dict:
    """Poll until the job settles; it must settle as done."""
    job = _until(lambda: (j := _job(server, job_id))["status"] in ("done", "failed", "cancelled") and j, limit,
                 f"job {job_id} finished")
    assert job["status"] == "done", job
    return job


def _covers_the_file(server, job_id: str, seconds: float) -> None:
    """The transcript runs to the end of the media (a partial one stops at a 30 s window's edge)."""
    segments = json.loads(_result(server, job_id, "json").text)["segments"]
    assert segments and segments[-1]["end"] > seconds - 11.0, (seconds, segments[-1])


def _timed_text(server, job_id: str) -> list[tuple]:
    segments = json.loads(_result(server, job_id, "json").text)["segments"]
    return [(s["start"], s["end"], s["text"], s.get("tokens")) for s in segments]


@pytest.fixture(scope="module")
def talk(tmp_path_factory) -> Path:
    """66 s of speech: three 30 s windows, so a kill can land with some of the file decoded."""
    return repeated_jfk(tmp_path_factory.mktemp("talk") / "talk.wav", 6)


def test_a_server_killed_mid_job_resumes_it_from_the_start_and_keeps_what_was_finished(tmp_path, talk):
    data = tmp_path / "data"
    args = ("--model", "tiny.en", "--workers", "1", "--data_dir", str(data))
    first = start_server(tmp_path / "first", *args)
    try:
        finished = _submit(first, DATA / "jfk.flac")
        _wait_done(first, finished)
        before = {fmt: _result(first, finished, fmt).content for fmt in ("srt", "txt")}
        interrupted = _submit(first, talk)
        queued = _submit(first, talk)  # one worker: it waits, and later serves as the clean run to compare with

        def decoding() -> bool:
            job = _job(first, interrupted)
            assert job["status"] != "done", "the long file finished before the kill; the test needs a longer one"
            return job["status"] == "running" and 0 < job["progress"]["done"] < job["progress"]["total"]

        _until(decoding, 90, "the long job decoding with part of its audio done")
        assert _job(first, queued)["status"] == "queued"
        assert _result(first, interrupted, "txt").status_code == 409
    finally:
        kill_server(first)

    folder = data / "jobs" / interrupted / "0"
    assert not (folder / "transcript.json").exists()
    # As if the kill had come while the results were being written: partial files that must never be served.
    (folder / "result.txt").write_text("And so my fellow Americans", encoding="utf-8")
    (folder / "transcript.json").write_text(json.dumps({"text": "And so", "segments": [], "language": "en"}))

    second = start_server(tmp_path / "second", *args)
    try:
        assert _job(second, interrupted)["status"] in ("queued", "running")
        assert _result(second, interrupted, "txt").status_code == 409
        resumed = _wait_done(second, interrupted)
        clean = _wait_done(second, queued)
        assert resumed["files"][0]["attempts"] == 2 and clean["files"][0]["attempts"] == 1
        for fmt in ("srt", "txt"):
            assert _result(second, interrupted, fmt).content == _result(second, queued, fmt).content, fmt
        # json too, but for its scores: avg_logprob varies in the 7th digit between two runs of one process on the CPU
        assert _timed_text(second, interrupted) == _timed_text(second, queued)
        _covers_the_file(second, interrupted, resumed["progress"]["total"])
        assert {fmt: _result(second, finished, fmt).content for fmt in ("srt", "txt")} == before
        listed = httpx.get(second.url + PREFIX + "/jobs", headers=HEADERS, timeout=10).json()["data"]
        assert [j["id"] for j in listed] == [queued, interrupted, finished]
    finally:
        stop_server(second)


def test_keep_days_removes_settled_jobs_and_their_files_but_not_unfinished_ones(tmp_path):
    data = tmp_path / "data"
    args = ("--model", "tiny.en", "--workers", "1", "--data_dir", str(data))
    first = start_server(tmp_path / "first", *args)
    try:
        old = _submit(first, DATA / "jfk.flac")
        _wait_done(first, old)
        pending = _submit(first, DATA / "jfk.flac")  # killed before it could finish
    finally:
        kill_server(first)
    assert (data / "jobs" / old).is_dir()
    time.sleep(1.0)
    # 0.00001 days is under a second: the finished job is older than that when the server starts again.
    second = start_server(tmp_path / "second", *args, "--keep_days", "0.00001")
    try:
        assert httpx.get(f"{second.url}{PREFIX}/jobs/{old}", headers=HEADERS, timeout=10).status_code == 404
        assert not (data / "jobs" / old).exists()
        _wait_done(second, pending)
        assert _result(second, pending, "txt").status_code == 200
    finally:
        stop_server(second)
