"""Which ffmpeg binary runs, and what it is: version and where it came from.

The choice, first match wins:

1. ``DemuxOptions.ffmpeg`` (the CLI's ``--ffmpeg``): a path or a command name;
2. the ``MEDIAKIT_FFMPEG`` environment variable, the same way;
3. ``ffmpeg`` on ``PATH`` (the one openai-whisper and the user's shell use);
4. the binary of the ``imageio-ffmpeg`` package (installed with mediakit).

In 1 and 2 the word ``bundled`` names the imageio-ffmpeg binary, whatever is on ``PATH``.

Reading ``MEDIAKIT_FFMPEG`` here, in a stage, departs from the rule that stages read no environment:
it is a lookup of the same kind as ``PATH`` (which ``shutil.which`` reads), and it must reach every
caller (the CLI, API users, the test suite) without each of them passing it on.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
from dataclasses import dataclass

logger = logging.getLogger(__name__)

ENV_VAR = "MEDIAKIT_FFMPEG"
BUNDLED = "bundled"  # names imageio-ffmpeg's binary in DemuxOptions.ffmpeg and MEDIAKIT_FFMPEG

#: Where a binary came from: the words ``FfmpegBinary.describe`` uses.
ORIGINS = {
    "option": "chosen with --ffmpeg / DemuxOptions.ffmpeg",
    "env": f"chosen with {ENV_VAR}",
    "path": "found on PATH",
    "bundled": "bundled with imageio-ffmpeg",
}

_VERSION_LINE = re.compile(r"^\S+ version (\S+)")
_RELEASE = re.compile(r"^n?(\d+)\.(\d+)")


class FfmpegNotFound(Exception):
    """No usable ffmpeg binary; the message says where mediakit looked."""


@dataclass(frozen=True)
class FfmpegBinary:
    path: str  # the executable that runs
    origin: str  # a key of ORIGINS: option, env, path, bundled

    @property
    def version(self) -> str | None:
        """What ``ffmpeg -version`` calls itself: ``5.1.9-0+deb12u1``, ``n7.1``, ``N-118000-g1234abcd``."""
        return ffmpeg_version(self.path)

    def describe(self) -> str:
        """``ffmpeg 5.1.9-0+deb12u1 at /usr/bin/ffmpeg (found on PATH)``."""
        return f"ffmpeg {self.version or '(version unknown)'} at {self.path} ({ORIGINS[self.origin]})"

    def to_dict(self) -> dict[str, str | None]:
        return {"path": self.path, "version": self.version, "origin": self.origin}


def locate_ffmpeg(explicit: str | None) -> FfmpegBinary:
    """Return the ffmpeg binary to run (see the module's docstring for the order).

    :param explicit: ``DemuxOptions.ffmpeg``; when given (or when ``MEDIAKIT_FFMPEG`` is set) it must exist.
    """
    if explicit:
        return _named(explicit, "option")
    from_env = os.environ.get(ENV_VAR, "").strip()
    if from_env:
        return _named(from_env, "env")
    found = shutil.which("ffmpeg")
    if found:
        return FfmpegBinary(found, "path")
    try:
        return FfmpegBinary(_bundled(), "bundled")
    except FfmpegNotFound as err:
        raise FfmpegNotFound(f"ffmpeg not found on PATH and {err}") from err


def find_ffmpeg(explicit: str | None) -> str:
    """The path of the ffmpeg binary to run (:func:`locate_ffmpeg`'s ``path``)."""
    return locate_ffmpeg(explicit).path


@functools.lru_cache(maxsize=16)
def ffmpeg_version(path: str) -> str | None:
    """The version ``path -version`` prints, or ``None`` when it prints none (not ffmpeg, or it failed)."""
    try:
        done = subprocess.run(
            [path, "-hide_banner", "-version"], capture_output=True, stdin=subprocess.DEVNULL, timeout=30
        )
    except (OSError, subprocess.TimeoutExpired) as err:
        logger.debug("%s -version failed: %s", path, err)
        return None
    first = done.stdout.decode("utf-8", errors="replace").strip().splitlines()[:1]
    found = _VERSION_LINE.match(first[0]) if first else None
    return found.group(1) if found else None


def release_of(version: str | None) -> tuple[int, int] | None:
    """``(major, minor)`` of a release version (``5.1.9-0+deb12u1`` -> ``(5, 1)``); ``None`` for git builds."""
    found = _RELEASE.match(version or "")
    return (int(found.group(1)), int(found.group(2))) if found else None


def _named(name: str, origin: str) -> FfmpegBinary:
    if name == BUNDLED:
        return FfmpegBinary(_bundled(), origin)
    found = shutil.which(name) if os.sep not in name else name
    if found and os.path.isfile(found) and os.access(found, os.X_OK):
        return FfmpegBinary(found, origin)
    where = "--ffmpeg / DemuxOptions.ffmpeg" if origin == "option" else ENV_VAR
    raise FfmpegNotFound(f"ffmpeg binary {name!r} ({where}) not found or not executable")


def _bundled() -> str:
    try:
        import imageio_ffmpeg

        return imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as err:
        raise FfmpegNotFound(f"imageio-ffmpeg has none ({err})") from err
