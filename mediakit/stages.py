"""The interfaces of the five stages, as structural protocols.

A plugin's stage objects need not inherit from these; they only need the attributes and methods.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Protocol, Sequence, TextIO, runtime_checkable

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

    # Optional: ``with_batcher(batcher: Batcher) -> Decoder``, the same decoder handing the parts of its
    # work that may be batched with other inputs' to ``batcher`` (see :class:`Batcher`). A host that
    # decodes several inputs at once (``mediakit serve --batch_size``) calls it when it is there.


@runtime_checkable
class Batcher(Protocol):
    """Decodes work items of concurrent decodings together (a host service, e.g. ``mediakit serve``'s).

    A decoder calls :meth:`decode` from the thread decoding its input; the batcher gathers items of other
    threads with an equal ``key``, calls ``decode_many`` once for them all, and hands each caller its own
    result. Items with equal keys must be decodable together, and ``decode_many`` must give each item the
    result it gives that item alone: only the decoder knows when that holds, so it chooses the keys.
    """

    def decode(self, key: Hashable, item: Any, size: int, decode_many: Callable[[Sequence[Any]], Sequence[Any]]) -> Any:
        """``decode_many([item, ...])[i]`` for this ``item``, decoded with others of the same ``key``;
        ``size`` is its share of a batch (windows). Raises what decoding this item raised."""


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
