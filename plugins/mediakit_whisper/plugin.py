"""Hook implementations of the built-in Whisper model stage (no torch at import time)."""

from __future__ import annotations

import os
from pathlib import Path

from mediakit import hookimpl
from mediakit.records import ModelInfo


@hookimpl(trylast=True)
def mediakit_register_models(register):
    from .names import ALL_NAMES

    for name in ALL_NAMES:
        register(name, _Factory(name))


class _Factory:
    """Defers importing the loader (and torch) until the chosen model is built."""

    def __init__(self, name: str):
        self.name = name

    def __call__(self, options, weights=None):
        from .loader import NamedModelFactory

        return NamedModelFactory(self.name)(options, weights)

    def __repr__(self) -> str:
        return f"WhisperFactory({self.name!r})"


@hookimpl(trylast=True)
def mediakit_model_weights(name):
    from .locate import packaged_weights

    found = packaged_weights(name)
    return str(found) if found else None


@hookimpl(trylast=True)
def mediakit_load_model_path(path, options):
    from .locate import detect_format

    if detect_format(Path(path)) is None:
        return None
    from .loader import load_path

    return load_path(path, options)


@hookimpl(trylast=True)
def mediakit_list_models():
    from . import locate, names

    # This hook has no options; the mediakit cache is the CLI's default (MEDIAKIT_MODEL_DIR or ~/.cache/mediakit).
    model_dir = os.environ.get("MEDIAKIT_MODEL_DIR") or None
    infos = []
    for name, official in names.OFFICIAL.items():
        where = locate.local_weights(name, model_dir)
        aliases = [a for a, target in names.ALIASES.items() if target == name]
        infos.append(
            ModelInfo(
                name=name,
                plugin="whisper",
                available=where is not None,
                location=str(where) if where else None,
                size_bytes=_size(where) if where else official.approx_bytes,
                multilingual=official.multilingual,
                description=("alias " + ", ".join(aliases) + "; " if aliases else "")
                + ("on disk" if where else "downloads on first use"),
            )
        )
    return infos


def _size(path: Path) -> int:
    if path.is_file():
        return path.stat().st_size
    from .locate import model_bin_parts

    files = [p for p in path.iterdir() if p.is_file()]
    if (path / "model.bin.part1").is_file():
        files += [p for p in model_bin_parts(path) if p.parent != path]
    return sum(p.stat().st_size for p in files)
