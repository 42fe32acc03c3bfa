"""The Python API: load a model once, transcribe many inputs. The CLI is a thin layer over this.

>>> import mediakit
>>> result = mediakit.transcribe("talk.mp3", language="en")          # doctest: +SKIP
>>> model = mediakit.load_model("base")                                # doctest: +SKIP
>>> for path in paths:                                                  # doctest: +SKIP
...     print(model.transcribe(path, word_timestamps=True).text)
"""

from __future__ import annotations

import dataclasses
import os
import queue
import threading
from dataclasses import dataclass, replace
from typing import Any, Iterable, Iterator

import numpy as np
import pluggy

from .config import DecodeOptions, DemuxOptions, ModelOptions, RunConfig, temperature_ladder
from .errors import ConfigError, StageError
from .pipeline import Stages, decode_stream, demux, demuxer_for, load_model as _load_model, make_featurizer, decoder_registry, transcribe_stream
from .plugins import disabled_from_env, load_plugins
from .records import Audio, DecodeStart, FeatureSpec, ModelInfo, ProgressCallback, Segment, Transcript
from .stages import Model

_DECODE_FIELDS = {f.name for f in dataclasses.fields(DecodeOptions)}
_MODEL_FIELDS = {f.name for f in dataclasses.fields(ModelOptions)} - {"name"}
_DEMUX_FIELDS = {f.name for f in dataclasses.fields(DemuxOptions)}


@dataclass(frozen=True)
class LoadedModel:
    """A model loaded once with the plugins that serve it; call :meth:`transcribe` as often as needed."""

    pm: pluggy.PluginManager
    model: Model
    options: ModelOptions

    @property
    def name(self) -> str:
        return self.model.name

    def transcribe(
        self,
        audio: str | os.PathLike[str] | np.ndarray | Audio,
        *,
        decoder: str = "whisper",
        progress: ProgressCallback | None = None,
        **options: Any,
    ) -> Transcript:
        """Transcribe a media file path, an :class:`~mediakit.records.Audio`, or 16 kHz mono float32 samples.

        ``options`` are :class:`~mediakit.config.DecodeOptions` fields (``language="zh"``,
        ``beam_size=1``, ``word_timestamps=True``, ``vad=True``...), ``temperature`` as a number
        (with ``temperature_increment_on_fallback``) or a tuple, and ``audio_stream``.
        """
        stages = self._stages(decoder, options)
        samples = _as_audio(stages, audio)
        features = stages.featurizer.featurize(samples)
        return stages.decoder.decode(stages.model, features, progress)

    def stream(
        self,
        audio: str | os.PathLike[str] | np.ndarray | Audio,
        *,
        live: bool = False,
        decoder: str = "whisper",
        **options: Any,
    ) -> "SegmentStream":
        """The segments of a media path or URL (or audio) as they are finalized, in bounded memory.

        ``live``: the input may never end (``-`` or a URL ffmpeg opens); stop it with
        :meth:`SegmentStream.stop` (what was heard is still decoded) or by closing the iterator.
        The language (detected or given) is :meth:`SegmentStream.start`'s, as soon as the decoder knows
        it; the transcript (``text``, ``language``) is :attr:`SegmentStream.transcript` once iteration ends.
        Options as for :meth:`transcribe`.
        """
        stages = self._stages(decoder, options)
        source = _as_source(stages, audio)
        return SegmentStream(lambda emit, opened, started: _decode_input(stages, source, emit, opened, started, live))

    def detect_language(
        self, audio: str | os.PathLike[str] | np.ndarray | Audio, *, decoder: str = "whisper", **options: Any
    ) -> DecodeStart:
        """The language of an input and its probabilities, as :meth:`transcribe` would detect them (the
        first ``language_detection_segments`` windows, of speech only with ``vad=True``), without decoding it.

        ``language_probs`` is None when the model is English-only or ``language`` is given."""
        stages = self._stages(decoder, options)
        found: list[DecodeStart] = []

        def started(start: DecodeStart) -> None:
            found.append(start)
            raise _Detected

        try:
            _decode_input(stages, _as_source(stages, audio), None, None, started)
        except _Detected:
            pass
        if not found:
            raise StageError(f"decoder {decoder!r} ended without saying which language it decoded")
        return found[0]

    def _stages(self, decoder: str, options: dict[str, Any]) -> Stages:
        decode, demux_options = _split_options(options)
        return Stages(
            pm=self.pm,
            model=self.model,
            featurizer=make_featurizer(self.pm, self.model),
            decoder=decoder_registry(self.pm).get(decoder).factory(decode),
            writers=(),
            demux_options=demux_options,
        )


class _Closed(Exception):
    pass


class _Detected(Exception):
    """Ends a decoding once its language is known (:meth:`LoadedModel.detect_language`)."""


class SegmentStream:
    """An iterator of :class:`~mediakit.records.Segment` as a decoding thread finalizes them."""

    _END = object()

    def __init__(self, run):
        self.transcript: Transcript | None = None
        self._queue: queue.Queue = queue.Queue()
        self._features = None
        self._closed = threading.Event()
        self._start: DecodeStart | None = None
        self._error: BaseException | None = None
        self._start_known = threading.Event()  # set with the start, or when decoding ends without one
        self._thread = threading.Thread(target=self._work, args=(run,), name="mediakit-stream", daemon=True)
        self._thread.start()

    def _work(self, run) -> None:
        try:
            self.transcript = run(self._put, self._opened, self._started)
            self._queue.put(self._END)
        except _Closed:
            self._queue.put(self._END)
        except BaseException as err:  # handed to the iterating thread
            self._error = err
            self._queue.put(err)
        finally:
            self._start_known.set()

    def _started(self, start: DecodeStart) -> None:
        self._start = start
        self._start_known.set()

    def _put(self, segment: Segment) -> None:
        if self._closed.is_set():
            raise _Closed  # nobody reads any more: stop decoding
        self._queue.put(segment)

    def _opened(self, features) -> None:
        self._features = features
        if self._closed.is_set():
            self.stop()

    def __iter__(self) -> Iterator[Segment]:
        return self

    def __next__(self) -> Segment:
        item = self._queue.get()
        if item is self._END:
            self._queue.put(item)
            raise StopIteration
        if isinstance(item, BaseException):
            self._queue.put(self._END)
            raise item
        return item

    def start(self, timeout: float | None = None) -> DecodeStart:
        """The language and the audio the decoder is decoding, once it knows them (after language
        detection, before the first segment). Raises the decoding's error if it failed before that, and
        TimeoutError after ``timeout`` seconds."""
        if not self._start_known.wait(timeout):
            raise TimeoutError(f"the decoder did not start within {timeout} s")
        if self._start is not None:
            return self._start
        if self._error is not None:
            raise self._error
        raise RuntimeError("the stream was closed before the decoder started")

    def stop(self) -> None:
        """End a live input here: what was read is still decoded and its segments still come."""
        features = self._features
        stop = getattr(features, "stop", None)
        if stop is not None:
            stop()

    def close(self) -> None:
        """Stop the input and wait for the decoding thread to end."""
        self._closed.set()
        self.stop()
        self._thread.join()

    def __enter__(self) -> "SegmentStream":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def load_model(
    name: str = "base",
    *,
    device: str = "auto",
    compute_type: str = "auto",
    threads: int = 0,
    model_dir: str | None = None,
    download: bool = True,
    disabled_plugins: Iterable[str] | None = None,
) -> LoadedModel:
    """Load a model by name (``base``, ``tiny.en``, ...) or path, with the installed plugins."""
    options = ModelOptions(
        name=str(name),
        device=device,
        compute_type=compute_type,
        threads=threads,
        model_dir=model_dir if model_dir is not None else os.environ.get("MEDIAKIT_MODEL_DIR"),
        download=download,
    )
    disabled = disabled_from_env() if disabled_plugins is None else tuple(disabled_plugins)
    host = load_plugins(disabled)
    return LoadedModel(host.pm, _load_model(host.pm, options), options)


def transcribe(
    audio: str | os.PathLike[str] | np.ndarray | Audio,
    model: str | LoadedModel = "base",
    **options: Any,
) -> Transcript:
    """Transcribe one input; ``model`` is a name, a path, or a :class:`LoadedModel` to reuse.

    Model options (``device``, ``compute_type``, ``threads``, ``model_dir``) apply when ``model`` is
    a name or path; every other keyword goes to :meth:`LoadedModel.transcribe`.
    """
    if not isinstance(model, LoadedModel):
        model_kwargs = {k: options.pop(k) for k in list(options) if k in _MODEL_FIELDS}
        model = load_model(model, **model_kwargs)
    return model.transcribe(audio, **options)


def available_models(disabled_plugins: Iterable[str] | None = None) -> list[ModelInfo]:
    """Every model name the installed plugins know, with where (and whether) it is available locally."""
    disabled = disabled_from_env() if disabled_plugins is None else tuple(disabled_plugins)
    host = load_plugins(disabled)
    infos: list[ModelInfo] = []
    for batch in host.pm.hook.mediakit_list_models():
        infos.extend(batch or ())
    return infos


def load_audio(
    source: str | os.PathLike[str], sample_rate: int = 16000, *, pm: pluggy.PluginManager | None = None, **demux_options: Any
) -> np.ndarray:
    """Any media file as mono float32 samples in [-1, 1] at ``sample_rate`` Hz, (n,): the demux stage alone.
    ``demux_options``: :class:`~mediakit.config.DemuxOptions` fields (``audio_stream``, ``ffmpeg``); ``pm``:
    the plugins to use (default: the installed ones)."""
    if pm is None:
        pm = load_plugins(disabled_from_env()).pm
    path = os.fspath(source)
    audio = demuxer_for(pm, path, DemuxOptions(**demux_options)).demux(path, FeatureSpec(sample_rate=sample_rate))
    return np.ascontiguousarray(audio.samples, dtype=np.float32)


def decode_options(**options: Any) -> DecodeOptions:
    """Build :class:`DecodeOptions` from keywords, with openai-whisper's temperature convention."""
    return _split_options(options)[0]


def _split_options(options: dict[str, Any]) -> tuple[DecodeOptions, DemuxOptions]:
    options = dict(options)
    increment = options.pop("temperature_increment_on_fallback", 0.2)
    if "temperature" in options:
        options["temperature"] = temperature_ladder(options["temperature"], increment)
    demux_kwargs = {k: options.pop(k) for k in list(options) if k in _DEMUX_FIELDS}
    unknown = sorted(set(options) - _DECODE_FIELDS)
    if unknown:
        raise ConfigError(f"unknown option(s): {', '.join(unknown)}; known: {', '.join(sorted(_DECODE_FIELDS | _DEMUX_FIELDS))}")
    return replace(DecodeOptions(), **options), DemuxOptions(**demux_kwargs)


def _as_source(stages: Stages, audio: str | os.PathLike[str] | np.ndarray | Audio) -> str | Audio:
    """A path or URL as a string (the stages stream it), anything else as whole :class:`Audio`."""
    return os.fspath(audio) if isinstance(audio, (str, os.PathLike)) else _as_audio(stages, audio)


def _decode_input(stages: Stages, source: str | Audio, emit, opened, started, live: bool = False) -> Transcript:
    """Decode a path (streamed, see :func:`~mediakit.pipeline.transcribe_stream`) or whole audio, with the
    stream's callbacks (``opened`` reaches only a streamed path)."""
    if isinstance(source, str):
        return transcribe_stream(stages, source, emit=emit, live=live, opened=opened, started=started)
    return decode_stream(stages, source, emit=emit, started=started)


def _as_audio(stages: Stages, audio: str | os.PathLike[str] | np.ndarray | Audio) -> Audio:
    if isinstance(audio, Audio):
        return audio
    if isinstance(audio, np.ndarray):
        if audio.ndim != 1:
            raise ConfigError(f"audio array must be 1-D mono samples, got shape {audio.shape}")
        rate = stages.model.feature_spec.sample_rate
        return Audio(np.ascontiguousarray(audio, dtype=np.float32), rate, "<array>")
    return demux(stages, os.fspath(audio))


def run_config(**sections: Any) -> RunConfig:
    """A :class:`RunConfig` with the given sections replaced (for callers assembling a run by hand)."""
    return replace(RunConfig(), **sections)
