"""Fixtures that install tiny plugin distributions (a *.dist-info with entry points) on sys.path."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Callable

import pytest

from mediakit.cli import common


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
