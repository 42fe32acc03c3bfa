"""What a source is (standard input, a URL, a local path) and the checks made before ffmpeg runs.

Local paths are checked first so that the common mistakes (missing, a directory, no permission,
empty) get a plain cause instead of ffmpeg's wording.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import sys
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator
from urllib.parse import urlparse

from mediakit.errors import InputError

STDIN = "-"
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*://")


def is_url(source: str) -> bool:
    return bool(_URL.match(source)) and not os.path.exists(source)


def ffmpeg_input(source: str) -> str:
    """The ``-i`` argument: ``pipe:0`` for ``-``, URLs as given, ``file:`` paths (so ``a:b.wav`` is not a protocol)."""
    if source == STDIN:
        return "pipe:0"
    if is_url(source):
        return source
    return "file:" + source


def stem_of(source: str) -> str:
    """The base name for files made from ``source``: ``stdin``, a URL's last path part, a file's stem."""
    if source == STDIN:
        return "stdin"
    if is_url(source):
        return Path(urlparse(source).path).stem or "stream"
    return Path(source).stem or "audio"


def check_local(source: str) -> None:
    """Raise :class:`InputError` when a local path cannot be media ffmpeg reads; ``-`` and URLs pass."""
    if source == STDIN or is_url(source):
        return
    try:
        info = os.stat(source)
    except FileNotFoundError as err:
        raise InputError(f"{source}: no such file") from err
    except PermissionError as err:
        raise InputError(f"{source}: permission denied") from err
    except OSError as err:
        raise InputError(f"{source}: cannot read it ({err.strerror})") from err
    if stat.S_ISDIR(info.st_mode):
        raise InputError(f"{source}: is a directory, not a media file")
    if not stat.S_ISREG(info.st_mode):
        return  # a named pipe or a device: only ffmpeg can tell
    if info.st_size == 0:
        raise InputError(f"{source}: empty file (0 bytes), not media")
    try:
        with open(source, "rb"):
            pass
    except PermissionError as err:
        raise InputError(f"{source}: permission denied (cannot open it for reading)") from err
    except OSError as err:
        raise InputError(f"{source}: cannot open it ({err.strerror})") from err


@contextmanager
def seekable(source: str) -> Iterator[str]:
    """Yield a name ffmpeg can read from start to end as often as needed; ``-`` is spooled to a temporary file.

    A pipe cannot seek, and MP4/MOV files usually keep their index (``moov``) after the audio, so
    ffmpeg could find the streams but not go back to read them. Spooling costs disk space of the
    input's (compressed) size until decoding ends; decoding waits for the end of input either way.
    """
    if source != STDIN:
        yield source
        return
    with tempfile.TemporaryDirectory(prefix="mediakit-stdin-") as directory:
        path = os.path.join(directory, "stdin")
        stream = getattr(sys.stdin, "buffer", sys.stdin)
        with open(path, "wb") as spool:
            shutil.copyfileobj(stream, spool, 1 << 20)
        if os.path.getsize(path) == 0:
            raise InputError("-: standard input is empty")
        yield path
