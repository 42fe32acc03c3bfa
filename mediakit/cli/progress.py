"""What the user sees while a batch runs: progress bars on a terminal, errors always."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeRemainingColumn

from ..batch import BatchSummary, InputResult

SEGMENT_LOGGER = "mediakit_decode"


class _SegmentsToStdout(logging.Handler):
    """``--verbose True``: the decoder logs each segment; show it on stdout like openai-whisper."""

    def emit(self, record: logging.LogRecord) -> None:
        if getattr(record, "segment", None) is not None or record.getMessage().startswith("["):
            sys.stdout.write(record.getMessage() + "\n")
            sys.stdout.flush()


class ConsoleEvents:
    """Batch events drawn on stderr; errors are printed the moment an input fails."""

    def __init__(self, *, bars: bool, show_summary: bool, show_segments: bool):
        self.console = Console(stderr=True, highlight=False, soft_wrap=True)
        self.bars = bars
        self.show_summary = show_summary
        self.show_segments = show_segments
        self._progress: Progress | None = None
        self._batch: TaskID | None = None
        self._files: dict[str, tuple[TaskID, float]] = {}  # bar and start time per input in flight (runners may run several)
        self._handler: logging.Handler | None = None
        self._total = 0

    def __enter__(self) -> "ConsoleEvents":
        if self.show_segments:
            self._handler = _SegmentsToStdout(logging.INFO)
            logger = logging.getLogger(SEGMENT_LOGGER)
            logger.addHandler(self._handler)
            if logger.getEffectiveLevel() > logging.INFO:
                logger.setLevel(logging.INFO)
        if self.bars:
            self._progress = Progress(
                TextColumn("{task.description}", table_column=None),
                BarColumn(),
                TextColumn("{task.fields[detail]}"),
                TimeRemainingColumn(),
                console=self.console,
                transient=True,
            )
            self._progress.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        if self._progress is not None:
            self._progress.stop()
        if self._handler is not None:
            logging.getLogger(SEGMENT_LOGGER).removeHandler(self._handler)

    def file_started(self, source: str, index: int, total: int) -> None:
        self._total = total
        if self._progress is None:
            return
        if self._batch is None and total > 1:
            self._batch = self._progress.add_task("batch", total=total, detail=f"0/{total} files")
        self._drop_bar(source)
        self._files[source] = (self._progress.add_task(_short(source), total=None, detail="reading"), time.perf_counter())

    def file_progress(self, source: str, done: float, total: float) -> None:
        if self._progress is None or source not in self._files:
            return
        task, started = self._files[source]
        elapsed = time.perf_counter() - started
        speed = f", {done / elapsed:.1f}x real time" if elapsed > 0 and done > 0 else ""
        self._progress.update(task, completed=done, total=max(total, 1e-9), detail=f"{done:.0f}/{total:.0f} s{speed}")

    def _drop_bar(self, source: str) -> None:
        if self._progress is not None and source in self._files:
            self._progress.remove_task(self._files.pop(source)[0])

    def file_finished(self, result: InputResult) -> None:
        if result.status == "failed":
            self.console.print(f"Error: {result.error}", markup=False)
        self._drop_bar(result.source)
        if self._progress is not None and self._batch is not None:
            self._progress.advance(self._batch)
            done = int(self._progress.tasks[self._batch].completed) if self._progress.tasks else 0
            self._progress.update(self._batch, detail=f"{done}/{self._total} files")

    def summary(self, summary: BatchSummary) -> None:
        if self.show_summary:
            self.console.print(summary.line(), markup=False)


def make_events(*, quiet: bool, show_segments: bool) -> ConsoleEvents:
    """Bars and a summary on a terminal; on a pipe or with ``--quiet``, errors alone."""
    interactive = sys.stderr.isatty() and not quiet
    return ConsoleEvents(bars=interactive, show_summary=interactive, show_segments=show_segments and not quiet)


def _short(source: str, width: int = 40) -> str:
    return source if len(source) <= width else "…" + source[-(width - 1):]
