"""Hook implementation of the built-in ``ffmpeg`` demuxer (imports nothing heavy)."""

from __future__ import annotations

from mediakit import hookimpl
from mediakit.config import DemuxOptions


@hookimpl(trylast=True)
def mediakit_make_demuxer(source: str, options: DemuxOptions):
    """Every source: files, ``-`` (standard input) and URLs all go to ffmpeg."""
    from .demuxer import FfmpegDemuxer

    return FfmpegDemuxer(options)
