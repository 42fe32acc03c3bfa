"""Keep transcript text from breaking the structure of a file (a cue, a row, a line)."""

from __future__ import annotations

import re

_LINE_BREAKS = re.compile(r"[ \t]*(?:\r\n|\r|\n)\s*")


def one_line(text: str) -> str:
    """Strip the text and join its lines with single spaces (txt lines, tsv rows)."""
    return _LINE_BREAKS.sub(" ", text.strip())


def tsv_field(text: str) -> str:
    """A tsv text column: stripped, tabs become spaces (as openai-whisper does), line breaks too."""
    return one_line(text).replace("\t", " ")


def cue_text(text: str) -> str:
    """Cue text that cannot end a cue early or pass for a timing line.

    A blank line would end an SRT/VTT cue, so whitespace-only lines are dropped; ``-->`` becomes
    ``->`` as in openai-whisper, repeated until none is left (``--->`` would otherwise leave one).
    """
    lines = [line for line in text.replace("\r\n", "\n").replace("\r", "\n").split("\n") if line.strip()]
    joined = "\n".join(lines)
    while "-->" in joined:
        joined = joined.replace("-->", "->")
    return joined
