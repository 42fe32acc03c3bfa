"""Shared fixtures: the project's own speech clip, the shared speech set (skipped when absent), and
tiny plugin distributions (a *.dist-info with entry points) installed on sys.path."""

from __future__ import annotations

import os
import re
import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from mediakit.cli import common

DATA = Path(__file__).parent / "data"
SHARED_SPEECH = Path(__file__).resolve().parents[2] / "shared" / "data" / "speech"

from speechref import JFK_REFERENCE, normalize  # noqa: F401  (kept here for fixtures below)


def pytest_configure(config):
    """The ffmpeg under test is chosen, never whatever this machine has on PATH: imageio-ffmpeg's binary,
    unless MEDIAKIT_FFMPEG names another (``MEDIAKIT_FFMPEG=/usr/bin/ffmpeg python -m pytest ...``)."""
    os.environ.setdefault("MEDIAKIT_FFMPEG", "bundled")


def pytest_report_header(config):
    from mediakit_ffmpeg.binary import FfmpegNotFound, locate_ffmpeg

    try:
        return f"ffmpeg under test: {locate_ffmpeg(None).describe()}"
    except FfmpegNotFound as error:
        return f"ffmpeg under test: none ({error})"


@pytest.fixture
def jfk_path() -> Path:
    """11 s of JFK's 1961 inaugural address (public domain), 44.1 kHz stereo FLAC."""
    return DATA / "jfk.flac"


@pytest.fixture
def shared_speech() -> Path:
    """The shared speech set next to the checkout; skipped with the reason when a clone has none."""
    if not (SHARED_SPEECH / "manifest.tsv").exists():
        pytest.skip(f"shared speech set not found at {SHARED_SPEECH} (only present beside the project's checkout)")
    return SHARED_SPEECH

@pytest.fixture(autouse=True)
def _fresh_cli_hosts():
    """The CLI caches its plugin host per process; every test discovers plugins anew."""
    common._hosts.clear()
    yield
    common._hosts.clear()


@pytest.fixture
def install_dist(tmp_path_factory, monkeypatch) -> Callable[..., Path]:
    """Make a distribution visible to importlib.metadata: ``install_dist(name, version, entry_points, modules)``."""
    root = tmp_path_factory.mktemp("site")
    monkeypatch.syspath_prepend(str(root))

    def install(name: str, version: str, entry_points: dict[str, str], modules: dict[str, str] | None = None) -> Path:
        info = root / f"{name.replace('-', '_')}-{version}.dist-info"
        info.mkdir()
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n")
        lines = ["[mediakit]"] + [f"{k} = {v}" for k, v in entry_points.items()]
        (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            sys.modules.pop(module, None)
        return root

    yield install
    for module in [m for m in sys.modules if m.startswith("mkt_")]:
        sys.modules.pop(module, None)
