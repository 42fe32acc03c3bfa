"""Runs the store's queued files through the server's engine (its bounded queue, its workers) and
keeps the live progress of each running file: audio seconds done of total, speed, time left.

One asyncio task hands the oldest queued file to :meth:`Engine.submit` whenever fewer than
``workers`` job files are in flight, so jobs use the same workers as the OpenAI routes and leave the
queue's waiting places to them; a full queue (429 for a request) only delays a job. A file's results
are written atomically before it is marked done; a restart requeues what was running
(:meth:`JobStore.recover`).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import pluggy

from ...errors import MediakitError
from ...outputs import atomic_write_text
from ...config import DemuxOptions
from ...pipeline import demuxer_for, writer_registry
from ...records import Transcript
from ..engine import Cancelled, Engine, NotReady, QueueFull, Work
from .options import build
from .store import CANCELLED, DONE, FAILED, QUEUED, RUNNING, FileRow, JobRow, JobStore, StateError, clear_results

log = logging.getLogger(__name__)

TRANSCRIPT_FILE = "transcript.json"  # the canonical result: every writer format is rendered from it
CLEANUP_EVERY = 3600.0  # seconds between --keep_days sweeps


@dataclass
class Live:
    """The live state of one running file (kept in memory; a restart starts the file again)."""

    phase: str = "waiting"  # waiting (for a worker), reading (the media), decoding
    done: float = 0.0  # audio seconds decoded
    total: float | None = None  # audio seconds in the file
    started: float | None = None  # time.monotonic() when decoding began
    cancel: threading.Event = dataclasses.field(default_factory=threading.Event)
    stopping: bool = False  # the server is shutting down: put the file back in the queue

    @property
    def speed(self) -> float | None:
        """Audio seconds per wall second, once something was decoded."""
        if self.started is None or self.done <= 0:
            return None
        elapsed = time.monotonic() - self.started
        return self.done / elapsed if elapsed > 0 else None


class _Watched:
    """A decoder wrapped to report when decoding starts and how far it got (chained with the engine's
    own progress callback, which stops a cancelled file)."""

    def __init__(self, inner: Any, live: Live, changed: Callable[[], None]):
        self.inner = inner
        self.live = live
        self.changed = changed

    def decode(self, model: Any, features: Any, progress: Any = None) -> Transcript:
        self.live.phase, self.live.total, self.live.started = "decoding", float(features.duration), time.monotonic()
        self.changed()

        def both(done: float, total: float) -> None:
            self.live.done, self.live.total = float(done), float(total)
            self.changed()
            if progress is not None:
                progress(done, total)

        return self.inner.decode(model, features, both)


class JobRunner:
    def __init__(self, store: JobStore, engine: Engine, pm: pluggy.PluginManager, *, keep_days: float = 0.0,
                 slots: int = 1, default_vad: bool | None = None, allow_dirs: tuple[str, ...] = ()):
        self.store = store
        self.allow_dirs = allow_dirs
        self.engine = engine
        self.pm = pm
        self.keep_days = keep_days
        self.slots = max(1, slots)
        self.default_vad = default_vad
        self.live: dict[tuple[str, int], Live] = {}
        self._tasks: set[asyncio.Task] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._wake = asyncio.Event()
        self._changed = asyncio.Event()
        self._main: asyncio.Task | None = None
        self._stopping = False

    # -- life ---------------------------------------------------------------------------------------------
    async def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        requeued = self.store.recover()
        if requeued:
            log.warning("%d interrupted job file(s) queued again", len(requeued))
        self.cleanup()
        self._main = asyncio.create_task(self._run(), name="mediakit-jobs")

    async def stop(self, grace: float = 5.0) -> None:
        """Stop taking files; running ones are cancelled and go back to the queue for the next start."""
        self._stopping = True
        for live in self.live.values():
            live.stopping = True
            live.cancel.set()
        if self._main is not None:
            self._main.cancel()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=grace)

    def notify(self) -> None:
        """Something changed (safe from any thread): wake the scheduler and the event streams."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        try:
            if threading.get_ident() == getattr(self, "_loop_thread", None):
                self._fire()
            else:
                loop.call_soon_threadsafe(self._fire)
        except RuntimeError:  # the loop closed meanwhile
            pass

    def _fire(self) -> None:
        self._wake.set()
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    async def wait_change(self, timeout: float) -> None:
        """Wait until anything about any job changes, or ``timeout`` seconds."""
        event = self._changed
        try:
            await asyncio.wait_for(event.wait(), timeout)
        except asyncio.TimeoutError:
            pass

    # -- scheduling ---------------------------------------------------------------------------------------
    async def _run(self) -> None:
        self._loop_thread = threading.get_ident()
        last_cleanup = time.monotonic()
        while not self._stopping:
            try:
                await asyncio.wait_for(self._wake.wait(), 1.0)
            except asyncio.TimeoutError:
                pass
            self._wake.clear()
            if time.monotonic() - last_cleanup > CLEANUP_EVERY:
                last_cleanup = time.monotonic()
                self.cleanup()
            if not self.engine.ready:
                continue
            while len(self.live) < self.slots and not self._stopping:
                row = self.store.next_queued(set(self.live))
                if row is None or not self._start(row):
                    break

    def _start(self, row: FileRow) -> bool:
        """Submit one queued file; False when the engine's queue is full (try again later)."""
        key = (row.job_id, row.idx)
        job = self.store.get(row.job_id)
        if job is None:
            return True
        live = Live()
        try:
            options = build(job.options, self.default_vad)
            work = Work(source=row.media, model=self.engine.resolve_model(options.model), decode=options.decode,
                        demux=options.demux, decoder=options.decoder, cancel=live.cancel)
            stages = self.engine.stages(work)
            stages = dataclasses.replace(stages, decoder=_Watched(stages.decoder, live, self.notify))
            future = self.engine.submit(work, stages)
        except QueueFull:
            return False
        except NotReady:
            return False
        except Exception as err:  # options or a model the server no longer serves: this file fails
            message = getattr(err, "message", None) or str(err)
            self._settle(row, FAILED, _one_line(f"{row.name}: {message}"))
            return True
        self.live[key] = live
        try:
            self.store.move(row.job_id, row.idx, RUNNING)
        except StateError:  # cancelled in between
            live.cancel.set()
        task = asyncio.create_task(self._finish(row, job, future, live))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        self.notify()
        return True

    async def _finish(self, row: FileRow, job: JobRow, future: "asyncio.Future[Any]", live: Live) -> None:
        key = (row.job_id, row.idx)
        try:
            try:
                result = await future
            except Cancelled:
                if live.stopping:
                    self._settle(row, QUEUED, None)
                else:
                    self._settle(row, CANCELLED, "cancelled while running")
                return
            except MediakitError as err:
                self._settle(row, FAILED, _one_line(_named(row.name, str(err).replace(row.media, row.name))))
                return
            except asyncio.CancelledError:
                live.stopping = True
                live.cancel.set()
                raise
            except Exception as err:  # a bug or an environment failure: this file fails, the rest go on
                log.exception("job %s file %d failed", row.job_id, row.idx)
                self._settle(row, FAILED, _one_line(f"{row.name}: internal error: {type(err).__name__}: {err}"))
                return
            if live.cancel.is_set():
                self._settle(row, QUEUED if live.stopping else CANCELLED, None if live.stopping else "cancelled")
                return
            try:
                await asyncio.to_thread(self.write_results, row, job, result.transcript, result.audio_seconds)
            except MediakitError as err:
                self._settle(row, FAILED, _one_line(str(err)))
                return
            self._settle(row, DONE, None, duration=result.audio_seconds, language=result.transcript.language,
                         run_seconds=result.run_seconds)
        finally:
            self.live.pop(key, None)
            self.notify()

    def _settle(self, row: FileRow, to: str, error: str | None, **values: Any) -> None:
        folder = self.store.file_dir(row.job_id, row.idx)
        if to != DONE:
            clear_results(folder)
        try:
            self.store.move(row.job_id, row.idx, to, error=error, **values)
        except StateError as err:
            log.debug("%s", err)
        except Exception:  # the job was deleted meanwhile
            log.debug("could not settle job %s file %d", row.job_id, row.idx, exc_info=True)

    # -- results --------------------------------------------------------------------------------------------
    def write_results(self, row: FileRow, job: JobRow, transcript: Transcript, duration: float) -> None:
        """The job's formats, then the transcript itself (last: its presence means complete)."""
        folder = self.store.file_dir(row.job_id, row.idx)
        options = build(job.options, self.default_vad)
        for fmt in job.formats:
            atomic_write_text(folder / f"result.{fmt}", self.render(fmt, transcript, options.writer))
        data = transcript.to_dict()
        data["duration"] = duration
        atomic_write_text(folder / TRANSCRIPT_FILE, json.dumps(data, ensure_ascii=False))

    def render(self, fmt: str, transcript: Transcript, writer_options: Any) -> str:
        import io

        writer = writer_registry(self.pm).get(fmt).factory(writer_options)
        buffer = io.StringIO()
        writer.write(transcript, buffer)
        return buffer.getvalue()

    def result(self, job: JobRow, row: FileRow, fmt: str) -> Path:
        """The result file in ``fmt`` (rendered from the transcript and kept, for a format the job
        did not ask for); raises StageNotFoundError for an unknown format."""
        folder = self.store.file_dir(row.job_id, row.idx)
        path = folder / f"result.{fmt}"
        if path.is_file():
            return path
        writer_registry(self.pm).get(fmt)  # unknown name -> StageNotFoundError listing the formats
        data = json.loads((folder / TRANSCRIPT_FILE).read_text(encoding="utf-8"))
        transcript = dataclasses.replace(Transcript.from_dict(data), duration=float(data.get("duration", 0.0)))
        atomic_write_text(path, self.render(fmt, transcript, build(job.options, self.default_vad).writer))
        return path

    def probe_duration(self, path: str) -> float | None:
        """The media's duration from its container (for progress before the file runs); None when unknown."""
        try:
            return demuxer_for(self.pm, path, DemuxOptions()).probe(path).duration
        except Exception:  # a file that cannot be probed fails later, with its reason, when it runs
            log.debug("could not probe %s", path, exc_info=True)
            return None

    # -- cleanup --------------------------------------------------------------------------------------------
    def cleanup(self) -> list[str]:
        """Remove jobs settled more than ``keep_days`` ago (0 keeps them forever)."""
        if self.keep_days <= 0:
            return []
        removed = self.store.expired(time.time() - self.keep_days * 86400)
        for job_id in removed:
            self.store.delete(job_id)
        if removed:
            log.info("removed %d job(s) older than %g day(s)", len(removed), self.keep_days)
        return removed

    # -- cancelling -----------------------------------------------------------------------------------------
    def cancel(self, job_id: str) -> None:
        for idx in self.store.cancel(job_id):
            live = self.live.get((job_id, idx))
            if live is not None:
                live.cancel.set()
        self.notify()


def _one_line(message: str) -> str:
    return " ".join(message.split())


def _named(name: str, message: str) -> str:
    return message if name in message else f"{name}: {message}"
