"""The loaded models and the bounded queue of inference work in front of the worker threads.

:class:`Engine` loads every served model once (on a background thread, so the server can answer
``/health`` and 503s while it loads) and runs transcriptions on ``workers`` threads that share them.
:meth:`Engine.submit` admits a request or raises :class:`QueueFull` at once: at most ``workers``
run and ``max_queue`` wait, first come first served. It goes through mediakit's public pipeline
(plugin manager, registries, demux, featurizer, decoder plugin), so every installed plugin works.

Cancelling: each :class:`Work` carries a :class:`threading.Event`; the decoder's progress callback
(called after every window) raises :class:`Cancelled` once it is set, so an abandoned request stops
within one window and frees its worker.

With ``batch_size`` N > 0 (``--batch_size``), requests decode in batched mode by default, and the
windows of concurrent requests are decoded together by one :class:`~.batching.SharedBatcher`
(handed to every decoder that takes one, see :meth:`Engine.stages`).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from ..api import LoadedModel, load_model
from ..config import DecodeOptions, DemuxOptions
from ..errors import InputError, MediakitError, ModelNotFoundError
from ..pipeline import Stages, decoder_registry, demux, make_featurizer, transcribe_audio
from ..records import Audio, Transcript
from .batching import SharedBatcher
from .settings import DEFAULT_ALIASES, ServerSettings

log = logging.getLogger(__name__)

#: The decoder logs each segment here when ``DecodeOptions.verbose`` is on (see longform.log_segment).
SEGMENT_LOGGER = "mediakit_decode"


class QueueFull(Exception):
    """Every worker is busy and ``max_queue`` requests already wait."""

    def __init__(self, waiting: int):
        super().__init__(f"{waiting} request(s) already wait for a worker")
        self.waiting = waiting


class Cancelled(Exception):
    """The request was abandoned (its client went away); raised inside the worker to stop decoding."""


class NotReady(Exception):
    """The models are not loaded (yet, or loading failed)."""


@dataclass(frozen=True)
class SegmentEvent:
    """One segment as the decoder finished it (for streaming): seconds and text with its leading space."""

    start: float
    end: float
    text: str


@dataclass
class Work:
    """One transcription: a media file on disk and how to decode it."""

    source: str
    model: str  # a served model name (see Engine.resolve_model)
    decode: DecodeOptions
    demux: DemuxOptions = field(default_factory=DemuxOptions)
    decoder: str = "whisper"
    on_segment: Callable[[SegmentEvent], None] | None = None  # called on the worker thread
    cancel: threading.Event = field(default_factory=threading.Event)


@dataclass(frozen=True)
class Result:
    transcript: Transcript
    audio_seconds: float
    queued_seconds: float
    run_seconds: float


class _SegmentRouter(logging.Handler):
    """Hands each segment the decoder logs to the callback of the work running on that thread."""

    def __init__(self) -> None:
        super().__init__(logging.INFO)
        self.sinks: dict[int, Callable[[SegmentEvent], None]] = {}

    def emit(self, record: logging.LogRecord) -> None:
        sink = self.sinks.get(record.thread or 0)
        if sink is None:
            return
        event = _segment_of(record)
        if event is not None:
            sink(event)

    def handleError(self, record: logging.LogRecord) -> None:  # a broken sink must not print tracebacks
        log.debug("segment callback failed", exc_info=True)


def _segment_of(record: logging.LogRecord) -> SegmentEvent | None:
    segment = getattr(record, "segment", None)
    if segment is not None:
        return SegmentEvent(float(segment.start), float(segment.end), str(segment.text))
    if record.msg == "[%s --> %s] %s" and isinstance(record.args, tuple) and len(record.args) == 3:
        start, end, text = record.args
        return SegmentEvent(_seconds(str(start)), _seconds(str(end)), str(text))
    return None


def _seconds(stamp: str) -> float:
    total = 0.0
    for part in stamp.split(":"):
        total = total * 60 + float(part)
    return total


class Engine:
    """The served models and the workers that run transcriptions with them."""

    def __init__(self, settings: ServerSettings, *, loader: Callable[[str], LoadedModel] | None = None):
        self.settings = settings
        self._loader = loader or self._load
        self.models: dict[str, LoadedModel] = {}
        self.load_seconds: dict[str, float] = {}
        self.load_error: str | None = None
        self._ready = threading.Event()
        self._lock = threading.Lock()
        self._pending = 0  # admitted, not finished (running + waiting)
        self._running = 0
        self.audio_seconds = 0.0  # transcribed, in total
        self.busy_seconds = 0.0  # worker time spent transcribing them
        self._executor = concurrent.futures.ThreadPoolExecutor(
            max_workers=max(1, settings.workers), thread_name_prefix="mediakit-worker"
        )
        self._router = _SegmentRouter()
        self._closed = False
        self.batcher = SharedBatcher(settings.batch_size) if settings.batch_size > 0 else None

    # -- loading --------------------------------------------------------------------------------------
    def _load(self, name: str) -> LoadedModel:
        s = self.settings
        return load_model(
            name, device=s.device, compute_type=s.compute_type, threads=s.threads, model_dir=s.model_dir,
            disabled_plugins=s.disabled_plugins,
        )  # fmt: skip

    def load(self) -> None:
        """Load every served model (blocking); a failure is kept in ``load_error`` and raised."""
        try:
            for name in self.settings.models:
                started = time.perf_counter()
                self.models[name] = self._loader(name)
                self.load_seconds[name] = time.perf_counter() - started
                log.info("model %s loaded in %.1f s", name, self.load_seconds[name])
        except BaseException as err:
            self.load_error = " ".join(str(err).split()) or type(err).__name__
            raise
        decode_log = logging.getLogger(SEGMENT_LOGGER)
        if self._router not in decode_log.handlers:
            decode_log.addHandler(self._router)
        if decode_log.getEffectiveLevel() > logging.INFO:
            decode_log.setLevel(logging.INFO)  # segments are logged at INFO; the router needs them
        self._ready.set()

    def start_loading(self, on_error: Callable[[BaseException], None] | None = None) -> threading.Thread:
        """Load on a background thread; ``on_error`` hears a failure (the CLI stops the server)."""

        def run() -> None:
            try:
                self.load()
            except BaseException as err:  # reported through load_error and on_error
                log.error("loading the models failed: %s", self.load_error)
                if on_error is not None:
                    on_error(err)

        thread = threading.Thread(target=run, name="mediakit-load", daemon=True)
        thread.start()
        return thread

    @property
    def ready(self) -> bool:
        return self._ready.is_set()

    def wait_ready(self, timeout: float | None = None) -> bool:
        return self._ready.wait(timeout)

    # -- models -----------------------------------------------------------------------------------------
    @property
    def model_names(self) -> tuple[str, ...]:
        return self.settings.models

    def resolve_model(self, name: str | None) -> str:
        """The served model a request names: ``whisper-1`` (or nothing) is the default model."""
        if not name or name in DEFAULT_ALIASES:
            return self.settings.default_model
        if name in self.settings.models:
            return name
        raise ModelNotFoundError("model", name, list(self.settings.models) + list(DEFAULT_ALIASES))

    def loaded(self, name: str) -> LoadedModel:
        if not self.ready:
            raise NotReady(self.load_error or "the models are still loading")
        return self.models[name]

    def stages(self, work: Work) -> Stages:
        """The stages for one request; the decoder checks the options here (ConfigError for a bad one).
        With a shared batcher, a decoder that takes one (``with_batcher``) gets it, bound to ``work``."""
        loaded = self.loaded(work.model)
        decoder = decoder_registry(loaded.pm).get(work.decoder).factory(work.decode)
        if self.batcher is not None and callable(getattr(decoder, "with_batcher", None)):
            decoder = decoder.with_batcher(self.batcher.bind(_cancel_check(work)))
        return Stages(loaded.pm, loaded.model, make_featurizer(loaded.pm, loaded.model), decoder, (), work.demux)

    # -- the queue --------------------------------------------------------------------------------------
    @property
    def running(self) -> int:
        return self._running

    @property
    def waiting(self) -> int:
        return self._pending - self._running

    def submit(self, work: Work, stages: Stages | None = None) -> "asyncio.Future[Result]":
        """Admit ``work`` or raise :class:`QueueFull` (or :class:`NotReady`) right away.

        The future's result is a :class:`Result`; it raises what the transcription raised
        (:class:`~mediakit.errors.InputError` for media that cannot be read, :class:`Cancelled`).
        """
        stages = stages or self.stages(work)
        with self._lock:
            if self._closed:
                raise NotReady("the server is shutting down")
            capacity = max(1, self.settings.workers) + max(0, self.settings.max_queue)
            if self._pending >= capacity:
                raise QueueFull(self.waiting)
            self._pending += 1
        submitted = time.perf_counter()
        try:
            future = self._executor.submit(self._run, work, stages, submitted)
        except BaseException:
            with self._lock:
                self._pending -= 1
            raise
        future.add_done_callback(self._release)
        return asyncio.wrap_future(future)

    def _release(self, _future: concurrent.futures.Future) -> None:
        with self._lock:
            self._pending -= 1

    def _run(self, work: Work, stages: Stages, submitted: float) -> Result:
        started = time.perf_counter()
        with self._lock:
            self._running += 1
        ident = threading.get_ident()
        try:
            if work.cancel.is_set():
                raise Cancelled("cancelled before it started")
            try:
                audio: Audio = demux(stages, work.source)
            except MediakitError as err:
                raise InputError(str(err)) from err
            if len(audio.samples) == 0:
                raise InputError(f"{work.source}: no audio in this file (0 samples decoded)")
            if work.cancel.is_set():
                raise Cancelled("cancelled after reading the input")

            def progress(done: float, total: float) -> None:
                if work.cancel.is_set():
                    raise Cancelled(f"cancelled at {done:.1f} of {total:.1f} s")

            if work.on_segment is not None:
                self._router.sinks[ident] = work.on_segment
            try:
                transcript = transcribe_audio(stages, audio, progress)
            finally:
                self._router.sinks.pop(ident, None)
            ran = time.perf_counter() - started
            with self._lock:
                self.audio_seconds += audio.duration
                self.busy_seconds += ran
            return Result(transcript, audio.duration, started - submitted, ran)
        finally:
            with self._lock:
                self._running -= 1

    def close(self) -> None:
        """Stop taking work, cancel nothing that runs, and let the workers finish."""
        with self._lock:
            self._closed = True
        self._executor.shutdown(wait=False, cancel_futures=True)
        if self.batcher is not None:
            self.batcher.close()
        logging.getLogger(SEGMENT_LOGGER).removeHandler(self._router)


def _cancel_check(work: Work) -> Callable[[], BaseException | None]:
    def cancelled() -> BaseException | None:
        return Cancelled("cancelled while its windows waited for a shared batch") if work.cancel.is_set() else None

    return cancelled


def decode_options(**options: Any) -> DecodeOptions:
    from ..api import decode_options as build

    return build(**options)
