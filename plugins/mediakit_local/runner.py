"""The ``local`` runner: :func:`mediakit.batch.run_batch` behind the runner interface."""

from __future__ import annotations

from mediakit.batch import BatchEvents, BatchSummary, DemuxAhead, run_batch
from mediakit.errors import ConfigError
from mediakit.pipeline import resolve
from mediakit.runners import BatchJob, RunnerOptions


class LocalRunner:
    """Loads the model once in this process and takes the inputs in order.

    While the model loads, the first input (a local file) is already being demuxed by ffmpeg.
    """

    def __init__(self, options: RunnerOptions):
        if options.address is not None or options.workers is not None or options.threads_per_worker is not None:
            raise ConfigError(
                "--ray_address, --workers and --threads_per_worker apply to distributed runners "
                "(e.g. --runner ray); the local runner uses --threads"
            )

    def run(self, job: BatchJob, events: BatchEvents | None = None) -> BatchSummary:
        config = job.config
        if "://" in config.output.output_dir and job.emit is None:
            raise ConfigError(f"-o {config.output.output_dir}: the local runner writes to folders only; URLs need --runner ray")
        first = next((s for s in job.sources if s.error is None), None)
        ahead = None
        if first is not None and DemuxAhead.suits(first) and not config.output.skip_existing:  # a skipped input needs no audio
            ahead = DemuxAhead(job.pm, first.source, config.demux)
        stages = resolve(job.pm, config)  # loads the model while the first input is demuxed
        if job.on_model_loaded is not None:
            job.on_model_loaded()
        if job.emit is not None and len(stages.writers) != 1:
            raise ConfigError("--stdout needs exactly one output format, e.g. -f srt")
        return run_batch(stages, list(job.sources), config.output, events, job.emit, ahead)
