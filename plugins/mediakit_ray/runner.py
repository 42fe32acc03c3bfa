"""The ``ray`` runner's driver: connect, plan, keep a pool of worker actors busy, collect one row per input.

Ray Core actors, not Ray Data: the pool is a few dozen lines that give each input its own retry
count (an input that kills its worker is tried ``max_retries`` more times, then reported failed),
redo elsewhere what a lost node had in flight, report per-input progress, and have no no-progress
timeout for a long file to trip. The reasons are in docs/scale-out.md.
"""

from __future__ import annotations

import contextlib
import logging
import math
import os
import time
from collections import deque
from dataclasses import replace
from typing import Any, Iterator

from mediakit.batch import BatchEvents, BatchSummary, InputResult
from mediakit.config import RunConfig
from mediakit.errors import ConfigError, MediakitError, StageError, StageNotFoundError
from mediakit.pipeline import decoder_registry, make_writers, model_registry
from mediakit.runners import BatchJob, RunnerOptions, with_threads

from .manifest import Manifest
from .paths import Location
from .plan import WorkItem, make_plan
from .plugin import ray_missing
from .worker import ProgressBoard, TranscribeWorker

log = logging.getLogger(__name__)

#: Object store of a local cluster started for the run: only paths and status rows travel through it.
LOCAL_OBJECT_STORE_BYTES = 128 * 2**20
#: Seconds between two reads of the progress board.
POLL_SECONDS = 0.5


class _Quiet:
    def file_started(self, source: str, index: int, total: int) -> None:
        pass

    def file_progress(self, source: str, done: float, total: float) -> None:
        pass

    def file_finished(self, result: InputResult) -> None:
        pass


class RayRunner:
    """``--runner ray``: the batch on a Ray cluster, one model per worker actor."""

    def __init__(self, options: RunnerOptions):
        missing = ray_missing()
        if missing is not None:
            raise ConfigError(f"the ray runner is unavailable: {missing}")
        if options.threads_per_worker is not None and options.threads_per_worker < 1:
            raise ConfigError(f"--threads_per_worker must be at least 1, got {options.threads_per_worker}")
        if options.workers is not None and options.workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {options.workers}")
        if options.max_retries < 0:
            raise ConfigError(f"max_retries must be 0 or more, got {options.max_retries}")
        self.options = options

    def run(self, job: BatchJob, events: BatchEvents | None = None) -> BatchSummary:
        events = events or _Quiet()
        started = time.perf_counter()
        if job.emit is not None:
            raise ConfigError("--stdout works with the local runner only: ray workers write files (-o FOLDER or URL)")
        threads = self.options.threads_per_worker or job.config.model.threads or 1  # --threads K gives the local runner's bytes
        options = replace(self.options, threads_per_worker=threads)
        config = with_threads(job.config, threads)
        writers = make_writers(job.pm, config.output.formats, config.writer)  # unknown formats fail here, not on every worker
        decoder_registry(job.pm).get(config.decoder)
        _check_model_name(job, config.model.name)
        output = Location(config.output.output_dir)
        plan = make_plan(list(job.sources), writers, output, skip_existing=config.output.skip_existing, recursive=job.recursive)
        if job.on_model_loaded is not None:
            job.on_model_loaded()  # the driver loads no model
        total = len(plan.sources)
        results: dict[int, InputResult] = {}
        manifest = Manifest(output)

        def report(index: int, result: InputResult, row: dict[str, Any]) -> None:
            results[index] = result
            events.file_finished(result)
            manifest.add(row)

        try:
            for index, result in plan.settled:
                events.file_started(result.source, index, total)
                report(index, result, {"source": result.source, "status": result.status, "error": result.error,
                                       "seconds": 0.0, "audio_seconds": 0.0, "attempts": 0, "outputs": list(result.outputs)})
            if plan.items:
                with _session(options) as ray:
                    pool = _Pool(ray, config, job.disabled_plugins, options, events, total)
                    for item, row in pool.run(plan.items):
                        report(item.index, _result(row), row)
        finally:
            manifest.close()
        ordered = tuple(results[i] for i in sorted(results))
        return BatchSummary(ordered, time.perf_counter() - started)


def _check_model_name(job: BatchJob, name: str) -> None:
    """A model name no plugin registers fails now; a path is checked by the workers, on their disks."""
    if os.path.exists(name) or os.sep in name or name.endswith((".pt", ".bin", ".safetensors")):
        return
    model_registry(job.pm).get(name)


def _result(row: dict[str, Any]) -> InputResult:
    return InputResult(row["source"], row["status"], row.get("error"), float(row.get("audio_seconds") or 0.0), tuple(row.get("outputs") or ()))


@contextlib.contextmanager
def _session(options: RunnerOptions) -> Iterator[Any]:
    """Ray, connected: an existing connection is reused (and kept); otherwise ``--ray_address``, else
    ``RAY_ADDRESS``, else a single-node cluster started for this run and stopped after it."""
    import ray

    if ray.is_initialized():
        if options.address:
            log.warning("already connected to Ray; --ray_address %s is not used", options.address)
        yield ray
        return
    address = options.address or os.environ.get("RAY_ADDRESS") or None
    common: dict[str, Any] = {
        "log_to_driver": options.verbose,  # the workers' own logs, with -v
        "logging_level": logging.INFO if options.verbose else logging.ERROR,
    }
    try:
        if address is None:
            cpus = options.workers * options.threads_per_worker if options.workers else None
            log.info("starting a local Ray cluster for this run")
            ray.init(address="local", num_cpus=cpus, include_dashboard=False,
                     object_store_memory=LOCAL_OBJECT_STORE_BYTES, **common)
        else:
            log.info("joining the Ray cluster at %s", address)
            ray.init(address=address, **common)
    except (ConnectionError, RuntimeError, ValueError) as err:
        where = address or "a new local cluster"
        raise ConfigError(f"cannot start or join Ray ({where}): {' '.join(str(err).split())}") from err
    try:
        yield ray
    finally:
        ray.shutdown()


class _Pool:
    """Worker actors, each given one input at a time; dead ones replaced, their inputs retried a bounded number of times."""

    def __init__(self, ray: Any, config: RunConfig, disabled: tuple[str, ...], options: RunnerOptions, events: BatchEvents, total: int):
        self.ray = ray
        self.config = config
        self.disabled = tuple(disabled)
        self.options = options
        self.events = events
        self.total = total
        self.worker_class = ray.remote(TranscribeWorker).options(
            num_cpus=options.threads_per_worker, max_restarts=0, max_task_retries=0
        )
        self.board = ray.remote(ProgressBoard).options(num_cpus=0).remote()
        self.actors: list[Any] = []
        self.last_poll = 0.0

    def size(self, items: int) -> int:
        nodes = [n for n in self.ray.nodes() if n.get("Alive")]
        biggest = max((n.get("Resources", {}).get("CPU", 0.0) for n in nodes), default=0.0)
        if biggest < self.options.threads_per_worker:
            raise ConfigError(
                f"--threads_per_worker {self.options.threads_per_worker}: no node of the Ray cluster has that many CPUs "
                f"(the largest has {biggest:g})"
            )
        if self.options.workers is not None:
            return min(self.options.workers, items)
        cpus = sum(n.get("Resources", {}).get("CPU", 0.0) for n in nodes)
        return max(1, min(items, math.floor(cpus / self.options.threads_per_worker)))

    def start(self, starting: dict[Any, Any]) -> None:
        actor = self.worker_class.remote(self.config, self.disabled, self.board)
        self.actors.append(actor)
        starting[actor.ready.remote()] = actor

    def run(self, items: tuple[WorkItem, ...]) -> Iterator[tuple[WorkItem, dict[str, Any]]]:
        ray = self.ray
        from ray.exceptions import GetTimeoutError, RayActorError, RayError

        workers = self.size(len(items))
        queue: deque[WorkItem] = deque(items)
        deaths: dict[int, int] = {}  # input index -> worker deaths while on it
        announced: set[int] = set()
        starting: dict[Any, Any] = {}  # ready() ref -> actor
        busy: dict[Any, tuple[Any, dict[str, Any], WorkItem]] = {}  # transcribe() ref -> (actor, where, item)
        idle: list[tuple[Any, dict[str, Any]]] = []
        start_failures = 0
        no_worker_since: float | None = time.monotonic()
        try:
            for _ in range(workers):
                self.start(starting)
            while queue or busy:
                while idle and queue:
                    actor, where = idle.pop()
                    item = queue.popleft()
                    if item.index not in announced:
                        announced.add(item.index)
                        self.events.file_started(item.source, item.index, self.total)
                    busy[actor.transcribe.remote(item)] = (actor, where, item)
                if not starting and not busy:
                    self.start(starting)  # every worker is gone: a fresh one (bounded by the start timeout)
                done, _ = ray.wait(list(starting) + list(busy), num_returns=1, timeout=POLL_SECONDS)
                self.poll_progress(GetTimeoutError)
                for ref in done:
                    if ref in starting:
                        actor = starting.pop(ref)
                        try:
                            where = ray.get(ref)
                        except RayActorError as err:
                            start_failures += 1
                            log.warning("a Ray worker died while starting: %s", _one_line(err))
                            if start_failures > workers * (self.options.max_retries + 1):
                                raise StageError(f"Ray workers keep dying while they load the model: {_one_line(err)}") from err
                            if queue:
                                self.start(starting)
                            continue
                        if where["error"]:
                            raise StageError(where["error"])
                        log.info("worker %s on %s (node %s) ready", where["pid"], where["host"], where["node"][:8])
                        idle.append((actor, where))
                        continue
                    actor, where, item = busy.pop(ref)
                    try:
                        row = ray.get(ref)
                    except RayActorError as err:
                        lost_node = not self.node_alive(where["node"])
                        if not lost_node:
                            deaths[item.index] = deaths.get(item.index, 0) + 1
                        log.warning("worker on %s died on %s (%s): %s", where["host"], item.source,
                                    "its node is gone" if lost_node else f"death {deaths.get(item.index, 0)}", _one_line(err))
                        if deaths.get(item.index, 0) > self.options.max_retries:
                            yield item, self.crashed_row(item, deaths[item.index], where)
                        else:
                            queue.appendleft(item)  # redone by the next free worker, on whichever node
                        if queue:
                            self.start(starting)
                        continue
                    except RayError as err:  # the call itself failed (an object lost...); the worker lives
                        row = {"index": item.index, "source": item.source, "status": "failed",
                               "error": f"{item.source}: Ray error: {_one_line(err)}", "node": where["node"], "host": where["host"]}
                        idle.append((actor, where))
                    else:
                        idle.append((actor, where))
                    row["attempts"] = deaths.get(item.index, 0) + 1
                    yield item, row
                if idle or busy:
                    no_worker_since = None
                elif no_worker_since is None:
                    no_worker_since = time.monotonic()
                elif time.monotonic() - no_worker_since > self.options.start_timeout:
                    raise StageError(
                        f"no Ray worker started within {self.options.start_timeout:.0f} s: does a node have "
                        f"{self.options.threads_per_worker} free CPU(s), and mediakit and the model on every node?"
                    )
            self.poll_progress(GetTimeoutError, force=True)
        finally:
            for actor in self.actors:
                with contextlib.suppress(Exception):
                    ray.kill(actor)
            with contextlib.suppress(Exception):
                ray.kill(self.board)

    def poll_progress(self, timeout_error: type[Exception], force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self.last_poll < POLL_SECONDS:
            return
        self.last_poll = now
        try:
            latest = self.ray.get(self.board.take.remote(), timeout=5)
        except (timeout_error, Exception):  # progress is cosmetic; never let it stop the run
            return
        for source, (done, total) in latest.items():
            self.events.file_progress(source, done, total)

    def node_alive(self, node: str) -> bool:
        try:
            return any(n.get("NodeID") == node and n.get("Alive") for n in self.ray.nodes())
        except Exception:
            return True

    @staticmethod
    def crashed_row(item: WorkItem, deaths: int, where: dict[str, Any]) -> dict[str, Any]:
        times = "once" if deaths == 1 else f"{deaths} times"
        return {
            "index": item.index,
            "source": item.source,
            "status": "failed",
            "error": f"{item.source}: the worker process died while transcribing it, {times} "
                     "(a crash or out of memory); not tried again",
            "node": where["node"],
            "host": where["host"],
            "seconds": 0.0,
            "audio_seconds": 0.0,
            "attempts": deaths,
            "outputs": [],
        }


def _one_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return " ".join(lines[:3])[:400]
