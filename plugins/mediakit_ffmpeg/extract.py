"""Copy one audio stream out of an input without re-encoding (``-c:a copy``), into a container that fits.

The output is written under a temporary name in the destination's directory and then renamed, so a
failed or interrupted copy never leaves a partial file, and an existing file is never replaced unless
asked (without ``overwrite`` the rename is a hard link, which fails atomically if the name is taken).
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import replace
from pathlib import Path
from typing import Callable

from mediakit.errors import ConfigError, InputError
from mediakit.records import MediaInfo, StreamInfo

from .info import default_audio_index, missing_stream_message, no_audio_message
from .process import FfmpegRun, with_globals
from .sources import ffmpeg_input, seekable, stem_of

logger = logging.getLogger(__name__)

#: File extension for a stream copy of each codec (the name ffmpeg prints); others go into Matroska.
CODEC_EXTENSIONS = {
    "mp2": "mp2", "mp3": "mp3", "aac": "m4a", "alac": "m4a", "opus": "opus", "vorbis": "ogg",
    "flac": "flac", "speex": "spx", "ac3": "ac3", "eac3": "eac3", "dts": "dts", "truehd": "thd",
    "wmav1": "wma", "wmav2": "wma", "wmapro": "wma", "wmavoice": "wma", "wmalossless": "wma",
    "amr_nb": "amr", "amr_wb": "amr", "gsm_ms": "wav", "adpcm_ms": "wav", "adpcm_ima_wav": "wav",
    "pcm_u8": "wav", "pcm_s16le": "wav", "pcm_s24le": "wav", "pcm_s32le": "wav", "pcm_f32le": "wav",
    "pcm_f64le": "wav", "pcm_alaw": "wav", "pcm_mulaw": "wav",
    "pcm_s8": "aiff", "pcm_s16be": "aiff", "pcm_s24be": "aiff", "pcm_s32be": "aiff", "pcm_f32be": "aiff",
    "pcm_f64be": "aiff",
}  # fmt: skip
FALLBACK_EXTENSION = "mka"  # Matroska holds nearly every codec

#: ``probe(path, name)``: describe the file at ``path``, naming it ``name`` in messages.
ProbeFn = Callable[[str, str], MediaInfo]


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


def extension_for(codec: str) -> str:
    return CODEC_EXTENSIONS.get(codec, FALLBACK_EXTENSION)


def choose_audio_stream(info: MediaInfo, audio_stream: int | None) -> tuple[int, StreamInfo]:
    """Return (position among the audio streams, the stream) for ``audio_stream``, or raise InputError."""
    audio = info.audio_streams
    if not audio:
        raise InputError(no_audio_message(info))
    position = default_audio_index(info) if audio_stream is None else audio_stream
    assert position is not None
    if position >= len(audio):
        raise InputError(missing_stream_message(info, position))
    return position, audio[position]


def output_path(source: str, destination: str | None, codec: str) -> Path:
    """Where the copy goes: ``destination`` if it names a file; else ``<stem>.<ext>`` in it (or in the cwd)."""
    name = f"{stem_of(source)}.{extension_for(codec)}"
    if destination is None:
        return Path(name)
    if os.path.isdir(destination) or destination.endswith(("/", os.sep)):
        return Path(destination) / name
    return Path(destination)


def extract_stream(
    binary: str,
    source: str,
    probe: ProbeFn,
    destination: str | None,
    audio_stream: int | None,
    overwrite: bool,
) -> str:
    """Copy the chosen audio stream of ``source`` to a file; return the path written."""
    with seekable(source) as readable:
        info = replace(probe(readable, source), source=source)
        position, stream = choose_audio_stream(info, audio_stream)
        target = output_path(source, destination, stream.codec)
        if target.exists() and not overwrite:
            raise ConfigError(f"{target}: already exists; not replacing it (use --force / overwrite=True)")
        if not target.parent.is_dir():
            raise ConfigError(f"{target}: its directory {str(target.parent)!r} does not exist")
        fd, temporary = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=f".part{target.suffix}", dir=target.parent)
        os.close(fd)
        try:
            command = with_globals(
                [binary, "-nostdin", "-i", ffmpeg_input(readable), "-map", f"0:a:{position}", "-c:a", "copy"]
                + ["-map_metadata", "0", "-y", temporary]
            )
            logger.debug("extracting %s: %s", source, " ".join(command))
            with FfmpegRun(command, readable, stdout=None) as run:
                pass
            if run.returncode != 0:
                cause = run.cause(ffmpeg_input(readable), readable, temporary).replace(temporary, str(target))
                raise InputError(f"{source}: cannot copy audio stream {position} ({stream.codec}) into {target.name}: {cause}")
            _publish(Path(temporary), target, overwrite)
        finally:
            if os.path.exists(temporary):
                os.unlink(temporary)
    logger.info("%s: audio stream %d (%s) copied to %s", source, position, stream.codec, target)
    return str(target)


def _publish(temporary: Path, target: Path, overwrite: bool) -> None:
    os.chmod(temporary, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
    if overwrite:
        os.replace(temporary, target)
        return
    try:
        os.link(temporary, target)  # atomic, and fails if the name appeared meanwhile
    except FileExistsError as err:
        raise ConfigError(f"{target}: already exists; not replacing it (use --force / overwrite=True)") from err
    except OSError:  # a file system without hard links
        if target.exists():
            raise ConfigError(f"{target}: already exists; not replacing it (use --force / overwrite=True)") from None
        os.replace(temporary, target)
