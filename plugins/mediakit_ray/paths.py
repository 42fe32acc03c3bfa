"""Inputs and outputs that are fsspec URLs (``s3://bucket/prefix``), so that a cluster needs no shared disk.

URLs whose scheme ffmpeg reads itself (``http``, ``https``...) are left to the demuxer; every other
scheme fsspec knows (``s3``, ``gs``, ``az``, ``memory``...) is listed, fetched and written through fsspec.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from mediakit.errors import ConfigError, InputError
from mediakit.inputs import MEDIA_EXTENSIONS, Source

#: Schemes the demuxer (ffmpeg) opens itself.
STREAM_SCHEMES = frozenset({"http", "https", "rtmp", "rtmps", "rtsp", "rtp", "srt", "udp", "tcp", "ftp", "hls"})


def scheme_of(value: str) -> str | None:
    return value.split("://", 1)[0].lower() if "://" in value else None


def is_remote(value: str) -> bool:
    """An fsspec URL this runner reads or writes through fsspec (not a local path, not an ffmpeg stream)."""
    scheme = scheme_of(value)
    return scheme is not None and scheme not in STREAM_SCHEMES and not os.path.exists(value)


def filesystem(url: str):
    """``(fs, path)`` for ``url``; a clear error when the scheme needs a package that is missing."""
    import fsspec

    try:
        return fsspec.core.url_to_fs(url)
    except (ImportError, ValueError) as err:
        raise ConfigError(f"{url}: cannot open this URL: {err}") from err


def name_of(url: str) -> str:
    """The last part of a URL's path: ``s3://b/talks/a.mp3`` -> ``a.mp3``."""
    return PurePosixPath(urlparse(url).path).name


def expand_remote(sources: list[Source], *, recursive: bool) -> list[Source]:
    """Replace every remote folder (prefix) among ``sources`` by the media files under it, in name order."""
    expanded: list[Source] = []
    for item in sources:
        if item.error is not None or not is_remote(item.source):
            expanded.append(item)
            continue
        fs, path = filesystem(item.source)
        scheme = scheme_of(item.source)
        try:
            if not fs.isdir(path):
                expanded.append(item)  # a single object; a missing one is reported by the worker that reads it
                continue
            found = fs.find(path) if recursive else [e["name"] for e in fs.ls(path, detail=True) if e.get("type") == "file"]
        except OSError as err:
            expanded.append(Source(item.source, f"{item.source}: cannot list: {err}"))
            continue
        media = sorted(p for p in found if PurePosixPath(p).suffix.lower().lstrip(".") in MEDIA_EXTENSIONS)
        if not media:
            hint = "" if recursive else " (use --recursive to search subfolders)"
            expanded.append(Source(item.source, f"{item.source}: contains no media files{hint}"))
        expanded.extend(Source(f"{scheme}://{p.lstrip('/')}") for p in media)
    return expanded


class Location:
    """The output folder: a local path or a URL prefix."""

    def __init__(self, root: str):
        self.root = root
        self.remote = is_remote(root)
        self._fs, self._path = filesystem(root) if self.remote else (None, None)

    def join(self, name: str) -> str:
        return f"{self.root.rstrip('/')}/{name}" if self.remote else str(Path(self.root) / name)

    def existing(self) -> set[str]:
        """Destinations (as :meth:`join` spells them) that exist now; one listing for a URL prefix."""
        if not self.remote:
            directory = Path(self.root)
            return {str(p) for p in directory.iterdir() if p.is_file()} if directory.is_dir() else set()
        try:
            found = self._fs.find(self._path)
        except (FileNotFoundError, OSError):
            return set()
        prefix = self._path.rstrip("/") + "/"
        return {self.join(p[len(prefix):]) for p in found if p.startswith(prefix)}

    def write_text(self, name: str, text: str) -> None:
        """One whole object (a single put: atomic on object stores), or a local file written atomically."""
        if self.remote:
            self._fs.pipe_file(f"{self._path.rstrip('/')}/{name}", text.encode("utf-8"))
        else:
            from mediakit.outputs import atomic_write_text

            atomic_write_text(Path(self.root) / name, text)


def fetch(url: str, destination: Path) -> None:
    """Copy a remote input to a local file (the demuxer reads local files)."""
    fs, path = filesystem(url)
    try:
        fs.get_file(path, str(destination))
    except FileNotFoundError as err:
        raise InputError(f"{url}: no such file") from err
    except OSError as err:
        raise InputError(f"{url}: cannot read: {err}") from err


def upload(local: Path, url: str) -> None:
    """Put a finished local file at ``url``: one whole-object put, so a reader never sees part of it."""
    fs, path = filesystem(url)
    try:
        fs.put_file(str(local), path)
    except OSError as err:
        raise InputError(f"{url}: cannot write output: {err}") from err
