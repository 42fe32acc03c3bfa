"""The interfaces of the five stages, as structural protocols.

A plugin's stage objects need not inherit from these; they only need the attributes and methods.
"""

from __future__ import annotations

from typing import Callable, Protocol, TextIO, runtime_checkable

from .config import DecodeOptions, DemuxOptions, ModelOptions, WriterOptions
from .records import Audio, FeatureSpec, Features, MediaInfo, ModelInfo, ProgressCallback, Transcript


@runtime_checkable
class Demuxer(Protocol):
    """Turns a media input into audio samples the model can use."""

    def demux(self, source: str, spec: FeatureSpec) -> Audio:
        """Decode ``source`` (path, ``-`` or URL) to mono float32 at ``spec.sample_rate``."""

    def probe(self, source: str) -> MediaInfo:
        """Describe the container and its streams without decoding."""

    def extract(self, source: str, destination: str | None, overwrite: bool = False) -> str:
        """Copy the chosen audio stream out without re-encoding; return the path written.

        An existing file is replaced only with ``overwrite``.
        """


@runtime_checkable
class Featurizer(Protocol):
    """Computes model input features from audio."""

    def featurize(self, audio: Audio) -> Features:
        """Return the features of the whole input (see :class:`~mediakit.records.Features`)."""


@runtime_checkable
class Model(Protocol):
    """A loaded model. Decoders state which further attributes they need."""

    name: str
    feature_spec: FeatureSpec


@runtime_checkable
class Decoder(Protocol):
    """Turns features into a transcript, calling the model as often as it needs."""

    def decode(self, model: Model, features: Features, progress: ProgressCallback | None = None) -> Transcript:
        """Decode one input. ``progress(seconds_done, seconds_total)`` is called as decoding advances."""


@runtime_checkable
class Writer(Protocol):
    """Formats a transcript as text; the host picks the file and writes it atomically."""

    extension: str  # file name extension without the dot, e.g. "srt"

    def write(self, transcript: Transcript, stream: TextIO) -> None:
        """Write the whole transcript to ``stream``."""


#: Factory types registered through the ``mediakit_register_*`` hooks.
ModelFactory = Callable[[ModelOptions, "str | None"], Model]
DecoderFactory = Callable[[DecodeOptions], Decoder]
WriterFactory = Callable[[WriterOptions], Writer]
DemuxerFactory = Callable[[DemuxOptions], Demuxer]
ModelLister = Callable[[], list[ModelInfo]]
