"""Plugin discovery as a user sees it: `mediakit plugins list`, broken, duplicate and disabled plugins."""

from __future__ import annotations

import json
import subprocess
import sys

from typer.testing import CliRunner

from mediakit.cli import app
from mediakit.plugins import load_plugins

runner = CliRunner()

GOOD = """
from mediakit import hookimpl

class Upper:
    extension = "up"
    def __init__(self, options):
        pass
    def write(self, transcript, stream):
        stream.write(transcript.text.upper())

@hookimpl
def mediakit_register_writers(register):
    register("upper", Upper)
"""


def _listing(*args: str) -> dict[str, dict]:
    result = runner.invoke(app, [*args, "plugins", "list", "--json"])
    assert result.exit_code == 0, result.output
    return {row["name"]: row for row in json.loads(result.stdout)}


def test_builtins_cover_all_five_stages_and_the_runner():
    rows = _listing()
    ok = [r for r in rows.values() if r["status"] == "ok" and r["distribution"] == "mediakit"]
    stages = {s for r in ok for s in r["stages"]}
    assert stages == {"demux", "features", "model", "decode", "writer", "runner"}
    assert all(r["version"] for r in ok)


def test_third_party_plugin_is_listed_with_distribution_and_version(install_dist):
    install_dist("mediakit-upper", "2.3.4", {"upper": "mkt_upper"}, {"mkt_upper": GOOD})
    row = _listing()["upper"]
    assert (row["distribution"], row["version"], row["status"]) == ("mediakit-upper", "2.3.4", "ok")
    assert row["stages"] == ["writer"] and row["hooks"] == ["mediakit_register_writers"]


def test_plugin_that_raises_on_import_is_reported_and_skipped(install_dist):
    install_dist("mediakit-broken", "0.1", {"broken": "mkt_broken"}, {"mkt_broken": "raise RuntimeError('boom at import')\n"})
    rows = _listing()
    assert rows["broken"]["status"] == "failed"
    assert "RuntimeError: boom at import" in rows["broken"]["reason"]
    assert rows["writers"]["status"] == "ok"  # the others still load


def test_table_shows_failure_reason(install_dist):
    install_dist("mediakit-broken", "0.1", {"broken": "mkt_broken2"}, {"mkt_broken2": "import not_a_module_xyz\n"})
    result = runner.invoke(app, ["plugins", "list"])
    assert result.exit_code == 0
    line = next(l for l in result.stdout.splitlines() if l.startswith("broken"))
    assert "mediakit-broken" in line and "failed" in line and "not_a_module_xyz" in line


def test_duplicate_name_is_reported(install_dist):
    install_dist("mediakit-dupe", "1.0", {"writers": "mkt_dupe"}, {"mkt_dupe": GOOD})
    host = load_plugins()
    writers = [p for p in host.plugins if p.name == "writers"]
    assert len(writers) == 2
    assert sorted(p.status for p in writers) == ["failed", "ok"]
    assert any("duplicate plugin name 'writers'" in (p.reason or "") for p in writers)


def test_unknown_hook_is_an_error_naming_the_plugin(install_dist):
    source = "from mediakit import hookimpl\n@hookimpl\ndef mediakit_register_writerz(register):\n    pass\n"
    install_dist("mediakit-typo", "1.0", {"typo": "mkt_typo"}, {"mkt_typo": source})
    row = _listing()["typo"]
    assert row["status"] == "failed"
    assert "plugin 'typo'" in row["reason"] and "mediakit_register_writerz" in row["reason"]


def test_disable_by_option_and_environment(monkeypatch):
    assert _listing("--disable-plugin", "writers")["writers"]["status"] == "disabled"
    monkeypatch.setenv("MEDIAKIT_DISABLE_PLUGINS", "ffmpeg, writers")
    rows = _listing()
    assert rows["writers"]["status"] == "disabled" and rows["ffmpeg"]["status"] == "disabled"
    assert rows["logmel"]["status"] == "ok"


def test_disabled_builtin_format_is_gone(monkeypatch, tmp_path):
    monkeypatch.setenv("MEDIAKIT_DISABLE_PLUGINS", "writers")
    result = runner.invoke(app, ["transcribe", str(tmp_path / "x.wav"), "-f", "srt"])
    assert result.exit_code == 1
    assert "unknown output format 'srt'" in result.output


def test_listing_plugins_does_not_import_torch():
    code = (
        "import sys\n"
        "from typer.testing import CliRunner\n"
        "from mediakit.cli import app\n"
        "r = CliRunner().invoke(app, ['plugins', 'list', '--json'])\n"
        "assert r.exit_code == 0, r.output\n"
        "heavy = sorted(m for m in ('torch', 'tiktoken', 'silero_vad', 'opencc') if m in sys.modules)\n"
        "print(','.join(heavy) or 'none')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "none", f"listing plugins imported {out}"


def test_version_and_help():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and result.stdout.startswith("mediakit ")
    result = runner.invoke(app, ["transcribe", "--help"])
    assert result.exit_code == 0
    assert "--beam_size" in result.stdout and "[default: 5]" in result.stdout
