"""mediakit-lrc: a writer for LRC lyric files, and an example of a third-party mediakit plugin."""

from __future__ import annotations

from .writer import LrcWriter, lrc_timestamp

__all__ = ["LrcWriter", "lrc_timestamp"]
__version__ = "0.1.0"
