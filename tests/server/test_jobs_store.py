"""The job store on its own (no server, no model): what a restart finds and does."""

from __future__ import annotations

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed: pip install -e '.[server]'")

from mediakit.server.jobs.store import CANCELLED, DONE, QUEUED, RUNNING, JobStore  # noqa: E402


def _job(store: JobStore, tmp_path, files: int = 1):
    media = tmp_path / "talk.wav"
    media.write_bytes(b"RIFF")
    return store.create({}, ("txt",), [(f"talk{i}.wav", str(media), False, 10.0) for i in range(files)])


def test_a_job_cancelled_while_its_file_ran_is_cancelled_after_a_restart_not_left_waiting(tmp_path):
    store = JobStore(tmp_path / "data")
    job = _job(store, tmp_path, files=2)
    store.move(job.id, 0, RUNNING)
    assert store.cancel(job.id) == [0]  # the runner would stop file 0 at its next window; the server dies first
    store.close()

    again = JobStore(tmp_path / "data")
    again.recover()
    job = again.get(job.id)
    assert [f.status for f in job.files] == [CANCELLED, CANCELLED] and job.status == CANCELLED
    assert again.next_queued() is None


def test_a_running_file_is_queued_again_after_a_restart_and_its_partial_results_removed(tmp_path):
    store = JobStore(tmp_path / "data")
    job = _job(store, tmp_path, files=2)
    store.move(job.id, 0, RUNNING)
    store.move(job.id, 0, DONE)
    store.move(job.id, 1, RUNNING)
    (store.file_dir(job.id, 0) / "result.txt").write_text("all of it")
    (store.file_dir(job.id, 1) / "result.txt").write_text("part of it")
    store.close()

    again = JobStore(tmp_path / "data")
    assert again.recover() == [(job.id, 1)]
    assert [f.status for f in again.get(job.id).files] == [DONE, QUEUED]
    assert (again.file_dir(job.id, 0) / "result.txt").read_text() == "all of it"
    assert not (again.file_dir(job.id, 1) / "result.txt").exists()
