"""``manifest.jsonl`` in the output folder: one JSON line per input of the run, as each one ends.

Fields: ``source``, ``status`` (``done``, ``skipped``, ``failed``), ``seconds`` (wall time on the worker),
``audio_seconds``, ``node`` (Ray node id) and ``host``, ``attempts``, ``error`` (one line, or null) and
``outputs``. In a local folder each line is written and flushed as its input ends, so an interrupted
run leaves the lines of what finished; at a URL the whole file is put once, when the run ends or stops.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import IO, Any

from mediakit.errors import MediakitError

from .paths import Location

NAME = "manifest.jsonl"
FIELDS = ("source", "status", "seconds", "audio_seconds", "node", "host", "attempts", "error", "outputs")


class Manifest:
    def __init__(self, location: Location):
        self._location = location
        self._lines: list[str] = []
        self._file: IO[str] | None = None
        if not location.remote:
            path = Path(location.join(NAME))
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
                self._file = path.open("w", encoding="utf-8")
            except OSError as err:
                raise MediakitError(f"{path}: cannot write the manifest: {err.strerror or err}") from err

    def add(self, row: dict[str, Any]) -> None:
        line = json.dumps({k: row.get(k) for k in FIELDS}, ensure_ascii=False) + "\n"
        if self._file is not None:
            self._file.write(line)
            self._file.flush()
        else:
            self._lines.append(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        elif self._location.remote:
            self._location.write_text(NAME, "".join(self._lines))
