"""Running ffmpeg: standard input fed for ``-``, stderr kept in a temporary file, and the cause of a failure.

stderr goes to a file rather than a pipe so that a chatty ffmpeg can never block while we read its
stdout, and so that the whole input dump is there to parse when something went wrong.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import threading
from typing import IO, Any

from mediakit.errors import InputError

from .sources import STDIN

GLOBAL_ARGS = ["-hide_banner", "-nostats"]

# ffmpeg's own prefixes, which differ between versions; the cause is what follows them.
# "[in#0 @ 0x55ae40240d40] message", "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5580a0c0] message" -> "message"
# and nested ones: "[aist#0:0/aac @ 0x55dd] [dec:aac @ 0x55de] message" -> "message"
_CONTEXT = re.compile(r"^(\[[^\]]* @ (0x)?[0-9a-fA-F]+\]\s*)+")
# 6.1 and later: "Error opening input: <cause>" where 4.4-6.0 print "<input>: <cause>"
_WRAPPERS = ("Error opening input: ",)
# 6.1 and later end with a summary of the error code ("Error opening input files: Invalid data found
# when processing input"), which earlier versions never print: used only when nothing else was said.
_SUMMARY = re.compile(r"^Error (opening (input|output) files|parsing global options|splitting the argument list): ")
# 6.1 and later name the output: "Error opening output /tmp/x.opus: Permission denied"
_OUTPUT_WRAPPER = "Error opening output "
# The same cause, worded differently by different versions: say it one way.
_REWORDED = (
    (re.compile(r"^Could not write header for output file #\d+ "), "Could not write header "),
    (re.compile(r"^Output file #\d+ does not contain any stream"), "Output file does not contain any stream"),
    (re.compile(r"^Stream map '[^']*' matches no streams"), "Stream map matches no streams"),  # 9.0 prints ''
    # a packet the demuxer flagged: "<input>: corrupt input packet in stream 0" (ffmpeg.c up to 6.0, 5.1
    # recorded), "[in#0/wav @ 0x...] Packet corrupt (stream = 0, dts = NOPTS)." (ffmpeg_demux.c, 9.0 recorded)
    (re.compile(r"^(?:corrupt input packet in stream (\d+)|Packet corrupt \(stream = (\d+), dts = [^)]*\))\.?$"),
     lambda m: f"corrupt packet in stream {m.group(1) or m.group(2)}"),
)
_MP3_SEEK = re.compile(r"^Failed to read frame size: Could not seek to \d+$")
_NOISE = re.compile(
    r"^(Error opening (input|output) file "
    r"|Conversion failed!?$"
    r"|At least one output file must be specified"
    r"|To ignore this, add a trailing '\?' to the map"
    r"|Failed to set value '.*' for option"
    r"|Error parsing options for"
    r"|Error initializing output stream \d+:\d+ --"
    r"|Did you mean file:"
    r"|Exiting normally"
    r"|Guessed Channel Layout"
    r"|Format \S+ detected only with low score"
    r"|(Input|Output) #\d"
    r"|Stream mapping:"
    r"|Press \[q\]"
    r"|size=|video:\d|\[q\]"
    r")"
)


def with_globals(command: list[str]) -> list[str]:
    """Put mediakit's global options right after the binary (ffmpeg-python appends them at the end)."""
    return [command[0], *GLOBAL_ARGS, *command[1:]]


class FfmpegRun:
    """One ffmpeg process; use as a context manager, read ``proc.stdout`` inside, then ``stderr``.

    :param source: the input as the user named it; ``-`` feeds this process's standard input.
    """

    def __init__(self, command: list[str], source: str, *, stdout: Any = subprocess.PIPE):
        self.command = command
        self.source = source
        self._stdout = stdout
        self.proc: subprocess.Popen[bytes] | None = None
        self.returncode: int | None = None
        self.stderr = ""
        self._errors: IO[bytes] | None = None
        self._feeder: threading.Thread | None = None

    def __enter__(self) -> "FfmpegRun":
        stdin, feed_from = _stdin_for(self.source)
        self._errors = tempfile.TemporaryFile()
        try:
            self.proc = subprocess.Popen(self.command, stdin=stdin, stdout=self._stdout, stderr=self._errors)
        except OSError as err:
            self._errors.close()
            raise InputError(f"{self.source}: cannot run ffmpeg ({self.command[0]}): {err.strerror}") from err
        if feed_from is not None:
            self._feeder = threading.Thread(target=_feed, args=(feed_from, self.proc.stdin), daemon=True)
            self._feeder.start()
        return self

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self.proc is not None and self._errors is not None
        if exc_type is not None and self.proc.poll() is None:
            self.proc.kill()  # we stopped reading: do not leave ffmpeg blocked on a full pipe
        if self.proc.stdout is not None:
            self.proc.stdout.close()
        self.returncode = self.proc.wait()
        if self._feeder is not None:
            self._feeder.join(timeout=5)
        self._errors.seek(0)
        self.stderr = self._errors.read().decode("utf-8", errors="replace")
        self._errors.close()

    def cause(self, *names: str) -> str:
        """ffmpeg's words for the failure, without the prefixes naming ``names`` (the inputs and outputs given)."""
        return ffmpeg_cause(self.stderr, names) or f"ffmpeg exited with status {self.returncode}"


def ffmpeg_cause(stderr: str, names: tuple[str, ...] | list[str] = ()) -> str:
    """ffmpeg's own words for what went wrong: its last one or two meaningful stderr lines, on one line.

    The prefixes ffmpeg puts before the cause, which change between versions, are dropped: the log
    context (``[in#0 @ 0x...]``), ``Error opening input:`` and the like, and ``<name>:`` where
    ``name`` is one of ``names``, the ``-i`` arguments and output files of the command (4.4 to 6.0
    print ``file:/tmp/a.wav: Invalid data found when processing input``). The caller's message
    already names the file, once, as the user named it.
    """
    prefixes = name_prefixes(names)
    causes: list[str] = []
    summary = ""
    for raw in stderr.splitlines():
        if not raw.strip() or raw[:1].isspace():  # blank, or part of the indented input dump
            continue
        line = _CONTEXT.sub("", raw.strip())
        if _SUMMARY.match(line):
            summary = line.split(": ", 1)[1].rstrip(".").strip()
            continue
        for wrapper in _WRAPPERS:
            if line.startswith(wrapper):
                line = line[len(wrapper) :]
        if line.startswith(_OUTPUT_WRAPPER):
            line = line[len(_OUTPUT_WRAPPER) :]
            if not line.startswith(prefixes):
                continue  # "Error opening output file x." (noise), or an output we did not name
        line = _without_name(line, prefixes)
        for old, new in _REWORDED:
            line = old.sub(new, line)
        line = line.rstrip(".").strip()
        if not line or _NOISE.match(line):
            continue
        if line in causes:
            causes.remove(line)
        causes.append(line)
    last = causes[-2:] or ([summary] if summary else [])
    if len(last) == 2 and _MP3_SEEK.match(last[0]) and last[1] == "Invalid argument":
        # Not an MP3 (random bytes, a saved web page): older mp3 demuxers (5.1 recorded) run off the end
        # of the file looking for a second frame header and fail the seek; newer ones stop and say why.
        last = ["Failed to find two consecutive MPEG audio frames", "Invalid data found when processing input"]
    if len(last) == 2 and last[0].endswith(last[1]):  # "Connection to ... failed: Connection refused"
        last = last[:1]
    return "; ".join(last)


def name_prefixes(names: tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """``"<name>: "`` for each name, longest first (``file:/a.wav: `` before ``/a.wav: ``)."""
    return tuple(sorted({f"{name}: " for name in names if name}, key=len, reverse=True))


def log_line(raw: str, names: tuple[str, ...] | list[str] = ()) -> str:
    """One stderr line in ffmpeg's words only: no log context, no ``<name>:`` (for warnings)."""
    line = _without_name(_CONTEXT.sub("", raw.strip()), name_prefixes(names)).strip()
    for old, new in _REWORDED:
        line = old.sub(new, line)
    return line


def _without_name(line: str, prefixes: tuple[str, ...]) -> str:
    for prefix in prefixes:
        if line.startswith(prefix):
            return line[len(prefix) :]
    return line


def _stdin_for(source: str) -> tuple[Any, IO[bytes] | None]:
    """What the child's stdin is: our own file descriptor, a pipe fed from a file-like object, or nothing."""
    if source != STDIN:
        return subprocess.DEVNULL, None
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    try:
        stream.fileno()
    except (AttributeError, OSError, ValueError):  # replaced by a test runner or an embedding app
        return subprocess.PIPE, stream
    return stream, None


def _feed(source: IO[bytes], sink: IO[bytes] | None) -> None:
    assert sink is not None
    try:
        shutil.copyfileobj(source, sink, 1 << 16)
    except (OSError, ValueError, TypeError):  # ffmpeg stopped reading (probe needs only the start), or no input
        pass
    finally:
        try:
            sink.close()
        except OSError:
            pass
