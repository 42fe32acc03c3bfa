"""Runners: the engines that take a whole batch through the stages (``--runner local|ray|...``).

A runner is a plugin stage like a model or a writer: plugins register factories through
``mediakit_register_runners`` and the user picks one by name. The built-in ``local`` runner is the
in-process loop of :func:`mediakit.batch.run_batch`; the built-in ``ray`` runner runs the same batch
on a Ray cluster. Both produce the same files, byte for byte.

>>> from mediakit.runners import transcribe_batch
>>> summary = transcribe_batch(["talks/"], "out", runner="ray", model="tiny.en", workers=2)  # doctest: +SKIP
>>> summary.line()                                                                             # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, replace
from typing import Any, Callable, Iterable, Protocol, runtime_checkable

import pluggy

from .batch import BatchEvents, BatchSummary
from .config import ModelOptions, OutputOptions, RunConfig, WriterOptions
from .errors import ConfigError
from .inputs import Source, expand_inputs
from .registry import Registry, collect

DEFAULT_RUNNER = "local"


@dataclass(frozen=True)
class RunnerOptions:
    """How a runner spreads the batch; what a field means is up to each runner (``local`` takes none)."""

    address: str | None = None  # the cluster to join (ray: "auto", "HOST:PORT", "ray://..."); None = the runner's default
    workers: int | None = None  # worker processes; None = as many as the cluster's CPUs allow
    threads_per_worker: int | None = None  # torch threads (and CPUs reserved) per worker; None = the model's threads, else 1
    max_retries: int = 2  # times an input that killed its worker is tried again before it is reported failed
    start_timeout: float = 600.0  # seconds to wait for a first worker to start (load its model) before giving up
    verbose: bool = False  # the engine's own logs and progress output (``-v``)


@dataclass(frozen=True)
class BatchJob:
    """Everything a runner gets: the run's options, its inputs and the driver's plugins."""

    config: RunConfig
    sources: tuple[Source, ...]  # expanded inputs, in the order results are reported
    pm: pluggy.PluginManager  # the driver's plugin manager (resolve names, make writers)
    disabled_plugins: tuple[str, ...] = ()  # so that remote workers load the same plugins as the driver
    recursive: bool = False  # list subfolders of URL prefixes too (local folders are already expanded)
    emit: Callable[[str], None] | None = None  # ``--stdout``: outputs as text instead of files (local runner only)
    on_model_loaded: Callable[[], None] | None = None  # called once the driver is done loading (the CLI's gc switch)


@runtime_checkable
class Runner(Protocol):
    """Takes a batch through the stages; see ``mediakit_register_runners`` for the contract."""

    def run(self, job: BatchJob, events: BatchEvents | None = None) -> BatchSummary:
        """Transcribe every input of ``job``; per-input failures are results, never exceptions."""


RunnerFactory = Callable[[RunnerOptions], Runner]


def runner_registry(pm: pluggy.PluginManager) -> Registry:
    return collect(pm, "mediakit_register_runners", "runner")


def make_runner(pm: pluggy.PluginManager, name: str, options: RunnerOptions | None = None) -> Runner:
    """The runner registered as ``name``; an unknown name raises with the available names."""
    return runner_registry(pm).get(name).factory(options or RunnerOptions())


def transcribe_batch(
    inputs: Iterable[str | os.PathLike[str]],
    output_dir: str | os.PathLike[str],
    *,
    runner: str = DEFAULT_RUNNER,
    model: str = "base",
    decoder: str = "whisper",
    formats: Iterable[str] = ("all",),
    skip_existing: bool = False,
    recursive: bool = False,
    address: str | None = None,
    workers: int | None = None,
    threads_per_worker: int | None = None,
    max_retries: int = 2,
    events: BatchEvents | None = None,
    disabled_plugins: Iterable[str] | None = None,
    model_options: ModelOptions | None = None,
    writer_options: WriterOptions | None = None,
    **decode: Any,
) -> BatchSummary:
    """Transcribe files, folders, globs or URLs into ``output_dir`` (a folder or an fsspec URL) with a runner.

    ``decode`` takes :class:`~mediakit.config.DecodeOptions` fields as :meth:`mediakit.api.LoadedModel.transcribe`
    does (``language="en"``, ``beam_size=1``...). Returns the summary; failed inputs are in it, not raised.
    """
    from .api import _split_options
    from .plugins import disabled_from_env, load_plugins

    disabled = disabled_from_env() if disabled_plugins is None else tuple(disabled_plugins)
    host = load_plugins(disabled)
    decode_options, demux_options = _split_options(decode)
    config = RunConfig(
        model=replace(model_options or ModelOptions(), name=str(model)),
        decoder=decoder,
        demux=demux_options,
        decode=decode_options,
        writer=writer_options or WriterOptions(),
        output=OutputOptions(formats=tuple(formats), output_dir=os.fspath(output_dir), skip_existing=skip_existing),
    )
    sources = expand_inputs([os.fspath(i) for i in inputs], recursive=recursive)
    if not sources:
        raise ConfigError("no input to transcribe")
    options = RunnerOptions(
        address=address, workers=workers, threads_per_worker=threads_per_worker, max_retries=max_retries
    )
    job = BatchJob(config, tuple(sources), host.pm, disabled, recursive=recursive)
    return make_runner(host.pm, runner, options).run(job, events)


def with_threads(config: RunConfig, threads: int) -> RunConfig:
    """``config`` with the model's torch threads set (a worker's share of its machine)."""
    return dataclasses.replace(config, model=dataclasses.replace(config.model, threads=threads))
