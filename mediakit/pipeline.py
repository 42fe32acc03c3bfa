"""Resolve the stages once, then run demux -> features -> model/decode for each input.

Requirements are settled backwards at resolve time: the model is loaded first because its feature
spec fixes what the featurizer and the demuxer must produce. After that data only moves forward.
"""

from __future__ import annotations

import inspect
import logging
import os
from dataclasses import dataclass
from typing import Callable, Iterable, Iterator

import numpy as np
import pluggy

from .config import DemuxOptions, ModelOptions, RunConfig, WriterOptions
from .errors import ConfigError, StageError, StageNotFoundError
from .records import Audio, DecodeStart, FeatureSpec, ProgressCallback, Segment, Transcript
from .registry import Registry, collect
from .stages import Decoder, Demuxer, Featurizer, FeatureSource, Model, SegmentCallback, StartCallback, Writer

log = logging.getLogger(__name__)

#: What ``-f all`` means: openai-whisper's five formats.
ALL_FORMATS = ("txt", "vtt", "srt", "tsv", "json")


@dataclass(frozen=True)
class NamedWriter:
    name: str
    writer: Writer

    @property
    def extension(self) -> str:
        return self.writer.extension


@dataclass(frozen=True)
class Stages:
    """The resolved stages of one run; the demuxer is chosen per input."""

    pm: pluggy.PluginManager
    model: Model
    featurizer: Featurizer
    decoder: Decoder
    writers: tuple[NamedWriter, ...]
    demux_options: DemuxOptions


def model_registry(pm: pluggy.PluginManager) -> Registry:
    return collect(pm, "mediakit_register_models", "model")


def decoder_registry(pm: pluggy.PluginManager) -> Registry:
    return collect(pm, "mediakit_register_decoders", "decoder")


def writer_registry(pm: pluggy.PluginManager) -> Registry:
    return collect(pm, "mediakit_register_writers", "output format")


def expand_formats(formats: tuple[str, ...] | list[str], registry: Registry) -> tuple[str, ...]:
    """``all`` -> the five standard formats; comma lists split; duplicates dropped; unknown names rejected."""
    names: list[str] = []
    for item in formats:
        for name in (part.strip() for part in item.split(",")):
            if not name:
                continue
            expanded = [f for f in ALL_FORMATS if f in registry.names] if name == "all" else [name]
            for each in expanded:
                registry.get(each)  # raises with the available names
                if each not in names:
                    names.append(each)
    if not names:
        raise ConfigError("no output format given; use -f with one of: all, " + ", ".join(registry.names))
    return tuple(names)


def make_writers(pm: pluggy.PluginManager, formats: tuple[str, ...], options: WriterOptions) -> tuple[NamedWriter, ...]:
    registry = writer_registry(pm)
    return tuple(NamedWriter(name, registry.get(name).factory(options)) for name in expand_formats(formats, registry))


def load_model(pm: pluggy.PluginManager, options: ModelOptions) -> Model:
    """Load the model named by ``options.name``: a registered name, or a path to weights."""
    name = options.name
    if os.path.exists(name):
        model = pm.hook.mediakit_load_model_path(path=name, options=options)
        if model is None:
            raise StageError(f"no installed plugin can read model weights at {name!r}")
        return model
    registry = model_registry(pm)
    try:
        entry = registry.get(name)
    except StageNotFoundError as err:
        looks_like_path = os.sep in name or name.endswith((".pt", ".bin", ".safetensors"))
        if looks_like_path:
            raise StageError(f"model path {name!r} does not exist") from err
        raise
    weights = pm.hook.mediakit_model_weights(name=name)
    return entry.factory(options, weights)


def make_featurizer(pm: pluggy.PluginManager, model: Model) -> Featurizer:
    featurizer = pm.hook.mediakit_make_featurizer(spec=model.feature_spec)
    if featurizer is None:
        raise StageError(f"no installed plugin computes the features model {model.name!r} needs ({model.feature_spec})")
    return featurizer


def demuxer_for(pm: pluggy.PluginManager, source: str, options: DemuxOptions) -> Demuxer:
    demuxer = pm.hook.mediakit_make_demuxer(source=source, options=options)
    if demuxer is None:
        raise StageError(f"{source}: no installed plugin can read this input (is the ffmpeg plugin disabled?)")
    return demuxer


def resolve(pm: pluggy.PluginManager, config: RunConfig, *, model: Model | None = None, with_writers: bool = True) -> Stages:
    """Pick every stage of a run. Names are checked before the model loads, so typos fail fast."""
    decoders = decoder_registry(pm)
    decoder_entry = decoders.get(config.decoder)
    writers = make_writers(pm, config.output.formats, config.writer) if with_writers else ()
    if model is None:
        model = load_model(pm, config.model)
    featurizer = make_featurizer(pm, model)
    decoder = decoder_entry.factory(config.decode)
    return Stages(pm, model, featurizer, decoder, writers, config.demux)


def demux(stages: Stages, source: str) -> Audio:
    return demuxer_for(stages.pm, source, stages.demux_options).demux(source, stages.model.feature_spec)


def transcribe_audio(stages: Stages, audio: Audio, progress: ProgressCallback | None = None) -> Transcript:
    features = stages.featurizer.featurize(audio)
    return stages.decoder.decode(stages.model, features, progress)


def transcribe_source(stages: Stages, source: str, progress: ProgressCallback | None = None) -> Transcript:
    return transcribe_audio(stages, demux(stages, source), progress)


# --- the pipeline as a stream: demux -> features -> decode without the whole input in memory -------------


def audio_chunks(demuxer: Demuxer, source: str, spec: FeatureSpec, live: bool = False) -> Iterable[np.ndarray]:
    """``source``'s audio as float32 chunks: the demuxer's ``stream()``, or (a demuxer without one) its
    whole :class:`Audio` as one chunk."""
    stream = getattr(demuxer, "stream", None)
    if stream is not None:
        return stream(source, spec, live=live)
    if live:
        raise ConfigError(f"{source}: the demuxer {type(demuxer).__name__} cannot read a live input (it has no stream())")
    return _whole_audio(demuxer, source, spec)


def _whole_audio(demuxer: Demuxer, source: str, spec: FeatureSpec) -> Iterator[np.ndarray]:
    audio = demuxer.demux(source, spec)
    if audio.sample_rate != spec.sample_rate:
        raise StageError(f"{source}: the demuxer returned {audio.sample_rate} Hz audio, the model needs {spec.sample_rate} Hz")
    yield audio.samples


def streams(stages: Stages) -> bool:
    """Whether this run's featurizer and decoder can work as a stream (else the whole input is held)."""
    return hasattr(stages.featurizer, "featurize_stream") and hasattr(stages.decoder, "decode_stream")


def stream_features(stages: Stages, source: str, live: bool = False) -> FeatureSource:
    """Start reading ``source`` into a :class:`~mediakit.stages.FeatureSource` (a finite input is read
    to its end here; a live one is read by a thread as it comes)."""
    spec = stages.model.feature_spec
    chunks = audio_chunks(demuxer_for(stages.pm, source, stages.demux_options), source, spec, live)
    return stages.featurizer.featurize_stream(chunks, source, live=live)


def decode_stream(
    stages: Stages,
    features: FeatureSource | Audio,
    progress: ProgressCallback | None = None,
    emit: SegmentCallback | None = None,
    started: StartCallback | None = None,
) -> Transcript:
    """Decode a feature source (or whole audio), calling ``emit`` with each segment once it is final and
    ``started`` once before the first (at the end, from the transcript, for a decoder that cannot say sooner).

    A decoder without ``decode_stream`` gets whole features and its segments are emitted at the end.
    """
    if isinstance(features, Audio):
        whole = stages.featurizer.featurize(features)
    elif hasattr(stages.decoder, "decode_stream"):
        return _decode_streaming(stages, features, progress, emit, started)
    else:
        samples = features.samples(0, features.n_samples) if hasattr(features, "n_samples") else None
        if samples is None:
            raise StageError(f"{features.source}: decoder cannot read a feature stream")
        whole = stages.featurizer.featurize(Audio(np.array(samples), stages.model.feature_spec.sample_rate, features.source))
    if hasattr(stages.decoder, "decode_stream"):
        return _decode_streaming(stages, whole, progress, emit, started)
    transcript = stages.decoder.decode(stages.model, whole, progress)
    if started is not None:
        started(_start_of(transcript))
    for segment in transcript.segments if emit is not None else ():
        emit(segment)
    return transcript


def _decode_streaming(stages: Stages, features, progress, emit, started) -> Transcript:
    decode = stages.decoder.decode_stream
    if started is None:
        return decode(stages.model, features, progress, emit)
    if "started" in inspect.signature(decode).parameters:
        return decode(stages.model, features, progress, emit, started=started)
    # a decoder written before the keyword: its segments are held until the start is known
    held: list[Segment] = []
    transcript = decode(stages.model, features, progress, held.append if emit is not None else None)
    started(_start_of(transcript))
    for segment in held:
        emit(segment)
    return transcript


def _start_of(transcript: Transcript) -> DecodeStart:
    return DecodeStart(transcript.language, transcript.language_probs, transcript.duration, transcript.duration)


def transcribe_stream(
    stages: Stages,
    source: str,
    progress: ProgressCallback | None = None,
    emit: SegmentCallback | None = None,
    live: bool = False,
    opened: Callable[[FeatureSource], None] | None = None,
    started: StartCallback | None = None,
) -> Transcript:
    """Transcribe ``source`` as a stream: peak memory does not grow with its duration when the demuxer,
    featurizer and decoder all stream (the built-ins do). ``opened`` gets the feature source as soon as it
    exists (to stop a live input: ``features.stop()``)."""
    if not streams(stages):
        if live:
            raise ConfigError("a live input needs a featurizer with featurize_stream() and a decoder with decode_stream()")
        return decode_stream(stages, demux(stages, source), progress, emit, started)
    features = stream_features(stages, source, live)
    try:
        if opened is not None:
            opened(features)
        return decode_stream(stages, features, progress, emit, started)
    finally:
        features.close()
