"""whisper.decode / detect_language / DecodingOptions as openai-whisper's README snippet uses them."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.weights


def test_readme_snippet(whisper, base, jfk_path):
    audio = whisper.load_audio(jfk_path)
    audio = whisper.pad_or_trim(audio)
    mel = whisper.log_mel_spectrogram(audio, n_mels=base.dims.n_mels).to(base.device)

    _, probs = base.detect_language(mel)
    assert max(probs, key=probs.get) == "en" and probs["en"] > 0.5
    assert sum(probs.values()) == pytest.approx(1.0, abs=1e-3)

    options = whisper.DecodingOptions(fp16=False)
    result = whisper.decode(base, mel, options)
    assert isinstance(result, whisper.DecodingResult)
    assert result.language == "en" and result.language_probs["en"] == pytest.approx(probs["en"], abs=1e-4)
    assert "ask not what your country can do for you" in result.text
    assert result.audio_features.shape == (base.dims.n_audio_ctx, base.dims.n_audio_state)
    assert result.temperature == 0.0 and np.isfinite(result.avg_logprob) and 0 <= result.no_speech_prob <= 1

    # audio features instead of mel skip the encoder; a batch gives a batch of answers
    features = torch.stack([result.audio_features, result.audio_features])
    tokens, batch_probs = whisper.detect_language(base, features)
    assert tokens.shape == (2,) and isinstance(batch_probs, list) and batch_probs[1]["en"] == pytest.approx(probs["en"], abs=1e-4)
    found = whisper.decode(base, features, whisper.DecodingOptions(task="lang_id", fp16=False))
    assert [f.language for f in found] == ["en", "en"] and found[0].tokens == [] and found[0].text == ""


def test_batched_mel_and_keywords(whisper, tiny_en, jfk_path):
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(jfk_path)))
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False)
    results = tiny_en.decode(torch.stack([mel, mel]), options)
    assert isinstance(results, list) and len(results) == 2
    assert "your country" in results[0].text and results[0].language_probs is None
    assert results[1].tokens == results[0].tokens
    again = whisper.decode(tiny_en, results[0].audio_features, language="en", without_timestamps=True, fp16=False)
    assert again.tokens == results[0].tokens  # keywords replace the options' fields


def test_prefix_and_prompt(whisper, tiny_en, jfk_path):
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(jfk_path)))
    options = whisper.DecodingOptions(language="en", without_timestamps=True, fp16=False, prefix="And so", prompt="Kennedy")
    result = whisper.decode(tiny_en, mel, options)
    assert result.text.startswith("my fellow Americans")  # the prefix is given, not returned
    short = whisper.decode(tiny_en, mel, dataclasses.replace(options, prefix=None, sample_len=4))
    assert len(short.tokens) == 4


def test_options_checks_and_english_only_language_id(whisper, tiny_en):
    mel = torch.zeros(80, 3000)
    assert whisper.DecodingOptions().beam_size is None and whisper.DecodingOptions().fp16 is True
    with pytest.raises(dataclasses.FrozenInstanceError):
        whisper.DecodingOptions().language = "en"
    with pytest.raises(ValueError, match="can't be given together"):
        whisper.decode(tiny_en, mel, whisper.DecodingOptions(beam_size=2, best_of=2, temperature=0.5))
    with pytest.raises(ValueError, match="greedy"):
        whisper.decode(tiny_en, mel, whisper.DecodingOptions(best_of=2))
    with pytest.raises(TypeError):
        whisper.decode(tiny_en, mel, beam_width=2)
    with pytest.raises(ValueError, match="doesn't have language tokens"):
        tiny_en.detect_language(mel)
