"""The demux stage object: decode, probe and extract with ffmpeg."""

from __future__ import annotations

import logging
from dataclasses import replace

from mediakit.config import DemuxOptions
from mediakit.errors import ConfigError, InputError
from mediakit.records import Audio, FeatureSpec, MediaInfo

from .binary import FfmpegBinary, FfmpegNotFound, locate_ffmpeg
from .decode import AudioStream, decode_audio
from .extract import extract_stream
from .info import parse_input_dump
from .process import FfmpegRun, with_globals
from .sources import check_local, ffmpeg_input

logger = logging.getLogger(__name__)


class FfmpegDemuxer:
    """Reads anything ffmpeg reads: files, ``-`` (standard input) and URLs."""

    def __init__(self, options: DemuxOptions):
        if options.audio_stream is not None and options.audio_stream < 0:
            raise ConfigError(
                f"audio_stream must be 0 or more (audio streams count from 0), got {options.audio_stream}"
            )
        self.options = options

    def demux(self, source: str, spec: FeatureSpec) -> Audio:
        check_local(source)
        return decode_audio(self._binary(source), source, spec, self.options.audio_stream)

    def stream(self, source: str, spec: FeatureSpec, live: bool = False) -> AudioStream:
        """The audio as an iterator of float32 chunks read while ffmpeg decodes (see :class:`AudioStream`)."""
        check_local(source)
        return AudioStream(self._binary(source), source, spec, self.options.audio_stream, live)

    def probe(self, source: str) -> MediaInfo:
        check_local(source)
        return self._probe(source, source)

    def extract(self, source: str, destination: str | None, overwrite: bool = False) -> str:
        check_local(source)
        binary = self._binary(source)
        return extract_stream(binary, source, self._probe, destination, self.options.audio_stream, overwrite)

    def ffmpeg(self) -> FfmpegBinary:
        """The ffmpeg this demuxer runs: path, version, where it came from (raises ``FfmpegNotFound``)."""
        return locate_ffmpeg(self.options.ffmpeg)

    def _probe(self, readable: str, name: str) -> MediaInfo:
        """Describe ``readable`` (``name`` in messages) from the dump of ``ffmpeg -i``."""
        binary = self._locate(name)
        command = with_globals([binary.path, "-i", ffmpeg_input(readable)])
        if readable != "-":
            command.insert(1, "-nostdin")
        with FfmpegRun(command, readable, stdout=None) as run:
            pass
        info = parse_input_dump(run.stderr, name)
        if info is None:
            raise InputError(f"{name}: ffmpeg cannot read it: {run.cause(ffmpeg_input(readable), readable)}")
        return replace(info, reader=binary.describe())

    def _binary(self, source: str) -> str:
        return self._locate(source).path

    def _locate(self, source: str) -> FfmpegBinary:
        try:
            binary = self.ffmpeg()
        except FfmpegNotFound as err:
            raise InputError(f"{source}: cannot decode: {err}") from err
        if logger.isEnabledFor(logging.DEBUG):  # describe() runs `ffmpeg -version` once per binary
            logger.debug("%s: using %s", source, binary.describe())
        return binary
