"""whisper.utils: get_writer(fmt, out)(result, audio_path[, options]) and the small helpers."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.weights


def test_srt_writer_as_scripts_call_it(whisper, jfk_result, tmp_path):
    writer = whisper.utils.get_writer("srt", str(tmp_path))
    writer(jfk_result, "/some/where/jfk.flac")
    text = (tmp_path / "jfk.srt").read_text(encoding="utf-8")
    assert text.startswith("1\n00:00:00,000 --> ")
    assert "And so my fellow Americans" in text


def test_all_formats_and_layout_options(whisper, jfk_result, tmp_path):
    whisper.utils.get_writer("all", str(tmp_path))(jfk_result, "jfk.mp3", {"max_line_width": 20, "max_line_count": 2, "highlight_words": False})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["jfk.json", "jfk.srt", "jfk.tsv", "jfk.txt", "jfk.vtt"]
    assert json.loads((tmp_path / "jfk.json").read_text())["text"] == jfk_result["text"]
    assert (tmp_path / "jfk.tsv").read_text().startswith("start\tend\ttext\n")
    vtt = (tmp_path / "jfk.vtt").read_text()
    cue_lines = [l for l in vtt.splitlines()[2:] if l and "-->" not in l]
    assert vtt.startswith("WEBVTT\n\n") and max(len(l) for l in cue_lines) <= 20
    whisper.utils.get_writer("vtt", str(tmp_path))(jfk_result, "k.mp3", max_words_per_line=2)
    words = [l for l in (tmp_path / "k.vtt").read_text().splitlines()[2:] if l and "-->" not in l]
    assert all(len(l.split()) <= 2 for l in words)


def test_helpers(whisper):
    u = whisper.utils
    assert u.format_timestamp(3725.5, always_include_hours=True, decimal_marker=",") == "01:02:05,500"
    assert u.format_timestamp(65.0) == "01:05.000"
    assert u.exact_div(480000, 160) == 3000
    assert u.str2bool("True") is True and u.optional_int("None") is None and u.optional_float("1.5") == 1.5
    assert u.compression_ratio("ha " * 50) > 2.4 > u.compression_ratio("a short sentence")
    segments = [{"start": 1.0, "end": 2.0, "words": [{"start": 1.2, "end": 1.8}]}, {"start": 3.0, "end": 4.0}]
    assert (u.get_start(segments), u.get_end(segments)) == (1.2, 1.8)  # the words first, as openai-whisper
