"""What runs inside a Ray worker actor: one model, loaded once, and the inputs it is given, one at a time.

Nothing here imports Ray at module level, so the class can be called directly (tests, other engines).
"""

from __future__ import annotations

import logging
import os
import socket
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from mediakit.batch import transcribe_input
from mediakit.config import RunConfig
from mediakit.errors import MediakitError
from mediakit.outputs import OutputTarget
from mediakit.pipeline import resolve
from mediakit.plugins import load_plugins

from .paths import fetch, is_remote, name_of, upload
from .plan import WorkItem

log = logging.getLogger(__name__)

#: Seconds between two progress reports of one input (the last one is always sent).
PROGRESS_EVERY = 0.5


def node_id() -> str:
    """The Ray node this process runs on (``local`` outside Ray)."""
    try:
        import ray

        if ray.is_initialized():
            return ray.get_runtime_context().get_node_id()
    except ImportError:  # pragma: no cover - the actor exists only where Ray does
        pass
    return "local"


class ProgressBoard:
    """A tiny actor the workers post per-input progress to and the driver reads, latest value only."""

    def __init__(self) -> None:
        self._latest: dict[str, tuple[float, float]] = {}

    def update(self, source: str, done: float, total: float) -> None:
        self._latest[source] = (done, total)

    def take(self) -> dict[str, tuple[float, float]]:
        latest, self._latest = self._latest, {}
        return latest


class _Reporter:
    """Batch events of one input, sent to the board at most every :data:`PROGRESS_EVERY` seconds."""

    def __init__(self, board: Any, source: str):
        self._board = board
        self._source = source
        self._last = 0.0

    def file_started(self, source: str, index: int, total: int) -> None:
        pass

    def file_progress(self, source: str, done: float, total: float) -> None:
        now = time.monotonic()
        if self._board is not None and (now - self._last >= PROGRESS_EVERY or done >= total):
            self._last = now
            self._board.update.remote(self._source, done, total)  # fire and forget

    def file_finished(self, result: Any) -> None:
        pass


class TranscribeWorker:
    """Loads the plugins and the model once; :meth:`transcribe` takes one :class:`WorkItem` at a time.

    A model that cannot load is not raised from ``__init__`` (Ray would report it as a dead actor);
    :meth:`ready` returns it, and the driver stops the run with that message.
    """

    def __init__(self, config: RunConfig, disabled_plugins: tuple[str, ...] = (), board: Any = None):
        self._board = board
        self._error: str | None = None
        self._skip_existing = config.output.skip_existing
        self._output = replace(config.output, skip_existing=False)  # checked here, per item, against the destinations
        self._writers: dict[str, Any] = {}
        self._host = socket.gethostname()
        try:
            host = load_plugins(disabled_plugins)
            for failed in host.failed:
                log.warning("plugin %r failed to load on %s: %s", failed.name, self._host, failed.reason)
            self._stages = resolve(host.pm, config)
            self._writers = {w.name: w for w in self._stages.writers}
        except MediakitError as err:
            self._error = " ".join(str(err).split())
        except Exception as err:  # a model or plugin that breaks on this node: the driver reports it
            log.debug("worker failed to start", exc_info=True)
            self._error = f"a worker on {self._host} could not load the model: {type(err).__name__}: {err}"

    def ready(self) -> dict[str, Any]:
        """Where this worker runs, and the error that stopped it from loading, if any."""
        return {"node": node_id(), "host": self._host, "pid": os.getpid(), "error": self._error}

    def transcribe(self, item: WorkItem) -> dict[str, Any]:
        """Transcribe one input and write its outputs; every failure comes back as a row, never raised."""
        started = time.perf_counter()
        try:
            row = self._transcribe(item)
        except Exception as err:  # a bug must cost this input only
            log.debug("unexpected error on %s", item.source, exc_info=True)
            row = _row(item, "failed", error=f"{item.source}: internal error: {type(err).__name__}: {' '.join(str(err).split())}")
        row.update(seconds=round(time.perf_counter() - started, 3), node=node_id(), host=self._host, pid=os.getpid())
        return row

    def _transcribe(self, item: WorkItem) -> dict[str, Any]:
        if self._error is not None:
            return _row(item, "failed", error=f"{item.source}: {self._error}")
        destinations = [dest for _, dest in item.targets]
        if self._skip_existing and destinations and all(_exists(d) for d in destinations):
            return _row(item, "skipped", outputs=destinations)  # done meanwhile (a rerun raced this one)
        with tempfile.TemporaryDirectory(prefix="mediakit-ray-") as scratch:
            local = item.source
            if is_remote(item.source):
                local = str(Path(scratch) / "in" / (name_of(item.source) or "input"))
                Path(local).parent.mkdir()
                try:
                    fetch(item.source, Path(local))
                except MediakitError as err:
                    return _row(item, "failed", error=" ".join(str(err).split()))
            staged = [(name, dest, Path(scratch) / "out" / name_of_dest(dest) if is_remote(dest) else Path(dest)) for name, dest in item.targets]
            targets = tuple(OutputTarget(self._writers[name], path) for name, _, path in staged)
            result = transcribe_input(self._stages, local, targets, self._output, _Reporter(self._board, item.source))
            if result.status != "done":
                error = (result.error or "").replace(local, item.source)
                return _row(item, result.status, error=error)
            try:
                for _, dest, path in staged:
                    if is_remote(dest):
                        upload(path, dest)
            except MediakitError as err:
                return _row(item, "failed", error=" ".join(str(err).split()))
            return _row(item, "done", audio_seconds=round(result.duration, 3), outputs=destinations)


def name_of_dest(dest: str) -> str:
    return name_of(dest) or "output"


def _exists(destination: str) -> bool:
    if is_remote(destination):
        from .paths import filesystem

        fs, path = filesystem(destination)
        return fs.isfile(path)
    return os.path.isfile(destination)


def _row(item: WorkItem, status: str, *, error: str | None = None, audio_seconds: float = 0.0, outputs: list[str] | None = None) -> dict[str, Any]:
    return {
        "index": item.index,
        "source": item.source,
        "status": status,
        "error": error,
        "audio_seconds": audio_seconds,
        "outputs": outputs or [],
    }
