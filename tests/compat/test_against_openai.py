"""Side by side with openai-whisper itself, where it is installed (it is never a dependency of mediakit):
mel arrays, token ids, and transcripts and decodings of our tiny.en weights loaded into its model class."""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest
import torch

pytestmark = pytest.mark.weights

openai = pytest.importorskip("whisper", reason="openai-whisper is not installed (optional, for comparisons only)")
if not hasattr(openai, "_MODELS"):  # another package named whisper
    pytest.skip("the installed 'whisper' package is not openai-whisper", allow_module_level=True)


@pytest.fixture(scope="module")
def openai_tiny_en():
    """openai-whisper's Whisper class holding the tiny.en weights that mediakit loads."""
    from mediakit_whisper import names
    from mediakit_whisper.locate import packaged_weights
    from mediakit_whisper.weights import read_checkpoint

    checkpoint = read_checkpoint(packaged_weights("tiny.en"))
    dims = openai.model.ModelDimensions(**dataclasses.asdict(checkpoint.dims))
    model = openai.model.Whisper(dims)
    model.load_state_dict({k: v.float() for k, v in checkpoint.state_dict.items()})
    mask = torch.zeros(dims.n_text_layer, dims.n_text_head, dtype=torch.bool)
    for layer, head in names.official_alignment_heads("tiny.en", dims.n_text_layer, dims.n_text_head):
        mask[layer, head] = True
    model.register_buffer("alignment_heads", mask.to_sparse(), persistent=False)
    return model.eval()


def test_audio_and_mel_match(whisper, jfk_path):
    ours = whisper.load_audio(jfk_path)
    theirs = openai.load_audio(jfk_path)
    assert ours.shape == theirs.shape and np.abs(ours - theirs).max() < 1e-4
    for n_mels in (80, 128):
        a = whisper.log_mel_spectrogram(ours, n_mels, padding=whisper.audio.N_SAMPLES)
        b = openai.log_mel_spectrogram(ours, n_mels, padding=openai.audio.N_SAMPLES)
        assert a.shape == b.shape and (a - b).abs().max().item() < 1e-4
    assert torch.allclose(whisper.audio.mel_filters("cpu", 80), openai.audio.mel_filters("cpu", 80), atol=1e-6)


def test_model_tables_match(whisper):
    assert whisper.available_models() == openai.available_models()
    assert whisper._MODELS == openai._MODELS and whisper._ALIGNMENT_HEADS == openai._ALIGNMENT_HEADS


@pytest.mark.parametrize("multilingual", [True, False])
def test_token_ids_match(multilingual):
    from mediakit.whisper.tokenizer import get_tokenizer

    ours, theirs = get_tokenizer(multilingual), openai.tokenizer.get_tokenizer(multilingual)
    for name in ("sot", "eot", "transcribe", "translate", "sot_lm", "sot_prev", "no_speech", "no_timestamps",
                 "timestamp_begin", "sot_sequence", "sot_sequence_including_notimestamps", "non_speech_tokens"):  # fmt: skip
        assert getattr(ours, name) == getattr(theirs, name), name
    assert ours.special_tokens == theirs.special_tokens
    assert sorted(zip(ours.all_language_codes, ours.all_language_tokens)) == sorted(
        zip(theirs.all_language_codes, theirs.all_language_tokens)
    )
    for text in (" And so my fellow Americans", "다람쥐 헌 쳇바퀴에 타고파", "广州市房地产中介协会分析", " l'histoire, 3.14 ♪"):
        tokens = ours.encode(text)
        assert tokens == theirs.encode(text)
        assert ours.split_to_word_tokens(tokens) == theirs.split_to_word_tokens(tokens)


def test_transcripts_match(tiny_en, openai_tiny_en, whisper, jfk_path):
    audio = whisper.load_audio(jfk_path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        # sample_len cuts the window's text short: mediakit's coverage repair would decode the rest
        for options, ours_only in ((dict(initial_prompt="Inaugural address."), {}),
                                   (dict(sample_len=6, temperature=0.0), dict(repair=False))):  # fmt: skip
            ours = tiny_en.transcribe(audio, fp16=False, **options, **ours_only)
            theirs = openai_tiny_en.transcribe(audio, fp16=False, **options)
            assert ours["text"] == theirs["text"] and ours["language"] == theirs["language"]
            assert [s["tokens"] for s in ours["segments"]] == [s["tokens"] for s in theirs["segments"]]
            for a, b in zip(ours["segments"], theirs["segments"]):
                assert list(a) == list(b)
                assert a["start"] == pytest.approx(b["start"], abs=1e-3) and a["end"] == pytest.approx(b["end"], abs=1e-3)
                assert a["avg_logprob"] == pytest.approx(b["avg_logprob"], abs=1e-4)


def test_decodings_match(tiny_en, openai_tiny_en, whisper, jfk_path):
    mel = whisper.log_mel_spectrogram(whisper.pad_or_trim(whisper.load_audio(jfk_path)))
    for fields in (dict(), dict(without_timestamps=True, prefix="And so", prompt="Kennedy")):
        ours = whisper.decode(tiny_en, mel, whisper.DecodingOptions(language="en", fp16=False, **fields))
        theirs = openai.decode(openai_tiny_en, mel, openai.DecodingOptions(language="en", fp16=False, **fields))
        assert ours.tokens == theirs.tokens and ours.text == theirs.text
        assert ours.no_speech_prob == pytest.approx(theirs.no_speech_prob, abs=1e-4)


def _parameters(function):
    import inspect

    return [(p.name, p.kind, repr(p.default)) for p in inspect.signature(function).parameters.values()]


def test_signatures_and_dataclasses_match(whisper):
    pairs = [
        (whisper.load_audio, openai.load_audio), (whisper.pad_or_trim, openai.pad_or_trim),
        (whisper.log_mel_spectrogram, openai.log_mel_spectrogram), (whisper.decode, openai.decode),
        (whisper.detect_language, openai.detect_language), (whisper.transcribe, openai.transcribe),
        (whisper.tokenizer.get_tokenizer, openai.tokenizer.get_tokenizer),
        (whisper.utils.get_writer, openai.utils.get_writer), (whisper.utils.format_timestamp, openai.utils.format_timestamp),
        (whisper.timing.find_alignment, openai.timing.find_alignment),
        (whisper.timing.add_word_timestamps, openai.timing.add_word_timestamps),
        (whisper.timing.median_filter, openai.timing.median_filter), (whisper.timing.dtw_cpu, openai.timing.dtw_cpu),
    ]  # fmt: skip
    for ours, theirs in pairs:
        assert _parameters(ours) == _parameters(theirs), ours.__qualname__
    # load_model: openai's parameters first, then mediakit's keyword-only extras
    assert _parameters(whisper.load_model)[:4] == _parameters(openai.load_model)
    for ours, theirs in [(whisper.DecodingOptions, openai.DecodingOptions), (whisper.DecodingResult, openai.DecodingResult),
                         (whisper.ModelDimensions, openai.ModelDimensions)]:  # fmt: skip
        ours_fields = [(f.name, f.default) for f in dataclasses.fields(ours)]
        theirs_fields = [(f.name, f.default) for f in dataclasses.fields(theirs)]
        assert str(ours_fields) == str(theirs_fields), ours.__name__  # str: nan defaults compare equal
