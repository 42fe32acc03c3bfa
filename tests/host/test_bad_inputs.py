"""Issue 7's bad-input suite, run as one batch through the real pipeline (ffmpeg, tiny.en).

Each bad input gets one error line naming it; the good ones are transcribed; nothing is half-written.
"""

from __future__ import annotations

import os
import subprocess
import wave

import numpy as np
import pytest
from typer.testing import CliRunner

from mediakit.cli import app
from mediakit_ffmpeg.binary import find_ffmpeg

pytestmark = pytest.mark.weights


def _ffmpeg(*args: str) -> None:
    subprocess.run([find_ffmpeg(None), "-nostdin", "-v", "error", "-y", *args], check=True)


def _wav(path, seconds: float, value: float = 0.0) -> None:
    samples = np.full(int(16000 * seconds), int(value * 32767), dtype=np.int16)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(samples.tobytes())


@pytest.fixture(scope="module")
def batch(tmp_path_factory, request):
    from pathlib import Path

    jfk = Path(__file__).resolve().parents[1] / "data" / "jfk.flac"
    d = tmp_path_factory.mktemp("bad")
    (d / "empty.mp3").write_bytes(b"")
    (d / "random.mp3").write_bytes(np.random.default_rng(0).integers(0, 256, 50_000, dtype=np.uint8).tobytes())
    (d / "notes.wav").write_text("these are my notes, not a recording\n")
    _ffmpeg("-i", str(jfk), "-c:a", "aac", str(d / "whole.mp4"))
    data = (d / "whole.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (d / "whole.mp4").unlink()
    _ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:rate=5:duration=1", str(d / "silent_video.mp4"))
    (d / "folder").mkdir()
    (d / "spaced name ü.flac").write_bytes(jfk.read_bytes())
    (d / "-dash.flac").write_bytes(jfk.read_bytes())
    _wav(d / "short.wav", 0.1, 0.01)
    _wav(d / "silence.wav", 600.0)
    inputs = [
        "empty.mp3", "random.mp3", "notes.wav", "truncated.mp4", "silent_video.mp4", "folder", "missing.flac",
        "spaced name ü.flac", "-dash.flac", "short.wav", "silence.wav",
    ]
    out = d / "out"
    cwd = os.getcwd()
    os.chdir(d)
    try:
        result = CliRunner().invoke(
            app, ["transcribe", "--model", "tiny.en", "--beam_size", "1", "-f", "txt,srt", "-o", str(out), "--", *inputs]
        )
    finally:
        os.chdir(cwd)
    return result, out


def _errors(result) -> list[str]:
    return [line for line in result.output.splitlines() if line.startswith("Error:")]


def test_exit_status_and_no_traceback(batch):
    result, _ = batch
    assert result.exit_code == 1
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "name",
    ["empty.mp3", "random.mp3", "notes.wav", "truncated.mp4", "silent_video.mp4", "folder", "missing.flac"],
)
def test_each_bad_input_gets_one_line_naming_it(batch, name):
    result, out = batch
    lines = [line for line in _errors(result) if name in line]
    assert len(lines) == 1, result.output
    assert not any(p.name.startswith(os.path.splitext(name)[0] + ".") for p in out.iterdir())


def test_video_without_audio_lists_its_streams(batch):
    result, _ = batch
    (line,) = [line for line in _errors(result) if "silent_video.mp4" in line]
    assert "video" in line.lower() and "audio" in line.lower()


def test_exactly_the_bad_inputs_failed(batch):
    result, _ = batch
    assert len(_errors(result)) == 7, result.output


def test_odd_names_are_transcribed(batch):
    _, out = batch
    for stem in ("spaced name ü", "-dash"):
        text = (out / f"{stem}.txt").read_text(encoding="utf-8").lower()
        assert "fellow americans" in text
        assert (out / f"{stem}.srt").exists()


def test_tiny_and_silent_inputs_give_empty_or_short_transcripts(batch):
    _, out = batch
    assert (out / "short.txt").exists()
    assert (out / "silence.txt").read_text(encoding="utf-8").strip() == ""
    assert not [p for p in out.iterdir() if p.name.endswith(".part")]


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their permissions (CI runs as root)")
def test_unreadable_file(tmp_path, jfk_path):
    locked = tmp_path / "locked.flac"
    locked.write_bytes(jfk_path.read_bytes())
    locked.chmod(0)
    result = CliRunner().invoke(app, ["transcribe", str(locked), "--model", "tiny.en", "-o", str(tmp_path)])
    assert result.exit_code == 1
    assert len([l for l in _errors(result) if "locked.flac" in l]) == 1
