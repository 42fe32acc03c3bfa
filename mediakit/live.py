"""Live input: a stream that may never end (standard input, an http/rtsp/... URL) transcribed as it plays.

Segments are final once their window is decoded. Writers that can (``txt``, ``srt``, ``vtt``, ``tsv``:
``open_stream``) grow their file one complete cue at a time, flushed after each, so whatever is on disk
is valid at any moment; the others (``json``) are written at the end, atomically. Stopping (Ctrl-C, or
:meth:`LiveRun.stop`) ends the input where it is: what was heard is decoded and written, then the run
ends normally.
"""

from __future__ import annotations

import logging
import signal
import statistics
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterator, TextIO

from .config import OutputOptions
from .errors import MediakitError
from .outputs import OutputTarget, render, stem_of, targets_for, write_outputs
from .pipeline import Stages, transcribe_stream
from .records import Segment, Transcript
from .stages import FeatureSource

log = logging.getLogger(__name__)


@dataclass
class Latency:
    """Seconds from the moment the end of a segment's audio was read to the moment its line was written."""

    samples: list[float] = field(default_factory=list)

    def add(self, seconds: float) -> None:
        self.samples.append(seconds)

    def line(self) -> str:
        if not self.samples:
            return "latency from speech to line: no line written"
        return (
            f"latency from speech to line: median {statistics.median(self.samples):.1f} s, "
            f"max {max(self.samples):.1f} s over {len(self.samples)} line(s)"
        )


class LiveRun:
    """One live input through the stages; :meth:`stop` may be called from any thread or a signal handler."""

    def __init__(self, stages: Stages, source: str, output: OutputOptions, emit: Callable[[str], None] | None = None):
        self.stages = stages
        self.source = source
        self.output = output
        self.emit = emit
        self.latency = Latency()
        self._features: FeatureSource | None = None
        self._stopping = threading.Event()

    def stop(self) -> None:
        self._stopping.set()
        features = self._features
        if features is not None:
            stop = getattr(features, "stop", None)
            (stop or features.close)()

    @property
    def stopping(self) -> bool:
        return self._stopping.is_set()

    def run(self) -> tuple[Transcript, list[Path]]:
        """Transcribe to the end of the input (or :meth:`stop`); return the transcript and the files written."""
        if self.emit is not None:
            if len(self.stages.writers) != 1:
                from .errors import ConfigError

                raise ConfigError("--stdout needs exactly one output format, e.g. -f srt")
            targets: tuple[OutputTarget, ...] = ()
        else:
            targets = targets_for(stem_of(self.source), self.stages.writers, self.output.output_dir)
        with _growing_files(targets, self.stages, self.emit) as (growing, at_end):

            def on_segment(segment: Segment) -> None:
                for cues, handle in growing:
                    cues.add([segment])
                    handle.flush()
                self._measure(segment)

            transcript = transcribe_stream(self.stages, self.source, emit=on_segment, live=True, opened=self._opened)
        written = [t.path for t in targets if t not in at_end]
        written += write_outputs(transcript, tuple(at_end)) if at_end else []
        if self.emit is not None and not growing_for_stdout(self.stages):
            self.emit(render(self.stages.writers[0], transcript))
        log.info("%s: %s", self.source, self.latency.line())
        return transcript, written

    def _opened(self, features: FeatureSource) -> None:
        self._features = features
        if self._stopping.is_set():
            self.stop()

    def _measure(self, segment: Segment) -> None:
        features = self._features
        heard_at = getattr(features, "heard_at", None)
        if heard_at is None or features is None:
            return
        when = heard_at(int(segment.end * features.spec.sample_rate))
        if when is not None:
            seconds = time.monotonic() - when
            self.latency.add(seconds)
            log.debug("%s: line for %.1f-%.1f s written %.2f s after its audio was read", self.source, segment.start, segment.end, seconds)


def growing_for_stdout(stages: Stages) -> bool:
    return bool(stages.writers) and hasattr(stages.writers[0].writer, "open_stream")


class _Emitter:
    """A text stream that hands what is written to ``emit`` at each flush (``--stdout``)."""

    def __init__(self, emit: Callable[[str], None]):
        self._emit = emit
        self._parts: list[str] = []

    def write(self, text: str) -> int:
        self._parts.append(text)
        return len(text)

    def flush(self) -> None:
        if self._parts:
            text, self._parts = "".join(self._parts), []
            self._emit(text)

    def close(self) -> None:
        self.flush()


@contextmanager
def _growing_files(targets: tuple[OutputTarget, ...], stages: Stages, emit: Callable[[str], None] | None) -> Iterator[tuple[list, list]]:
    """Open every file that grows cue by cue; the rest of the targets are written at the end."""
    growing: list[tuple[object, TextIO]] = []
    at_end: list[OutputTarget] = []
    handles: list[TextIO] = []
    try:
        if emit is not None:
            if growing_for_stdout(stages):
                handle = _Emitter(emit)
                handles.append(handle)  # type: ignore[arg-type]
                growing.append((stages.writers[0].writer.open_stream(handle), handle))  # type: ignore[attr-defined]
                handle.flush()
        for target in targets:
            opener = getattr(target.writer.writer, "open_stream", None)
            if opener is None:
                at_end.append(target)
                continue
            try:
                target.path.parent.mkdir(parents=True, exist_ok=True)
                handle = open(target.path, "w", encoding="utf-8", newline="")
            except OSError as err:
                raise MediakitError(f"{target.path}: cannot write output: {err.strerror or err}") from err
            handles.append(handle)
            growing.append((opener(handle), handle))
            handle.flush()
        yield growing, at_end
    finally:
        for handle in handles:
            handle.close()


@contextmanager
def stop_on_interrupt(run: LiveRun) -> Iterator[None]:
    """Ctrl-C (SIGINT) stops the input: what was heard is decoded and written, and the run ends normally.
    A second Ctrl-C interrupts at once (KeyboardInterrupt). Only in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: object) -> None:
        if run.stopping:
            raise KeyboardInterrupt
        log.warning("%s: stopping: decoding what was heard (Ctrl-C again to abort)", run.source)
        run.stop()

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
