"""Output files: names, existence checks, and atomic writing (temp file, then rename)."""

from __future__ import annotations

import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

from .errors import MediakitError
from .pipeline import NamedWriter
from .records import Transcript


def _read_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


_UMASK = _read_umask()


@dataclass(frozen=True)
class OutputTarget:
    writer: NamedWriter
    path: Path


def stem_of(source: str) -> str:
    """The output base name for an input: its file stem, ``stdin`` for ``-``, the last URL path part."""
    if source == "-":
        return "stdin"
    if "://" in source:
        name = Path(urlparse(source).path).stem
        return name or "stream"
    return Path(source).stem or Path(source).name


def targets_for(stem: str, writers: tuple[NamedWriter, ...], output_dir: str | os.PathLike[str]) -> tuple[OutputTarget, ...]:
    directory = Path(output_dir)
    return tuple(OutputTarget(w, directory / f"{stem}.{w.extension}") for w in writers)


def all_exist(targets: tuple[OutputTarget, ...]) -> bool:
    return bool(targets) and all(t.path.is_file() for t in targets)


def render(writer: NamedWriter, transcript: Transcript) -> str:
    buffer = io.StringIO()
    writer.writer.write(transcript, buffer)
    return buffer.getvalue()


def write_outputs(transcript: Transcript, targets: tuple[OutputTarget, ...]) -> list[Path]:
    """Render every format first, then write each file atomically: a failure leaves no partial file."""
    texts = [(t.path, render(t.writer, transcript)) for t in targets]
    written = []
    for path, text in texts:
        atomic_write_text(path, text)
        written.append(path)
    return written


def atomic_write_text(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` through a temporary file in the same directory and a rename."""
    directory = path.parent
    try:
        directory.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".part", dir=directory)
    except OSError as err:
        raise MediakitError(f"{path}: cannot write output: {err.strerror or err}") from err
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; give the file the usual permissions
        os.replace(tmp, path)
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise MediakitError(f"{path}: cannot write output: {err.strerror or err}") from err
        raise
