"""whisper.tokenizer: openai-whisper's own tokenizer tests, plus the special tokens and language names."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.weights


@pytest.mark.parametrize("multilingual", [True, False])
def test_tokenizer(multilingual):
    from mediakit.whisper.tokenizer import get_tokenizer

    tokenizer = get_tokenizer(multilingual=multilingual)
    assert tokenizer.sot in tokenizer.sot_sequence
    assert len(tokenizer.all_language_codes) == len(tokenizer.all_language_tokens)
    assert all(c < tokenizer.timestamp_begin for c in tokenizer.all_language_tokens)


def test_multilingual_tokenizer():
    from mediakit.whisper.tokenizer import get_tokenizer

    gpt2_tokenizer = get_tokenizer(multilingual=False)
    multilingual_tokenizer = get_tokenizer(multilingual=True)
    text = "다람쥐 헌 쳇바퀴에 타고파"
    gpt2_tokens = gpt2_tokenizer.encode(text)
    multilingual_tokens = multilingual_tokenizer.encode(text)
    assert gpt2_tokenizer.decode(gpt2_tokens) == text
    assert multilingual_tokenizer.decode(multilingual_tokens) == text
    assert len(gpt2_tokens) > len(multilingual_tokens)


def test_split_on_unicode():
    from mediakit.whisper.tokenizer import get_tokenizer

    tokens = [8404, 871, 287, 6, 246, 526, 3210, 20378]
    words, word_tokens = get_tokenizer(multilingual=True).split_tokens_on_unicode(tokens)
    assert words == [" elle", " est", " l", "'", "\ufffd", "é", "rit", "oire"]
    assert word_tokens == [[8404], [871], [287], [6], [246], [526], [3210], [20378]]


def test_special_tokens_and_sequences():
    from mediakit.whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE, get_tokenizer

    tok = get_tokenizer(True, language="French", task="translate")
    assert tok.language == "fr" and tok.task == "translate"
    assert tok.sot_sequence == (tok.sot, tok.language_token, tok.translate)
    assert tok.sot_sequence_including_notimestamps == tok.sot_sequence + (tok.no_timestamps,)
    assert tok.language_token == tok.to_language_token("fr")
    assert (tok.eot, tok.sot, tok.timestamp_begin, tok.no_speech) == (50257, 50258, 50364, 50362)
    assert tok.decode_with_timestamps([tok.timestamp_begin + 54]) == "<|1.08|>"
    assert tok.decode([tok.timestamp_begin, *tok.encode(" hi")]) == " hi"
    assert dict(zip(tok.all_language_codes, tok.all_language_tokens))["fr"] == tok.language_token
    assert len(tok.non_speech_tokens) > 50 and list(tok.non_speech_tokens) == sorted(tok.non_speech_tokens)
    assert LANGUAGES["fr"] == "french" and TO_LANGUAGE_CODE["mandarin"] == "zh"
    english_only = get_tokenizer(False, language="fr")
    assert english_only.language is None and english_only.sot_sequence == (english_only.sot,)
    with pytest.raises(ValueError, match="does not have language token"):
        english_only.language_token
    with pytest.raises(ValueError, match="Unsupported language"):
        get_tokenizer(True, language="klingon")
    assert get_tokenizer(True, num_languages=100).encoding.n_vocab == 51866  # large-v3's vocabulary


def test_word_split_on_spaces_and_characters():
    from mediakit.whisper.tokenizer import get_tokenizer

    en = get_tokenizer(True, language="en")
    words, groups = en.split_to_word_tokens(en.encode(" Hello, world") + [en.eot])
    assert words == [" Hello", ",", " world", "<|endoftext|>"]
    zh = get_tokenizer(True, language="zh")
    text = "广州市房地产中介协会分析"
    words, groups = zh.split_to_word_tokens(zh.encode(text))
    assert "".join(words) == text and len(words) == len(groups) > 1  # no spaces: split at token runs
    assert all(zh.decode(g) == w for w, g in zip(words, groups))
