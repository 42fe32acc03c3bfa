"""Built-in writers: ``txt``, ``vtt``, ``srt``, ``tsv`` and ``json``, byte for byte as openai-whisper writes them.

The writer classes are importable for API users::

    from mediakit_writers import SrtWriter
    SrtWriter(WriterOptions(max_line_width=42)).write(transcript, stream)
"""

from __future__ import annotations

from .plain import JsonWriter, TsvWriter, TxtWriter
from .subtitles import SrtWriter, VttWriter

__all__ = ["JsonWriter", "SrtWriter", "TsvWriter", "TxtWriter", "VttWriter"]
