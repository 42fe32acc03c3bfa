"""The tokenizer built from the installed models' own tokenizer.json files."""

from __future__ import annotations

import json

import pytest

from mediakit.errors import ConfigError
from mediakit_whisper import locate
from mediakit_whisper.tokenizer import LANGUAGES, Tokenizer, build_encoding, language_code, num_languages_for

pytestmark = pytest.mark.weights

JFK = " And so my fellow Americans, ask not what your country can do for you, ask what you can do for your country."


def make(name: str, vocab_name: str = "tokenizer.json") -> tuple[Tokenizer, dict]:
    directory = locate.packaged_weights(name)
    if directory is None:
        pytest.skip(f"the {name} weight package is not installed")
    n_vocab = 51865 if name == "base" else 51864
    encoding = build_encoding(str(directory / vocab_name), n_vocab)
    config = json.loads((directory / "config.json").read_text())
    return Tokenizer(encoding, num_languages_for(n_vocab), n_vocab >= 51865), config


@pytest.fixture(scope="module")
def multilingual():
    return make("base")


@pytest.fixture(scope="module")
def english():
    return make("tiny.en")


def test_encodes_like_openai_whisper(multilingual, english):
    tok, _ = multilingual
    assert tok.encode(JFK) == [400, 370, 452, 7177, 6280, 11, 1029, 406, 437, 428, 1941, 393, 360, 337, 291, 11,
                               1029, 437, 291, 393, 360, 337, 428, 1941, 13]  # fmt: skip
    tok, _ = english
    assert tok.encode(JFK) == [843, 523, 616, 5891, 3399, 11, 1265, 407, 644, 534, 1499, 460, 466, 329, 345, 11,
                               1265, 644, 345, 460, 466, 329, 534, 1499, 13]  # fmt: skip
    for text in ("Bonjour à tous", "你好，世界", "안녕하세요 🎉", "  two  spaces\n\nnew lines"):
        assert tok.decode(tok.encode(text)) == text


def test_special_token_ids_of_both_vocabularies(multilingual, english):
    tok, _ = multilingual
    assert (tok.eot, tok.sot, tok.translate, tok.transcribe) == (50257, 50258, 50358, 50359)
    assert (tok.sot_lm, tok.sot_prev, tok.no_speech, tok.no_timestamps, tok.timestamp_begin) == (
        50360, 50361, 50362, 50363, 50364)  # fmt: skip
    assert tok.all_language_tokens[0] == 50259 and len(tok.all_language_codes) == 99
    tok, _ = english
    assert (tok.eot, tok.sot, tok.no_timestamps, tok.timestamp_begin) == (50256, 50257, 50362, 50363)
    assert tok.encoding.n_vocab == 51864


def test_language_and_task_tokens_follow_the_files(multilingual, english):
    for tok, config in (multilingual, english):
        added = {t["content"]: t["id"] for t in json.loads((locate.packaged_weights(
            "base" if tok.is_multilingual else "tiny.en") / "tokenizer.json").read_text())["added_tokens"]}
        for code, token in zip(tok.all_language_codes, tok.all_language_tokens):
            # tiny.en's file spells Hebrew <|iw|>, openai-whisper <|he|>
            assert added.get(f"<|{code}|>", added.get("<|iw|>") if code == "he" else None) == token
        # the models' own suppression list = non-speech symbols + the task/control specials
        control = {tok.translate, tok.transcribe, tok.sot, tok.sot_prev, tok.sot_lm, tok.no_speech}
        assert sorted(set(tok.non_speech_tokens) | control) == config["suppress_ids"]


def test_start_sequences(multilingual, english):
    tok, _ = multilingual
    assert tok.sot_sequence == (50258, 50359)  # no language yet: detect it first
    french = tok.with_options(language="French", task="translate")
    assert french.language == "fr" and french.sot_sequence == (50258, 50265, 50358)
    assert french.sot_sequence_including_notimestamps == (50258, 50265, 50358, 50363)
    assert tok.with_options(language="EN").sot_sequence == (50258, 50259, 50359)
    with pytest.raises(ConfigError):
        _ = tok.language_token
    tok, _ = english
    assert tok.sot_sequence == (50257,) and tok.sot_sequence_including_notimestamps == (50257, 50362)


def test_timestamps_render_and_plain_decode_drops_them(multilingual):
    tok, _ = multilingual
    tokens = [tok.timestamp_begin, *tok.encode(" Hello"), tok.timestamp_begin + 54, tok.eot]
    assert tok.decode_with_timestamps(tokens) == "<|0.00|> Hello<|1.08|><|endoftext|>"
    assert tok.decode(tokens) == " Hello<|endoftext|>"
    assert tok.decode_with_timestamps([tok.timestamp_begin + 1500]) == "<|30.00|>"


def test_word_splitting_by_spaces_and_by_characters(multilingual):
    tok, _ = multilingual
    words, groups = tok.with_options(language="en").split_to_word_tokens(tok.encode(" Hello, world's end") + [tok.eot])
    assert words == [" Hello", ",", " world's", " end", "<|endoftext|>"]
    assert sum(groups, []) == tok.encode(" Hello, world's end") + [tok.eot]
    chinese = tok.with_options(language="zh")
    words, groups = chinese.split_to_word_tokens(chinese.encode("你好世界"))
    assert "".join(words) == "你好世界" and all("\ufffd" not in w for w in words) and len(words) >= 2


def test_vocabulary_txt_gives_the_same_encoding(multilingual):
    tok, _ = multilingual
    from_txt, _ = make("base", "vocabulary.txt")
    assert from_txt.encode(JFK) == tok.encode(JFK) and from_txt.eot == tok.eot


def test_languages_by_code_or_name():
    assert list(LANGUAGES)[:5] == ["en", "zh", "de", "es", "ru"] and list(LANGUAGES)[-1] == "yue"
    assert len(LANGUAGES) == 100
    assert language_code("German") == "de" and language_code("ZH") == "zh" and language_code("castilian") == "es"
    with pytest.raises(ConfigError, match="e.g. en, fr"):
        language_code("klingon")
