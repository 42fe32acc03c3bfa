"""`mediakit probe` and `mediakit extract` through the real command line and the installed ffmpeg plugin."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediakit.cli import app

runner = CliRunner()


@pytest.fixture(scope="module")
def two_tracks(tmp_path_factory) -> Path:
    """11 s Matroska: JFK's speech (Opus, English, default) and a 440 Hz tone (FLAC, French, titled)."""
    import imageio_ffmpeg

    jfk = str(Path(__file__).parents[1] / "data" / "jfk.flac")
    path = tmp_path_factory.mktemp("cli") / "talk.mkv"
    tone = ["-f", "lavfi", "-i", "sine=frequency=440:sample_rate=22050:duration=11"]
    args = ["-i", jfk, *tone, "-map", "0:a", "-map", "1:a", "-c:a:0", "libopus", "-c:a:1", "flac"]
    tags = ["-metadata:s:a:0", "language=eng", "-metadata:s:a:1", "language=fra", "-metadata:s:a:1", "title=Tone"]
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", *args, *tags, str(path)]
    subprocess.run(command, check=True)
    return path


def errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


def test_probe_table(two_tracks):
    result = runner.invoke(app, ["probe", str(two_tracks)])
    assert result.exit_code == 0, result.output
    assert "Container:  matroska,webm" in result.output
    assert "Duration:   00:00:11.01 (11.01 s)" in result.output
    rows = [line.split() for line in result.output.splitlines() if line.startswith("  ") and "audio" in line]
    assert rows[0][:5] == ["0", "audio", "0", "opus", "eng"] and rows[0][-1] == "default"
    assert rows[1][:5] == ["1", "audio", "1", "flac", "fra"] and rows[1][-1] == "'Tone'"
    assert "22050 Hz, 1 ch (mono)" in result.output
    from mediakit_ffmpeg.binary import locate_ffmpeg

    assert f"Read by:    {locate_ffmpeg(None).describe()}" in result.output  # version, path, where it came from


def test_probe_json(two_tracks):
    result = runner.invoke(app, ["probe", str(two_tracks), "--json"])
    assert result.exit_code == 0, result.output
    info = json.loads(result.output)
    assert info["container"] == "matroska,webm" and info["duration"] == pytest.approx(11.01)
    assert [(s["codec"], s["language"], s["sample_rate"], s["channels"]) for s in info["streams"]] == [
        ("opus", "eng", 48000, 2),
        ("flac", "fra", 22050, 1),
    ]


def test_probe_standard_input(two_tracks):
    result = runner.invoke(app, ["probe", "-", "--json"], input=two_tracks.read_bytes())
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["source"] == "-"


def test_probe_errors_are_one_line(tmp_path):
    result = runner.invoke(app, ["probe", str(tmp_path / "missing.wav")])
    assert result.exit_code == 1
    assert errors(result) == [f"Error: {tmp_path / 'missing.wav'}: no such file"]
    text = tmp_path / "notes.wav"
    text.write_text("not audio\n" * 50)
    result = runner.invoke(app, ["probe", str(text)])
    assert result.exit_code == 1
    assert errors(result) == [f"Error: {text}: ffmpeg cannot read it: Invalid data found when processing input"]
    assert "Traceback" not in result.output


def test_extract_default_stream_next_to_the_cwd(two_tracks, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["extract", str(two_tracks)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == "talk.opus"
    probe = runner.invoke(app, ["probe", "talk.opus", "--json"])
    assert [s["codec"] for s in json.loads(probe.output)["streams"]] == ["opus"]

    again = runner.invoke(app, ["extract", str(two_tracks)])
    assert again.exit_code == 1
    assert errors(again) == ["Error: talk.opus: already exists; not replacing it (use --force / overwrite=True)"]
    before = (tmp_path / "talk.opus").stat().st_mtime_ns
    forced = runner.invoke(app, ["extract", str(two_tracks), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (tmp_path / "talk.opus").stat().st_mtime_ns >= before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["talk.opus"]


def test_extract_second_stream_into_a_directory(two_tracks, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    result = runner.invoke(app, ["extract", str(two_tracks), "--audio_stream", "1", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(out / "talk.flac")
    probe = json.loads(runner.invoke(app, ["probe", str(out / "talk.flac"), "--json"]).output)
    assert [(s["codec"], s["sample_rate"]) for s in probe["streams"]] == [("flac", 22050)]


def test_extract_stream_out_of_range(two_tracks, tmp_path):
    result = runner.invoke(app, ["extract", str(two_tracks), "--audio-stream", "2", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert len(errors(result)) == 1 and "no audio stream 2" in errors(result)[0]
    assert list(tmp_path.iterdir()) == []


def test_extract_from_standard_input(two_tracks, tmp_path):
    result = runner.invoke(app, ["extract", "-", "-o", str(tmp_path)], input=two_tracks.read_bytes())
    assert result.exit_code == 0, result.output
    assert result.output.strip() == str(tmp_path / "stdin.opus")
