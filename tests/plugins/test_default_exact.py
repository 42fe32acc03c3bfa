"""The default never changes a transcript: ``--compute_type auto`` gives ``float32``'s transcripts (which are
openai-whisper's) on the whole shared speech set, on whatever CPU runs the tests (issue 20)."""

from __future__ import annotations

import csv

import pytest

pytestmark = [pytest.mark.weights, pytest.mark.shared]


def _speech_files(directory):
    with open(directory / "manifest.tsv", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle, delimiter="\t"))
    return [directory / row["file"] for row in rows]


def _as_rows(result):
    return [(s.start, s.end, s.text, s.tokens) for s in result.segments]


def test_default_gives_float32_transcripts_on_the_shared_set(shared_speech):
    import mediakit

    files = _speech_files(shared_speech)
    assert len(files) >= 20  # the whole set, not a sample
    default = mediakit.load_model("base")  # compute_type="auto", as the CLI's default
    exact = mediakit.load_model("base", compute_type="float32")
    differences = []
    for path in files:
        if path.stat().st_size < 100:  # the header-only WAV: no audio to decode, covered by the bad-input tests
            continue
        ours, theirs = default.transcribe(str(path)), exact.transcribe(str(path))
        if (ours.language, _as_rows(ours)) != (theirs.language, _as_rows(theirs)):
            differences.append(f"{path.name}: default {ours.text!r} / float32 {theirs.text!r}")
    assert not differences, "\n".join(differences)
