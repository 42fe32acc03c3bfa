"""The user story: `pip install` a third-party writer plugin, see it listed, use its format."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "mediakit-lrc"


@pytest.fixture(scope="module")
def lrc_site(tmp_path_factory) -> Path:
    """examples/mediakit-lrc really installed with pip, into a directory put on the path."""
    target = tmp_path_factory.mktemp("lrc-site")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--disable-pip-version-check", "--target", str(target), str(EXAMPLE)],
        check=True,
        capture_output=True,
    )
    return target


def mediakit(site: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")]))
    return subprocess.run([sys.executable, "-m", "mediakit", *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_installed_plugin_is_listed_with_its_distribution_and_version(lrc_site):
    result = mediakit(lrc_site, "plugins", "list", "--json")
    assert result.returncode == 0, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)}
    assert rows["lrc"]["distribution"] == "mediakit-lrc"
    assert rows["lrc"]["version"] == "0.1.0"
    assert rows["lrc"]["status"] == "ok" and rows["lrc"]["stages"] == ["writer"]


@pytest.mark.weights
def test_installed_format_works_with_transcribe(lrc_site, jfk_path, tmp_path):
    result = mediakit(lrc_site, "transcribe", str(jfk_path), "--model", "tiny.en", "--beam_size", "1", "-f", "lrc", "-o", str(tmp_path))
    assert result.returncode == 0, result.stderr
    lines = (tmp_path / "jfk.lrc").read_text(encoding="utf-8").splitlines()
    timed = [l for l in lines if l.startswith("[0")]
    assert timed[0].startswith("[00:00.")
    assert "fellow Americans" in " ".join(timed)
