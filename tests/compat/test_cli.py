"""openai-whisper's ``whisper`` command as ``python -m mediakit.whisper``: its flags, and the files of
``mediakit transcribe``."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings

import pytest
from typer.testing import CliRunner

from mediakit.cli import app
from mediakit.whisper._cli import build_parser, main, mediakit_arguments


def test_module_runs_with_openai_flags_in_help():
    done = subprocess.run([sys.executable, "-m", "mediakit.whisper", "--help"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    for flag in ("--model", "--output_format", "--temperature_increment_on_fallback", "--max_words_per_line", "--clip_timestamps"):
        assert flag in done.stdout


def test_openai_defaults_reach_mediakit():
    args = build_parser().parse_args(["a.mp3", "--model", "base"])
    assert (args.model, args.beam_size, args.best_of, args.verbose, args.output_format) == ("base", 5, 5, True, "all")
    forwarded = mediakit_arguments(args)
    assert forwarded[0] == "a.mp3"
    pairs = _pairs(forwarded[1:])
    assert pairs["--beam_size"] == "5" and pairs["--temperature_increment_on_fallback"] == "0.2"
    assert pairs["--verbose"] == "True" and "--language" not in pairs  # detected
    greedy = mediakit_arguments(build_parser().parse_args(["a.mp3", "--beam_size", "None"]))
    assert _pairs(greedy[1:])["--beam_size"] == "1"


def _pairs(flags):
    return {flag: value for flag, value in zip(flags[::2], flags[1::2]) if not value.startswith("--")}


def test_english_only_model_with_another_language_warns_and_uses_english():
    args = build_parser().parse_args(["a.mp3", "--model", "tiny.en", "--language", "fr"])
    with pytest.warns(UserWarning, match="English-only model"):
        forwarded = mediakit_arguments(args)
    assert forwarded[forwarded.index("--language") + 1] == "en"


def test_usage_errors_exit_2_before_any_model_loads(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["a.mp3", "--model", "tiny.en", "--highlight_words", "True"])
    assert exit_.value.code == 2 and "--highlight_words requires --word_timestamps True" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main(["a.mp3", "--model", "no-such-model"])
    assert exit_.value.code == 2


@pytest.mark.weights
def test_files_equal_mediakit_transcribe(tmp_path, jfk_path, capsys):
    layout = ["--word_timestamps", "True", "--max_line_width", "30"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        main([jfk_path, "--model", "tiny.en", "--device", "cpu", "--beam_size", "None", "-o", str(tmp_path / "w"), *layout])
    printed = capsys.readouterr().out
    assert "[00:00.000 --> " in printed and "ask not what your country" in printed  # verbose=True by default
    result = CliRunner().invoke(
        app, ["transcribe", jfk_path, "--model", "tiny.en", "--device", "cpu", "--beam_size", "1", "-o", str(tmp_path / "m"), *layout]
    )
    assert result.exit_code == 0, result.output
    ours = sorted(p.name for p in (tmp_path / "w").iterdir())
    assert ours == ["jfk.json", "jfk.srt", "jfk.tsv", "jfk.txt", "jfk.vtt"]
    for name in ours[1:]:
        assert (tmp_path / "w" / name).read_bytes() == (tmp_path / "m" / name).read_bytes(), name
    # the JSON too, but a second model in one process may sum log probabilities in another order (1e-7)
    ours_json, theirs_json = (json.loads((tmp_path / d / "jfk.json").read_text()) for d in ("w", "m"))
    assert ours_json["text"] == theirs_json["text"] and len(ours_json["segments"]) == len(theirs_json["segments"])
    for a, b in zip(ours_json["segments"], theirs_json["segments"]):
        assert a.pop("avg_logprob") == pytest.approx(b.pop("avg_logprob"), abs=1e-5) and a == b


@pytest.mark.weights
def test_a_file_that_fails_gives_a_nonzero_exit(tmp_path, capsys):
    missing = str(tmp_path / "missing.wav")
    with pytest.raises(SystemExit) as exit_:
        main([missing, "--model", "tiny.en", "--device", "cpu", "-o", str(tmp_path)])
    assert exit_.value.code != 0 and "missing.wav" in capsys.readouterr().err
