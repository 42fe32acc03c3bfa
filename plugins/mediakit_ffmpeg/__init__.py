"""The built-in ``ffmpeg`` demuxer: any input ffmpeg reads, decoded to Whisper's 16 kHz mono float32.

* ``binary``: which ffmpeg runs (the option, else ``PATH``, else the ``imageio-ffmpeg`` binary).
* ``sources``: what a source is (``-``, a URL or a path) and the checks made before ffmpeg runs.
* ``process``: runs ffmpeg with its stderr kept, feeds standard input, turns stderr into a cause.
* ``info``: parses the input dump of ``ffmpeg -i`` (there is no ffprobe) into a ``MediaInfo``.
* ``decode``: streams ffmpeg's output into one growing float32 buffer.
* ``extract``: copies an audio stream out without re-encoding, into a container that fits its codec.
* ``demuxer``: the stage object; ``plugin``: the hook implementation (imports nothing heavy).

For API users::

    from mediakit_ffmpeg import FfmpegDemuxer
    audio = FfmpegDemuxer(DemuxOptions()).demux("talk.mp4", FeatureSpec())
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["FfmpegDemuxer", "parse_input_dump"]

if TYPE_CHECKING:  # pragma: no cover
    from .demuxer import FfmpegDemuxer
    from .info import parse_input_dump


def __getattr__(name: str) -> Any:
    if name == "FfmpegDemuxer":
        from .demuxer import FfmpegDemuxer

        return FfmpegDemuxer
    if name == "parse_input_dump":
        from .info import parse_input_dump

        return parse_input_dump
    raise AttributeError(f"module 'mediakit_ffmpeg' has no attribute {name!r}")
