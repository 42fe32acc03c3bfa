"""Server-side paths for jobs: allowed only under the ``--allow_dir`` roots, never outside them.

A client names a path relative to a root (``talks/day1.mp4``), or as ``<root name>/...`` when the
server has several. Rejected: absolute paths, ``..`` parts, anything whose real path (every symlink
followed) leaves its root, and anything that is not a regular file. The message never reveals what
exists outside the root.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath


class PathRefused(Exception):
    """A path the client may not use; the message says why in one line."""


def resolve_allowed(name: str, roots: tuple[str, ...]) -> Path:
    """The real path of the file ``name`` names under one of ``roots``; raises :class:`PathRefused`."""
    if not roots:
        raise PathRefused("server-side paths are off; upload the file, or start the server with --allow_dir ROOT")
    if not name or "\x00" in name:
        raise PathRefused("empty path")
    text = name.replace("\\", "/")
    pure = PurePosixPath(text)
    if pure.is_absolute() or (len(text) > 1 and text[1] == ":"):
        raise PathRefused(f"{name}: absolute paths are refused; name the file relative to the allowed folder")
    if any(part == ".." for part in pure.parts):
        raise PathRefused(f"{name}: '..' is refused")
    parts = [p for p in pure.parts if p not in ("", ".")]
    if not parts:
        raise PathRefused(f"{name}: not a file")
    real_roots = [Path(os.path.realpath(r)) for r in roots]
    candidates = [(root, parts) for root in real_roots]
    if len(real_roots) > 1:  # several roots: the first part names one, by its folder name
        candidates = [(root, parts[1:]) for root in real_roots if root.name == parts[0] and len(parts) > 1]
    for root, rest in candidates:
        target = Path(os.path.realpath(root.joinpath(*rest)))
        if target != root and root not in target.parents:
            raise PathRefused(f"{name}: leaves the allowed folder (through a symbolic link)")
        if target.is_file():
            return target
    raise PathRefused(f"{name}: no such file under the allowed folder")
