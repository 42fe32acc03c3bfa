"""model.transcribe as published scripts and openai-whisper's own test call it, and mediakit's extra keywords."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.weights


def test_openai_test_transcribe(whisper, tiny_en, jfk_result):
    result = jfk_result
    assert result["language"] == "en"
    assert result["text"] == "".join(s["text"] for s in result["segments"])
    transcription = result["text"].lower()
    assert "my fellow americans" in transcription
    assert "your country" in transcription
    assert "do for you" in transcription

    tokenizer = whisper.tokenizer.get_tokenizer(tiny_en.is_multilingual, num_languages=tiny_en.num_languages)
    all_tokens = [t for s in result["segments"] for t in s["tokens"]]
    assert tokenizer.decode(all_tokens) == result["text"]
    assert tokenizer.decode_with_timestamps(all_tokens).startswith("<|0.00|>")

    timing_checked = False
    for segment in result["segments"]:
        for timing in segment["words"]:
            assert timing["start"] < timing["end"]
            if timing["word"].strip(" ,") == "Americans":
                assert timing["start"] <= 1.8 <= timing["end"]
                timing_checked = True
    assert timing_checked


def test_result_has_openai_keys(jfk_result):
    assert set(jfk_result) == {"text", "segments", "language"}
    keys = ["id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
            "no_speech_prob", "words"]  # fmt: skip
    for i, segment in enumerate(jfk_result["segments"]):
        assert list(segment) == keys and segment["id"] == i
        assert list(segment["words"][0]) == ["word", "start", "end", "probability"]


def test_readme_script_defaults_and_verbose(whisper, tiny_en, jfk_path, capsys):
    with pytest.warns(UserWarning, match="FP16 is not supported on CPU"):
        result = tiny_en.transcribe(jfk_path, verbose=True)
    printed = capsys.readouterr().out.splitlines()
    lines = [f"[{whisper.utils.format_timestamp(s['start'])} --> {whisper.utils.format_timestamp(s['end'])}] {s['text']}"
             for s in result["segments"]]  # fmt: skip
    assert printed == lines and re.match(r"^\[00:00\.000 --> \d\d:\d\d\.\d{3}\]  And so", printed[0])
    assert "words" not in result["segments"][0]
    # greedy at temperature 0 first, as openai-whisper's transcribe() (not the CLI's beam search)
    assert result["segments"][0]["temperature"] == 0.0


def test_samples_as_array_or_tensor_and_the_module_function(whisper, tiny_en, jfk_path, jfk_result):
    audio = whisper.load_audio(jfk_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from_tensor = whisper.transcribe(tiny_en, torch.from_numpy(audio), temperature=0.0, fp16=False)
        from_array = tiny_en.transcribe(audio.astype(np.float64), temperature=0.0, fp16=False)
    assert from_tensor["text"] == from_array["text"] == jfk_result["text"]


def test_unknown_keyword_is_a_type_error(tiny_en, jfk_path):
    with pytest.raises(TypeError, match="unexpected keyword argument 'beam_width'"):
        tiny_en.transcribe(jfk_path, beam_width=5)


def test_options_reach_mediakit_stages(whisper, tiny_en, jfk_path):
    from mediakit.errors import StageNotFoundError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        clipped = tiny_en.transcribe(jfk_path, clip_timestamps=[0.0, 4.0], fp16=False, temperature=0.0)
        assert clipped["segments"] and clipped["segments"][-1]["end"] <= 4.5
        assert "ask what you can do" not in clipped["text"]
        with pytest.raises(StageNotFoundError, match="decoder"):
            tiny_en.transcribe(jfk_path, decoder="no-such-decoder")
        seen = []
        tiny_en.transcribe(jfk_path, fp16=False, progress=lambda done, total: seen.append((done, total)),
                           vad=True)  # fmt: skip
        assert seen and seen[-1][0] == pytest.approx(seen[-1][1], abs=0.02)
        batched = tiny_en.transcribe(jfk_path, fp16=False, batch_size=2)
        assert "your country" in batched["text"] and batched["segments"]


def test_sample_len_bounds_every_windows_tokens_and_prefix_is_refused_with_a_warning(tiny_en, jfk_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # sample_len is honoured: no warning
        short = tiny_en.transcribe(jfk_path, sample_len=6, temperature=0.0, fp16=False, repair=False)
    assert short["segments"] and all(len(s["tokens"]) <= 6 for s in short["segments"])
    with pytest.warns(UserWarning, match="prefix is not supported"):
        tiny_en.transcribe(jfk_path, prefix="And so", temperature=0.0, fp16=False)


def test_language_names_and_unsupported(whisper, tiny_en, jfk_path):
    with pytest.raises(ValueError, match="Unsupported language"):
        tiny_en.transcribe(jfk_path, language="klingon", fp16=False)


def test_unreadable_file_is_a_runtime_error(tiny_en, tmp_path):
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF nonsense")
    with pytest.raises(RuntimeError, match="Failed to load audio"):
        tiny_en.transcribe(str(bad), fp16=False)


def test_verbose_language_detection(base, jfk_path, capsys):
    result = base.transcribe(jfk_path, verbose=True, fp16=False)
    printed = capsys.readouterr().out.splitlines()
    assert printed[0] == "Detecting language using up to the first 30 seconds. Use `--language` to specify the language"
    assert printed[1] == "Detected language: English" and result["language"] == "en"
    assert len(printed) == 2 + len(result["segments"]) and printed[2].startswith("[00:00.000 --> ")
    base.transcribe(jfk_path, verbose=None, fp16=False, language="en")
    assert capsys.readouterr().out == ""
