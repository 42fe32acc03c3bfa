"""Transcribe many inputs with one set of stages: each failure is reported, the rest carry on."""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Protocol

import pluggy

from .config import DemuxOptions, OutputOptions
from .errors import MediakitError
from .inputs import Source, unique_stems
from .outputs import OutputTarget, all_exist, render, stem_of, targets_for, write_outputs
from .pipeline import Stages, decode_stream, demux, demuxer_for, streams, transcribe_audio, transcribe_stream
from .records import Audio, FeatureSpec, Transcript
from .stages import FeatureSource

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class InputResult:
    source: str
    status: str  # "done", "skipped" or "failed"
    error: str | None = None  # one line naming the input and the cause
    duration: float = 0.0  # seconds of audio
    outputs: tuple[Path, ...] = ()
    transcript: Transcript | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class BatchSummary:
    results: tuple[InputResult, ...]
    wall_seconds: float

    def count(self, status: str) -> int:
        return sum(1 for r in self.results if r.status == status)

    @property
    def audio_seconds(self) -> float:
        return sum(r.duration for r in self.results if r.status == "done")

    @property
    def ok(self) -> bool:
        return self.count("failed") == 0

    def line(self) -> str:
        speed = self.audio_seconds / self.wall_seconds if self.wall_seconds > 0 else 0.0
        return (
            f"{self.count('done')} done, {self.count('skipped')} skipped, {self.count('failed')} failed; "
            f"{self.audio_seconds:.1f} s of audio in {self.wall_seconds:.1f} s ({speed:.1f}x real time)"
        )


class BatchEvents(Protocol):
    """What a front end (the CLI's progress bars) hears about a batch; every method is optional."""

    def file_started(self, source: str, index: int, total: int) -> None: ...

    def file_progress(self, source: str, done: float, total: float) -> None: ...

    def file_finished(self, result: InputResult) -> None: ...


class _NoEvents:
    def file_started(self, source: str, index: int, total: int) -> None:
        pass

    def file_progress(self, source: str, done: float, total: float) -> None:
        pass

    def file_finished(self, result: InputResult) -> None:
        pass


class DemuxAhead:
    """One local input demuxed on a background thread while the caller loads the model.

    ffmpeg decodes in its own process and the reading thread holds the GIL only between 1 MiB reads,
    so this overlaps the torch import and the model load (1.5 s or so) with the demuxing (0.3 s for
    five minutes of WAV, more for compressed audio). The model's sample rate is not known yet: the
    audio is decoded at the default :class:`FeatureSpec`'s (Whisper's 16 kHz) and decoded again in
    turn if the model wants another. An error is kept and raised where the input's turn comes, so a
    bad first input fails exactly as it would have without this.

    When the demuxer and the featurizer stream (the built-ins do), the input is read into a feature
    source instead (:func:`mediakit.pipeline.stream_features`), so the look-ahead holds no more memory
    than the streamed run: it is used when the model's feature spec is the default one.
    """

    def __init__(self, pm: pluggy.PluginManager, source: str, options: DemuxOptions):
        self.source = source
        self._spec = FeatureSpec()
        self._audio: Audio | None = None
        self._features: FeatureSource | None = None
        self._error: Exception | None = None
        self._done = threading.Event()
        # a daemon: if the run stops before the input's turn (the model failed to load), nothing waits for it
        thread = threading.Thread(target=self._run, args=(pm, options), name="mediakit-demux-ahead", daemon=True)
        thread.start()

    @staticmethod
    def suits(source: Source) -> bool:
        """Only local files: standard input and URLs are read once, in their turn."""
        return source.error is None and os.path.isfile(source.source)

    def _run(self, pm: pluggy.PluginManager, options: DemuxOptions) -> None:
        try:
            demuxer = demuxer_for(pm, self.source, options)
            featurizer = pm.hook.mediakit_make_featurizer(spec=self._spec)
            if hasattr(demuxer, "stream") and hasattr(featurizer, "featurize_stream"):
                self._features = featurizer.featurize_stream(demuxer.stream(self.source, self._spec), self.source)
            else:
                self._audio = demuxer.demux(self.source, self._spec)
        except Exception as err:  # raised again in the input's turn
            self._error = err
        finally:
            self._done.set()

    def take(self, spec: FeatureSpec) -> Audio | FeatureSource | None:
        """The audio or feature source (after waiting for it), or None when ``spec`` wants other
        features; raises what demuxing raised. It is handed over once."""
        self._done.wait()
        audio, features, error = self._audio, self._features, self._error
        self._audio = self._features = self._error = None
        if error is not None:
            raise error
        if features is not None:
            if features.spec == spec:
                return features
            features.close()
            return None
        return audio if audio is not None and audio.sample_rate == spec.sample_rate else None


def run_batch(
    stages: Stages,
    sources: list[Source],
    output: OutputOptions,
    events: BatchEvents | None = None,
    emit: Callable[[str], None] | None = None,
    ahead: DemuxAhead | None = None,
) -> BatchSummary:
    """Transcribe ``sources`` in order and write their outputs.

    :param emit: when given, outputs are passed to it as text instead of written to files
        (``--stdout``); only one format may be chosen then.
    :param ahead: an input already being demuxed (see :class:`DemuxAhead`).
    """
    events = events or _NoEvents()
    started = time.perf_counter()
    stems = unique_stems([s.source for s in sources if s.error is None], stem_of)
    results: list[InputResult] = []
    for index, item in enumerate(sources):
        events.file_started(item.source, index, len(sources))
        if item.error is not None:
            result = InputResult(item.source, "failed", item.error)
        else:
            targets = () if emit else targets_for(stems[item.source], stages.writers, output.output_dir)
            early, ahead = (ahead, None) if ahead is not None and ahead.source == item.source else (None, ahead)
            result = _run_one(stages, item.source, targets, output, events, emit, early)
        if result.status == "failed":
            log.debug("input failed: %s", result.error)
        events.file_finished(result)
        results.append(result)
    return BatchSummary(tuple(results), time.perf_counter() - started)


def _run_one(
    stages: Stages,
    source: str,
    targets: tuple[OutputTarget, ...],
    output: OutputOptions,
    events: BatchEvents,
    emit: Callable[[str], None] | None,
    ahead: DemuxAhead | None = None,
) -> InputResult:
    if output.skip_existing and all_exist(targets):
        return InputResult(source, "skipped", outputs=tuple(t.path for t in targets))
    progress = lambda done, total: events.file_progress(source, done, total)  # noqa: E731
    opened: list[FeatureSource] = []
    try:
        early = ahead.take(stages.model.feature_spec) if ahead is not None else None
        if isinstance(early, Audio):
            audio: Audio | FeatureSource = early
            transcript = transcribe_audio(stages, early, progress)
        elif early is not None:
            audio = early
            try:
                transcript = decode_stream(stages, early, progress)
            finally:
                early.close()
        elif streams(stages):
            transcript = transcribe_stream(stages, source, progress, opened=opened.append)
            audio = opened[0]
        else:
            audio = demux(stages, source)
            transcript = transcribe_audio(stages, audio, progress)
        if emit is not None:
            for writer in stages.writers:
                emit(render(writer, transcript))
            written: list[Path] = []
        else:
            written = write_outputs(transcript, targets)
    except MediakitError as err:
        return InputResult(source, "failed", _name_input(source, str(err)))
    except (MemoryError, RecursionError, RuntimeError, ValueError, OSError, TypeError, IndexError) as err:
        # A bug or an environment problem in one input must not cost the rest of the batch.
        log.debug("unexpected error on %s", source, exc_info=True)
        return InputResult(source, "failed", _name_input(source, f"internal error: {type(err).__name__}: {err}"))
    return InputResult(source, "done", duration=_seconds(audio), outputs=tuple(written), transcript=transcript)


def _seconds(audio: Audio | FeatureSource) -> float:
    if isinstance(audio, Audio):
        return audio.duration
    return getattr(audio, "n_samples", audio.content_frames * audio.spec.hop_length) / float(audio.spec.sample_rate)


def _name_input(source: str, message: str) -> str:
    message = " ".join(message.split())  # always one line
    return message if source in message else f"{source}: {message}"


# --- used by runners (mediakit.runners): one input, written to targets a runner has named ---------------


def transcribe_input(
    stages: Stages,
    source: str,
    targets: tuple[OutputTarget, ...],
    output: OutputOptions,
    events: BatchEvents | None = None,
) -> InputResult:
    """One input of a batch, exactly as :func:`run_batch` does it: skip check, transcription, atomic
    writes, and every failure as a ``failed`` result naming the input. A distributed runner's worker
    calls this with the targets the driver named for the whole batch (see :func:`batch_targets`)."""
    return _run_one(stages, source, targets, output, events or _NoEvents(), None)


def batch_targets(sources: list[Source], writers: tuple, output_dir: str) -> dict[str, tuple[OutputTarget, ...]]:
    """Every listed input's output files, named as :func:`run_batch` names them (stems unique in the batch)."""
    stems = unique_stems([s.source for s in sources if s.error is None], stem_of)
    return {source: targets_for(stem, writers, output_dir) for source, stem in stems.items()}
