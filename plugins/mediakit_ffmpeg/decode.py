"""Decode one input to mono float32 at the model's sample rate, streaming ffmpeg's output.

ffmpeg writes signed 16-bit samples to a pipe (openai-whisper's choice: ``-f s16le -ac 1 -ar 16000``,
then / 32768, so the samples are bit-identical to its ``load_audio``). We read 1 MiB at a time and
convert each chunk into one float32 buffer that grows in place (``ndarray.resize`` reallocates, which
the C library does by remapping pages for large blocks, without a copy). Peak memory is therefore the
decoded audio itself (64 KB per second at 16 kHz, 230 MB per hour) plus the buffer's unused tail
(untouched pages, not resident) and one chunk, never the bytes and the floats of the whole input at once.
"""

from __future__ import annotations

import logging
import re
import threading
from typing import IO, Iterator

import numpy as np

from mediakit.errors import InputError
from mediakit.records import Audio, FeatureSpec

from .info import missing_stream_message, no_audio_message, parse_input_dump
from .process import FfmpegRun, log_line, with_globals
from .sources import ffmpeg_input, seekable

logger = logging.getLogger(__name__)

CHUNK_BYTES = 1 << 20  # bytes read from the pipe at a time
_INITIAL_SAMPLES = 16000 * 60  # the buffer starts at one minute and doubles
_SCALE = np.float32(1.0 / 32768.0)  # exact: a power of two, same as dividing by 32768
_DECODE_TROUBLE = re.compile(r"error|invalid|corrupt|truncat|missing|concealing", re.IGNORECASE)


def decode_command(binary: str, readable: str, spec: FeatureSpec, audio_stream: int | None, live: bool = False) -> list[str]:
    """ffmpeg's command line: ``readable``'s audio to signed 16-bit mono at ``spec.sample_rate`` on stdout.

    ``live``: flush every packet to the pipe as soon as it is decoded (a live input's latency), and let
    ffmpeg read standard input itself (``-nostdin`` only for other inputs).
    """
    import ffmpeg  # ffmpeg-python builds the command line

    stream = ffmpeg.input(ffmpeg_input(readable))
    selected = stream if audio_stream is None else stream[f"a:{audio_stream}"]
    only_audio = {"vn": None, "sn": None, "dn": None} if audio_stream is None else {}
    if live:
        only_audio["flush_packets"] = 1
    output = ffmpeg.output(
        selected, "pipe:1", format="s16le", acodec="pcm_s16le", ac=1, ar=spec.sample_rate, **only_audio
    )
    command = with_globals(output.compile(cmd=binary))
    if readable != "-":
        command.insert(1, "-nostdin")
    return command


def decode_audio(binary: str, source: str, spec: FeatureSpec, audio_stream: int | None) -> Audio:
    """Return ``source``'s audio as (n,) float32 mono at ``spec.sample_rate``.

    :param audio_stream: position among the input's audio streams (``-map 0:a:N``); ``None`` lets
        ffmpeg pick, as openai-whisper does (the stream marked default, else the one with most channels).
    """
    with seekable(source) as readable:
        command = decode_command(binary, readable, spec, audio_stream)
        logger.debug("decoding %s: %s", source, " ".join(command))
        with FfmpegRun(command, readable) as run:
            assert run.proc is not None and run.proc.stdout is not None
            samples = read_samples(run.proc.stdout)
    _check_run(run, source, readable, audio_stream)
    return Audio(samples=samples, sample_rate=spec.sample_rate, source=source)


def _check_run(run: FfmpegRun, source: str, readable: str, audio_stream: int | None) -> None:
    if run.returncode != 0:
        _raise_for_streams(source, run.stderr, audio_stream)
        raise InputError(f"{source}: ffmpeg cannot decode it: {run.cause(ffmpeg_input(readable), readable)}")
    _warn_on_trouble(source, run.stderr, (ffmpeg_input(readable), readable))


class AudioStream:
    """``source``'s audio as an iterator of (k,) float32 mono chunks at ``spec.sample_rate``, read from
    ffmpeg's stdout as ffmpeg decodes (at most :data:`CHUNK_BYTES` at a time, less when a pipe has less).

    Only one chunk is held at a time. A failure of ffmpeg is raised as :class:`InputError` when the
    output ends. :meth:`close` may be called from any thread (a Ctrl-C handler): it stops ffmpeg, and
    iteration ends without an error. With ``live``, standard input is read as it comes (not spooled
    to a file first), so a stream that never ends can be transcribed; containers that keep their index
    at the end (MP4) cannot be read that way.
    """

    def __init__(self, binary: str, source: str, spec: FeatureSpec, audio_stream: int | None, live: bool = False):
        self.source = source
        self.sample_rate = spec.sample_rate
        self._args = (binary, spec, audio_stream, live)
        self._run: FfmpegRun | None = None
        self._stopped = threading.Event()
        self._chunks = self._read()

    def __iter__(self) -> "AudioStream":
        return self

    def __next__(self) -> np.ndarray:
        return next(self._chunks)

    def close(self) -> None:
        """Stop ffmpeg; the iterator ends at the next read (safe from another thread or a signal handler)."""
        self._stopped.set()
        run = self._run
        if run is not None and run.proc is not None and run.proc.poll() is None:
            run.proc.kill()

    def _read(self) -> Iterator[np.ndarray]:
        binary, spec, audio_stream, live = self._args
        spool = seekable(self.source) if not (live and self.source == "-") else _as_is(self.source)
        with spool as readable:
            command = decode_command(binary, readable, spec, audio_stream, live)
            logger.debug("decoding %s as a stream: %s", self.source, " ".join(command))
            with FfmpegRun(command, readable) as run:
                self._run = run
                assert run.proc is not None and run.proc.stdout is not None
                if self._stopped.is_set():
                    run.proc.kill()
                read = 0
                for chunk in iter_samples(run.proc.stdout, eager=live):
                    read += len(chunk)
                    yield chunk
        if self._stopped.is_set():
            return
        if live and read:
            # a live input ends however it ends: a dropped connection, a cut pipe, ffmpeg stopped by the same Ctrl-C
            if run.returncode != 0:
                logger.warning("%s: the stream ended: %s", self.source, run.cause(ffmpeg_input(readable), readable))
            return
        _check_run(run, self.source, readable, audio_stream)


class _as_is:
    def __init__(self, source: str):
        self.source = source

    def __enter__(self) -> str:
        return self.source

    def __exit__(self, *exc: object) -> None:
        pass


def iter_samples(pipe: IO[bytes], eager: bool = False) -> Iterator[np.ndarray]:
    """Little-endian int16 samples from ``pipe`` as float32 chunks of up to :data:`CHUNK_BYTES`;
    ``eager``: each as soon as a read returns something (live input), else full chunks."""
    read = pipe.readinto1 if eager else pipe.readinto  # type: ignore[attr-defined]
    chunk = bytearray(CHUNK_BYTES)
    view = memoryview(chunk)
    carry = 0  # a byte of a sample split across two reads
    try:
        while True:
            got = read(view[carry:])
            if not got:
                break
            available = carry + got
            whole = available // 2
            if whole:
                ints = np.frombuffer(chunk, dtype="<i2", count=whole)
                samples = np.empty(whole, dtype=np.float32)
                np.multiply(ints, _SCALE, out=samples)
                del ints
                yield samples
            carry = available - 2 * whole
            if carry:
                chunk[0] = chunk[available - 1]
    finally:
        view.release()


def read_samples(pipe: IO[bytes]) -> np.ndarray:
    """Read little-endian int16 samples from ``pipe`` to its end into one (n,) float32 array."""
    samples = np.empty(_INITIAL_SAMPLES, dtype=np.float32)
    count = 0
    chunk = bytearray(CHUNK_BYTES)
    view = memoryview(chunk)
    carry = 0  # a byte of a sample split across two reads
    while True:
        got = pipe.readinto(view[carry:])  # type: ignore[attr-defined]
        if not got:
            break
        available = carry + got
        whole = available // 2
        if count + whole > len(samples):
            samples.resize(max(2 * len(samples), count + whole), refcheck=False)
        ints = np.frombuffer(chunk, dtype="<i2", count=whole)
        np.multiply(ints, _SCALE, out=samples[count : count + whole])
        del ints  # no view of the chunk may outlive this pass
        count += whole
        carry = available - 2 * whole
        if carry:
            chunk[0] = chunk[available - 1]
    view.release()
    samples.resize(count, refcheck=False)
    return samples


def _raise_for_streams(source: str, stderr: str, audio_stream: int | None) -> None:
    """When decoding failed for want of a (the chosen) audio stream, say which streams there are."""
    info = parse_input_dump(stderr, source)
    if info is None:
        return
    audio = info.audio_streams
    if not audio:
        raise InputError(no_audio_message(info))
    if audio_stream is not None and audio_stream >= len(audio):
        raise InputError(missing_stream_message(info, audio_stream))


def _warn_on_trouble(source: str, stderr: str, names: tuple[str, ...]) -> None:
    """ffmpeg carries on over damaged data (a truncated download, a bad sector); say so once."""
    dump_over = False
    for line in stderr.splitlines():
        if line.startswith(("Output #", "Stream mapping:")):
            dump_over = True
        elif dump_over and not line[:1].isspace() and _DECODE_TROUBLE.search(words := log_line(line, names)):
            # words: no "[mp3float @ 0x55...]", no "file:/path:" (4.4 to 6.0), so a file name never matches
            logger.warning("%s: ffmpeg hit damaged data, the audio may be incomplete: %s", source, words.rstrip("."))
            return
