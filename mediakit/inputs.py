"""Turn the command line's inputs (files, directories, glob patterns, ``-``, URLs) into a list of sources."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

#: Extensions picked up when a directory is given (case-insensitive).
MEDIA_EXTENSIONS = frozenset(
    """
    wav flac mp3 m4a aac mp2 mpa ogg oga opus wma ac3 eac3 dts amr aif aiff aifc caf au snd ape wv mka
    mp4 m4v mov mkv webm avi wmv flv vob mpg mpeg ts mts m2ts 3gp 3g2 ogv asf rm rmvb f4v dv mxf
    """.split()
)
_GLOB_CHARS = set("*?[")


@dataclass(frozen=True)
class Source:
    """One input to transcribe, or a problem found while expanding the inputs."""

    source: str  # what the demuxer gets: a path, "-" or a URL
    error: str | None = None  # set when the input cannot even be listed


def is_url(value: str) -> bool:
    return "://" in value and not os.path.exists(value)


def expand_inputs(items: list[str], *, recursive: bool = False) -> list[Source]:
    """Expand directories (their media files; ``recursive`` for subdirectories) and glob patterns.

    Plain files are passed on unchecked: the demuxer reports what is wrong with them, so that every
    problem gets the same one-line error. Order is kept; duplicates are dropped.
    """
    found: list[Source] = []
    seen: set[str] = set()

    def add(source: Source) -> None:
        if source.error is not None or source.source not in seen:
            seen.add(source.source)
            found.append(source)

    for item in items:
        if item == "-" or is_url(item):
            add(Source(item))
        elif os.path.isdir(item):
            media = _media_in(Path(item), recursive)
            if not media:
                hint = "" if recursive else " (use --recursive to search subdirectories)"
                add(Source(item, f"{item}: directory contains no media files{hint}"))
            for path in media:
                add(Source(str(path)))
        elif not os.path.lexists(item) and _GLOB_CHARS & set(item):
            matches = sorted(glob.glob(item, recursive=recursive))
            if not matches:
                add(Source(item, f"{item}: no file matches this pattern"))
            for match in matches:
                if os.path.isdir(match):
                    for path in _media_in(Path(match), recursive):
                        add(Source(str(path)))
                else:
                    add(Source(match))
        else:
            add(Source(item))
    return found


def _media_in(directory: Path, recursive: bool) -> list[Path]:
    pattern = "**/*" if recursive else "*"
    return sorted(
        p for p in directory.glob(pattern) if p.is_file() and p.suffix.lower().lstrip(".") in MEDIA_EXTENSIONS
    )


def unique_stems(sources: list[str], stem_of: Callable[[str], str]) -> dict[str, str]:
    """Map each source to an output stem that no other source of the batch shares.

    ``a/talk.mp3`` and ``a/talk.wav`` become ``talk.mp3`` and ``talk.wav``; ``x/talk.mp3`` and
    ``y/talk.mp3`` become ``x_talk.mp3`` and ``y_talk.mp3``; so a batch never overwrites its own outputs.
    """
    candidates = [
        stem_of,
        lambda s: Path(s).name,
        lambda s: f"{Path(s).parent.name}_{Path(s).name}",
    ]
    result: dict[str, str] = {}
    pending = list(dict.fromkeys(sources))
    for make in candidates:
        names = {s: make(s) for s in pending}
        counts: dict[str, int] = {}
        for name in list(names.values()) + list(result.values()):
            counts[name] = counts.get(name, 0) + 1
        pending = []
        for source, name in names.items():
            if counts[name] == 1:
                result[source] = name
            else:
                pending.append(source)
    for index, source in enumerate(pending, start=1):  # identical names all the way up: number them
        result[source] = f"{stem_of(source)}-{index}"
    return result
