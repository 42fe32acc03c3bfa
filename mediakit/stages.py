"""The interfaces of the five stages, as structural protocols.

A plugin's stage objects need not inherit from these; they only need the attributes and methods.
"""

from __future__ import annotations

from typing import Any, Callable, Hashable, Iterable, Iterator, Protocol, Sequence, TextIO, runtime_checkable

import numpy as np

from .config import DecodeOptions, DemuxOptions, ModelOptions, WriterOptions
from .records import Audio, DecodeStart, FeatureSpec, Features, MediaInfo, ModelInfo, ProgressCallback, Segment, Transcript


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


# --- optional streaming forms of the stages (see docs/hooks.md, "Streams") -----------------------------


@runtime_checkable
class AudioChunks(Protocol):
    """What a demuxer's ``stream()`` returns: an iterator of (k,) float32 mono chunks at the spec's rate."""

    def __iter__(self) -> Iterator[np.ndarray]: ...

    def __next__(self) -> np.ndarray: ...


@runtime_checkable
class StreamingDemuxer(Demuxer, Protocol):
    """A demuxer that can also hand the audio over as it is decoded; the host adapts those that cannot."""

    def stream(self, source: str, spec: FeatureSpec, live: bool = False) -> Iterable[np.ndarray]:
        """Yield ``source``'s audio as (k,) float32 mono chunks at ``spec.sample_rate``, in order.

        ``live``: the input may never end (standard input, a network stream): read it as it comes,
        without spooling it first. An object returned may have ``close()``, callable from any thread,
        that stops reading; iteration then ends without an error.
        """


@runtime_checkable
class FeatureSource(Protocol):
    """Features of one input, read window by window in bounded memory (a featurizer's ``featurize_stream``).

    Frames are counted as in :class:`~mediakit.records.Features`; ``mel(start, stop)`` is what
    ``Features.mel[:, start:stop]`` holds. Samples are counted at ``spec.sample_rate``.
    """

    spec: FeatureSpec
    source: str  # the input as the user named it
    live: bool  # True: the input may never end; frames arrive as it plays

    @property
    def ended(self) -> bool:
        """Whether the input's end has been seen (then ``content_frames`` is final)."""

    @property
    def content_frames(self) -> int:
        """Frames of real audio known so far (final once ``ended``)."""

    def wait(self, frame: int) -> int:
        """Block until frames ``[0, frame)`` can be read or the input ended; return ``min(frame, frames there are)``."""

    def mel(self, start: int, stop: int) -> np.ndarray:
        """(n_mels, stop - start) float32 normalised log-mel of frames that :meth:`wait` made readable."""

    def samples(self, start: int, stop: int) -> np.ndarray:
        """(stop - start,) float32 samples of a readable stretch (by sample index)."""

    def release(self, frame: int) -> None:
        """Frames (and their samples) before ``frame`` will not be read again: their memory may go."""

    def close(self) -> None:
        """Stop reading a live input (its end is then what was read) and free temporary storage."""


@runtime_checkable
class StreamingFeaturizer(Featurizer, Protocol):
    def featurize_stream(self, chunks: Iterable[np.ndarray], source: str, live: bool = False) -> FeatureSource:
        """Features of the audio ``chunks`` as a :class:`FeatureSource`, holding a bounded amount in memory."""


#: Called by a streaming decoder with each segment as soon as it is final (ids in order from 0).
SegmentCallback = Callable[[Segment], None]
#: Called by a streaming decoder once, before the first segment, with the language and the audio it decodes.
StartCallback = Callable[[DecodeStart], None]


@runtime_checkable
class StreamingDecoder(Decoder, Protocol):
    def decode_stream(
        self,
        model: Model,
        features: "Features | FeatureSource",
        progress: ProgressCallback | None = None,
        emit: SegmentCallback | None = None,
        started: StartCallback | None = None,
    ) -> Transcript:
        """Decode one input read from ``features``; call ``emit`` with each segment once it is final and,
        where the decoder supports it (the keyword is optional), ``started`` once before the first."""


@runtime_checkable
class StreamingWriter(Writer, Protocol):
    def open_stream(self, stream: TextIO) -> "CueWriter":
        """Start a file that grows one complete cue at a time (live input)."""


@runtime_checkable
class CueWriter(Protocol):
    def add(self, segments: Sequence[Segment]) -> None:
        """Write the cues of ``segments`` (final, in order) to the stream."""
