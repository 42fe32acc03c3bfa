"""The job store: jobs and their files in SQLite, one state machine per file.

A file moves ``queued -> running -> done | failed | cancelled`` (and ``queued -> cancelled``); a job's
status is derived from its files (:func:`job_status`). Nothing here knows about HTTP or models.

Restart safety: a file is marked ``done`` only after its results were written (atomically) under its
folder, in one transaction. :meth:`JobStore.recover` runs when the store opens: a file left
``running`` by a killed server goes back to ``queued`` with its partial results removed, so it starts
again from scratch and is never reported done with partial text.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import threading
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
TERMINAL = (DONE, FAILED, CANCELLED)
#: The moves a file may make; anything else is a bug and raises.
TRANSITIONS = {
    QUEUED: (RUNNING, CANCELLED),
    RUNNING: (DONE, FAILED, CANCELLED, QUEUED),  # QUEUED: put back (a restart, a full queue)
    DONE: (),
    FAILED: (),
    CANCELLED: (),
}

_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id TEXT PRIMARY KEY,
    created REAL NOT NULL,
    options TEXT NOT NULL,          -- the job's option fields, JSON (name -> string)
    formats TEXT NOT NULL,          -- output formats written when a file is done, JSON list
    cancelled INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS files (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    idx INTEGER NOT NULL,
    name TEXT NOT NULL,             -- as the client named it (upload file name or allowed path)
    media TEXT NOT NULL,            -- where the server reads it
    uploaded INTEGER NOT NULL,      -- 1: the media is the job's own copy (deleted with it)
    status TEXT NOT NULL,
    error TEXT,                     -- one line, for failed and cancelled files
    duration REAL,                  -- seconds of audio, once known
    language TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    started REAL,
    finished REAL,
    run_seconds REAL,               -- wall time of the run that finished it
    PRIMARY KEY (job_id, idx)
);
CREATE INDEX IF NOT EXISTS files_status ON files(status);
"""


class StateError(Exception):
    """A transition the state machine does not allow (a bug, or a race that lost)."""


@dataclass(frozen=True)
class FileRow:
    job_id: str
    idx: int
    name: str
    media: str
    uploaded: bool
    status: str
    error: str | None
    duration: float | None
    language: str | None
    attempts: int
    started: float | None
    finished: float | None
    run_seconds: float | None


@dataclass(frozen=True)
class JobRow:
    id: str
    created: float
    options: dict[str, str]
    formats: tuple[str, ...]
    cancelled: bool
    files: tuple[FileRow, ...]

    @property
    def status(self) -> str:
        return job_status(self)

    @property
    def finished(self) -> float | None:
        if self.status not in TERMINAL:
            return None
        times = [f.finished for f in self.files if f.finished is not None]
        return max(times) if times else self.created


def job_status(job: JobRow) -> str:
    """queued (nothing started), running, or once every file is settled: done, failed (any file
    failed) or cancelled."""
    states = [f.status for f in job.files]
    if all(s in TERMINAL for s in states):
        if job.cancelled:
            return CANCELLED  # files done before the cancel keep their results
        if FAILED in states:
            return FAILED
        return CANCELLED if CANCELLED in states else DONE
    if all(s == QUEUED for s in states):
        return QUEUED
    return RUNNING


def job_error(job: JobRow) -> str | None:
    failed = [f for f in job.files if f.status == FAILED]
    if not failed:
        return None
    first = failed[0].error or "failed"
    return first if len(job.files) == 1 else f"{len(failed)} of {len(job.files)} files failed; first: {first}"


def new_job_id() -> str:
    return uuid.uuid4().hex[:16]


class JobStore:
    """Jobs in ``<data_dir>/jobs.sqlite3``, each file's media and results under ``<data_dir>/jobs/<id>/<n>/``."""

    def __init__(self, data_dir: str | os.PathLike[str]):
        self.data_dir = Path(data_dir)
        self.jobs_dir = self.data_dir / "jobs"
        self.jobs_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.data_dir / "jobs.sqlite3", check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")  # a done row must survive a power cut as its files do
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # -- folders ----------------------------------------------------------------------------------------
    def job_dir(self, job_id: str) -> Path:
        return self.jobs_dir / job_id

    def file_dir(self, job_id: str, idx: int) -> Path:
        return self.jobs_dir / job_id / str(idx)

    def staging_dir(self) -> Path:
        """A fresh folder for a job's uploads while they arrive (see :meth:`create`)."""
        path = self.jobs_dir / f".incoming-{new_job_id()}"
        path.mkdir(parents=True)
        return path

    # -- writing ----------------------------------------------------------------------------------------
    def create(self, options: dict[str, str], formats: tuple[str, ...], files: list[tuple[str, str, bool, float | None]],
               staging: Path | None = None) -> JobRow:
        """Add a job: ``files`` are ``(name, media path, uploaded, duration)``. Uploaded media inside
        ``staging`` move into the job's folder before the row is committed, so a killed server leaves
        either a whole job or an orphan folder that :meth:`recover` removes."""
        job_id = new_job_id()
        rows = []
        for idx, (name, media, uploaded, duration) in enumerate(files):
            if uploaded:
                target = self.file_dir(job_id, idx) / ("input" + Path(media).suffix)
                target.parent.mkdir(parents=True, exist_ok=True)
                os.replace(media, target)
                media = str(target)
            else:
                self.file_dir(job_id, idx).mkdir(parents=True, exist_ok=True)
            rows.append((job_id, idx, name, media, int(uploaded), QUEUED, duration))
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        with self._lock, self._tx():
            self._db.execute("INSERT INTO jobs (id, created, options, formats) VALUES (?, ?, ?, ?)",
                             (job_id, time.time(), json.dumps(options), json.dumps(list(formats))))
            self._db.executemany(
                "INSERT INTO files (job_id, idx, name, media, uploaded, status, duration) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
        job = self.get(job_id)
        assert job is not None
        return job

    def move(self, job_id: str, idx: int, to: str, *, error: str | None = None, **values: Any) -> FileRow:
        """Move one file to state ``to`` (checked against :data:`TRANSITIONS`), setting ``values``
        (duration, language, run_seconds) in the same transaction."""
        allowed = {"duration", "language", "run_seconds"}
        if set(values) - allowed:
            raise ValueError(f"unknown file fields: {sorted(set(values) - allowed)}")
        now = time.time()
        with self._lock, self._tx():
            row = self._file(job_id, idx)
            if row is None:
                raise StateError(f"job {job_id} has no file {idx}")
            if to not in TRANSITIONS[row.status]:
                raise StateError(f"job {job_id} file {idx}: cannot go from {row.status} to {to}")
            sets = {"status": to, "error": error, **values}
            if to == RUNNING:
                sets.update(started=now, attempts=row.attempts + 1, finished=None)
            elif to == QUEUED:
                sets.update(started=None)
            else:
                sets.update(finished=now)
            assignments = ", ".join(f"{k} = ?" for k in sets)
            self._db.execute(f"UPDATE files SET {assignments} WHERE job_id = ? AND idx = ?", (*sets.values(), job_id, idx))
            updated = self._file(job_id, idx)
        assert updated is not None
        return updated

    def set_duration(self, job_id: str, idx: int, duration: float) -> None:
        with self._lock:
            self._db.execute("UPDATE files SET duration = ? WHERE job_id = ? AND idx = ?", (duration, job_id, idx))

    def cancel(self, job_id: str) -> list[int]:
        """Mark the job cancelled and its queued files cancelled; returns the running files' indexes
        (the runner stops those)."""
        now = time.time()
        with self._lock, self._tx():
            self._db.execute("UPDATE jobs SET cancelled = 1 WHERE id = ?", (job_id,))
            self._db.execute("UPDATE files SET status = ?, error = ?, finished = ? WHERE job_id = ? AND status = ?",
                             (CANCELLED, "cancelled before it started", now, job_id, QUEUED))
            running = [r[0] for r in self._db.execute("SELECT idx FROM files WHERE job_id = ? AND status = ?", (job_id, RUNNING))]
        return running

    def delete(self, job_id: str) -> bool:
        """Remove the job's rows, then its folder (results and uploaded media)."""
        with self._lock, self._tx():
            found = self._db.execute("DELETE FROM jobs WHERE id = ?", (job_id,)).rowcount > 0
            self._db.execute("DELETE FROM files WHERE job_id = ?", (job_id,))
        shutil.rmtree(self.job_dir(job_id), ignore_errors=True)
        return found

    # -- reading ----------------------------------------------------------------------------------------
    def get(self, job_id: str) -> JobRow | None:
        with self._lock:
            row = self._db.execute("SELECT id, created, options, formats, cancelled FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is None:
                return None
            return self._job(row)

    def list(self, limit: int = 100, offset: int = 0) -> list[JobRow]:
        """Newest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, created, options, formats, cancelled FROM jobs ORDER BY created DESC, id LIMIT ? OFFSET ?",
                (limit, offset)).fetchall()
            return [self._job(r) for r in rows]

    def next_queued(self, exclude: set[tuple[str, int]] = frozenset()) -> FileRow | None:  # type: ignore[assignment]
        """The oldest queued file of a job that is not cancelled: first come, first served."""
        with self._lock:
            for row in self._db.execute(
                "SELECT f.job_id, f.idx FROM files f JOIN jobs j ON j.id = f.job_id "
                "WHERE f.status = ? AND j.cancelled = 0 ORDER BY j.created, f.job_id, f.idx", (QUEUED,)):
                if (row[0], row[1]) not in exclude:
                    return self._file(row[0], row[1])
        return None

    def expired(self, before: float) -> list[str]:
        """Jobs settled (every file in a final state) whose last file finished before ``before``."""
        with self._lock:
            rows = self._db.execute(
                "SELECT job_id FROM files GROUP BY job_id HAVING SUM(status NOT IN (?, ?, ?)) = 0 "
                "AND COALESCE(MAX(finished), 0) < ?", (*TERMINAL, before)).fetchall()
            return [r[0] for r in rows]

    # -- restart ----------------------------------------------------------------------------------------
    def recover(self) -> list[tuple[str, int]]:
        """After a restart: every file left ``running`` goes back to ``queued`` (its partial results
        removed), and folders without a job (an upload cut short) are removed. Returns what was requeued.

        A cancelled job's unfinished files (one that was still stopping, or put back in the queue by a
        shutdown) become ``cancelled``: the queue skips cancelled jobs, so queued they would wait forever."""
        now = time.time()
        with self._lock, self._tx():
            stopped = self._db.execute(
                "SELECT job_id, idx FROM files WHERE status IN (?, ?) AND job_id IN (SELECT id FROM jobs WHERE cancelled = 1)",
                (QUEUED, RUNNING)).fetchall()
            self._db.execute(
                "UPDATE files SET status = ?, error = ?, finished = ? WHERE status IN (?, ?) "
                "AND job_id IN (SELECT id FROM jobs WHERE cancelled = 1)",
                (CANCELLED, "cancelled while running", now, QUEUED, RUNNING))
            rows = self._db.execute("SELECT job_id, idx FROM files WHERE status = ?", (RUNNING,)).fetchall()
            self._db.execute("UPDATE files SET status = ?, started = NULL, error = NULL WHERE status = ?", (QUEUED, RUNNING))
            known = {r[0] for r in self._db.execute("SELECT id FROM jobs")}
        for job_id, idx in stopped:
            clear_results(self.file_dir(job_id, idx))
            log.info("job %s file %d: its job was cancelled before the server stopped", job_id, idx)
        for job_id, idx in rows:
            clear_results(self.file_dir(job_id, idx))
            log.info("job %s file %d was interrupted; queued again", job_id, idx)
        for entry in self.jobs_dir.iterdir():
            if entry.is_dir() and entry.name not in known:
                shutil.rmtree(entry, ignore_errors=True)
        return [(r[0], r[1]) for r in rows]

    # -- helpers ----------------------------------------------------------------------------------------
    def _tx(self) -> "_Transaction":
        return _Transaction(self._db)

    def _file(self, job_id: str, idx: int) -> FileRow | None:
        row = self._db.execute(f"SELECT {_FILE_COLUMNS} FROM files WHERE job_id = ? AND idx = ?", (job_id, idx)).fetchone()
        return None if row is None else _file_row(row)

    def _job(self, row: tuple) -> JobRow:
        files = tuple(_file_row(r) for r in self._db.execute(
            f"SELECT {_FILE_COLUMNS} FROM files WHERE job_id = ? ORDER BY idx", (row[0],)))
        return JobRow(row[0], row[1], json.loads(row[2]), tuple(json.loads(row[3])), bool(row[4]), files)


_FILE_COLUMNS = "job_id, idx, name, media, uploaded, status, error, duration, language, attempts, started, finished, run_seconds"


def _file_row(row: tuple) -> FileRow:
    return FileRow(row[0], row[1], row[2], row[3], bool(row[4]), *row[5:])


def clear_results(folder: Path) -> None:
    """Remove every result file (and temporary file) of a file's folder, keeping its input media."""
    if not folder.is_dir():
        return
    for entry in folder.iterdir():
        if entry.is_file() and not entry.name.startswith("input"):
            entry.unlink(missing_ok=True)


class _Transaction:
    def __init__(self, db: sqlite3.Connection):
        self.db = db

    def __enter__(self) -> None:
        self.db.execute("BEGIN IMMEDIATE")

    def __exit__(self, kind, value, tb) -> None:
        self.db.execute("COMMIT" if kind is None else "ROLLBACK")

