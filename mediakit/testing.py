"""Helpers for plugin authors' tests (and mediakit's own).

>>> from mediakit.testing import make_plugin_manager, fake_transcript, render_writer
>>> pm = make_plugin_manager(my_plugin, builtins=False)                 # doctest: +SKIP
>>> text = render_writer(pm, "lrc", fake_transcript())                   # doctest: +SKIP
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Iterable

import numpy as np
import pluggy

from . import hookimpl
from .config import RunConfig, WriterOptions
from .pipeline import Stages, make_writers, resolve
from .plugins import load_plugins, new_plugin_manager, register_plugin
from .records import Audio, FeatureSpec, Features, ProgressCallback, Segment, Transcript, Word


def make_plugin_manager(*plugins: object, builtins: bool = True, disabled: Iterable[str] = ()) -> pluggy.PluginManager:
    """A fresh plugin manager with ``plugins`` registered (and the installed plugins unless ``builtins=False``).

    Plugins given here are registered after the installed ones, so their stages take precedence.
    """
    pm = load_plugins(disabled).pm if builtins else new_plugin_manager()
    for index, plugin in enumerate(plugins):
        name = getattr(plugin, "__name__", None) or f"{type(plugin).__name__}-{index}"
        register_plugin(pm, plugin, name)
    return pm


def speech_fixture() -> Path:
    """11 s of JFK's inaugural address ("And so my fellow Americans..."), 16 kHz mono FLAC, public domain."""
    return Path(str(resources.files("mediakit") / "data" / "jfk.flac"))


#: What the speech fixture says.
SPEECH_FIXTURE_TEXT = "And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def fake_transcript(*, words: bool = True, language: str = "en") -> Transcript:
    """A small, fixed two-segment transcript, with word timings unless ``words=False``."""

    def seg(i: int, start: float, end: float, text: str) -> Segment:
        ws = None
        if words:
            parts = text.split()
            step = (end - start) / len(parts)
            ws = tuple(Word(round(start + k * step, 3), round(start + (k + 1) * step, 3), " " + w, 0.9) for k, w in enumerate(parts))
        return Segment(id=i, seek=0, start=start, end=end, text=" " + text, tokens=(1, 2, 3), avg_logprob=-0.2, words=ws)

    segments = (
        seg(0, 0.0, 3.2, "And so my fellow Americans,"),
        seg(1, 3.2, 8.5, "ask not what your country can do for you."),
    )
    return Transcript(text="".join(s.text for s in segments), segments=segments, language=language, duration=8.5)


def render_writer(pm: pluggy.PluginManager, name: str, transcript: Transcript, options: WriterOptions | None = None) -> str:
    """What the writer registered as ``name`` writes for ``transcript``."""
    (writer,) = make_writers(pm, (name,), options or WriterOptions())
    buffer = io.StringIO()
    writer.writer.write(transcript, buffer)
    return buffer.getvalue()


# Fake stages: a whole pipeline that runs without weights, ffmpeg or torch.


@dataclass(frozen=True)
class FakeModel:
    name: str = "fake"
    feature_spec: FeatureSpec = field(default_factory=FeatureSpec)


class FakeDemuxer:
    """Reads nothing: every source is one second of a 440 Hz tone (``missing*`` sources fail)."""

    def demux(self, source: str, spec: FeatureSpec) -> Audio:
        from .errors import InputError

        if Path(source).name.startswith("missing"):
            raise InputError(f"{source}: no such file")
        t = np.arange(spec.sample_rate, dtype=np.float32) / spec.sample_rate
        return Audio((0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), spec.sample_rate, source)

    def probe(self, source: str):  # pragma: no cover - not needed by the fakes' users
        raise NotImplementedError

    def extract(self, source: str, destination: str | None) -> str:  # pragma: no cover
        raise NotImplementedError


class FakeFeaturizer:
    def featurize(self, audio: Audio) -> Features:
        frames = len(audio.samples) // 160
        return Features(np.zeros((80, frames + 3000), np.float32), frames, FeatureSpec(), audio)


class FakeDecoder:
    """Says the source's file name, one segment covering the audio."""

    def decode(self, model: object, features: Features, progress: ProgressCallback | None = None) -> Transcript:
        text = f" heard {Path(features.audio.source).stem}"
        if progress:
            progress(features.duration, features.duration)
        segment = Segment(0, 0, 0.0, features.duration, text, (1,))
        return Transcript(text, (segment,), "en", features.duration)


class FakeStagesPlugin:
    """A plugin providing every stage but the writers: model ``fake``, decoder ``fake``, demuxer, featurizer."""

    @hookimpl
    def mediakit_register_models(self, register):
        register("fake", lambda options, weights: FakeModel())

    @hookimpl
    def mediakit_register_decoders(self, register):
        register("fake", lambda options: FakeDecoder())

    @hookimpl
    def mediakit_make_demuxer(self, source, options):
        return FakeDemuxer()

    @hookimpl
    def mediakit_make_featurizer(self, spec):
        return FakeFeaturizer()


def fake_stages(pm: pluggy.PluginManager, config: RunConfig | None = None) -> Stages:
    """Resolve a run on ``pm`` (which should have :class:`FakeStagesPlugin` registered) with model and decoder ``fake``."""
    from dataclasses import replace

    from .config import ModelOptions

    config = config or RunConfig()
    config = replace(config, model=ModelOptions(name="fake"), decoder="fake")
    return resolve(pm, config)


#: An instance to declare as an entry point (``fakes = "mediakit.testing:FAKE_STAGES"``) in tests.
FAKE_STAGES = FakeStagesPlugin()
