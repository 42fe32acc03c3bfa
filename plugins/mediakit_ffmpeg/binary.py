"""Which ffmpeg binary runs: the one the options name, else ``ffmpeg`` on PATH, else imageio-ffmpeg's."""

from __future__ import annotations

import logging
import os
import shutil

logger = logging.getLogger(__name__)


class FfmpegNotFound(Exception):
    """No usable ffmpeg binary; the message says where mediakit looked."""


def find_ffmpeg(explicit: str | None) -> str:
    """Return the path of the ffmpeg binary to run.

    :param explicit: ``DemuxOptions.ffmpeg``: a path or a command name; it must exist when given.
    """
    if explicit:
        found = shutil.which(explicit) if os.sep not in explicit else explicit
        if found and os.path.isfile(found) and os.access(found, os.X_OK):
            return found
        raise FfmpegNotFound(f"ffmpeg binary {explicit!r} not found or not executable")
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg

        found = imageio_ffmpeg.get_ffmpeg_exe()
    except (ImportError, RuntimeError) as err:
        raise FfmpegNotFound(f"ffmpeg not found on PATH and imageio-ffmpeg has none ({err})") from err
    logger.debug("using the imageio-ffmpeg binary %s", found)
    return found
