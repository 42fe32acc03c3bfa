"""openai-whisper's ``whisper.tokenizer``: ``get_tokenizer``, ``Tokenizer``, ``LANGUAGES``, ``TO_LANGUAGE_CODE``.

The byte-pair ranks are not shipped here: they are read from the vocabulary of an installed weight package
(``base`` for the multilingual one, ``tiny.en`` for GPT-2's), and the special tokens follow them in Whisper's
order, so the ids are openai-whisper's.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from typing import Dict, List, Optional, Tuple

import tiktoken

from mediakit_whisper.tokenizer import LANGUAGES, TO_LANGUAGE_CODE
from mediakit_whisper.tokenizer import Tokenizer as _CoreTokenizer
from mediakit_whisper.tokenizer import build_encoding

__all__ = ["LANGUAGES", "TO_LANGUAGE_CODE", "Tokenizer", "get_encoding", "get_tokenizer"]

_N_SPECIALS_BESIDES_LANGUAGES = 2 + 6 + 1501  # eot, sot; translate ... notimestamps; the timestamps


@dataclass
class Tokenizer:
    """A tiktoken encoding with quick access to Whisper's special tokens."""

    encoding: tiktoken.Encoding
    num_languages: int
    language: Optional[str] = None
    task: Optional[str] = None
    sot_sequence: Tuple[int] = ()
    special_tokens: Dict[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.special_tokens.update({token: self.encoding.encode_single_token(token) for token in self.encoding.special_tokens_set})
        sequence = [self.sot]
        if self.language is not None:
            sequence.append(self.to_language_token(self.language))
        if self.task is not None:
            sequence.append(self.transcribe if self.task == "transcribe" else self.translate)
        self.sot_sequence = tuple(sequence)

    @cached_property
    def _core(self) -> _CoreTokenizer:
        codes = tuple(LANGUAGES)[: self.num_languages]
        return _CoreTokenizer(
            encoding=self.encoding,
            num_languages=self.num_languages,
            is_multilingual=self.encoding.n_vocab >= 51865,
            language=self.language if self.language in codes else None,
            task=self.task if self.task in ("transcribe", "translate") else "transcribe",
        )

    def encode(self, text: str, **kwargs) -> List[int]:
        return self.encoding.encode(text, **kwargs)

    def decode(self, token_ids: List[int], **kwargs) -> str:
        """The text of the tokens; timestamp tokens are left out."""
        return self.encoding.decode([t for t in token_ids if t < self.timestamp_begin], **kwargs)

    def decode_with_timestamps(self, token_ids: List[int], **kwargs) -> str:
        """The text with timestamp tokens written out, e.g. ``<|1.08|>``."""
        return self.encoding.decode(token_ids, **kwargs)

    @cached_property
    def eot(self) -> int:
        return self.encoding.eot_token

    @cached_property
    def transcribe(self) -> int:
        return self.special_tokens["<|transcribe|>"]

    @cached_property
    def translate(self) -> int:
        return self.special_tokens["<|translate|>"]

    @cached_property
    def sot(self) -> int:
        return self.special_tokens["<|startoftranscript|>"]

    @cached_property
    def sot_lm(self) -> int:
        return self.special_tokens["<|startoflm|>"]

    @cached_property
    def sot_prev(self) -> int:
        return self.special_tokens["<|startofprev|>"]

    @cached_property
    def no_speech(self) -> int:
        return self.special_tokens["<|nospeech|>"]

    @cached_property
    def no_timestamps(self) -> int:
        return self.special_tokens["<|notimestamps|>"]

    @cached_property
    def timestamp_begin(self) -> int:
        return self.special_tokens["<|0.00|>"]

    @cached_property
    def language_token(self) -> int:
        """The id of this tokenizer's ``<|language|>`` token."""
        if self.language is None:
            raise ValueError("This tokenizer does not have language token configured")
        return self.to_language_token(self.language)

    def to_language_token(self, language: str) -> int:
        if (token := self.special_tokens.get(f"<|{language}|>")) is not None:
            return token
        raise KeyError(f"Language {language} not found in tokenizer.")

    @cached_property
    def all_language_tokens(self) -> Tuple[int]:
        return tuple(self.special_tokens[f"<|{code}|>"] for code in tuple(LANGUAGES)[: self.num_languages])

    @cached_property
    def all_language_codes(self) -> Tuple[str]:
        return tuple(self.decode([token]).strip("<|>") for token in self.all_language_tokens)

    @cached_property
    def sot_sequence_including_notimestamps(self) -> Tuple[int]:
        return tuple(list(self.sot_sequence) + [self.no_timestamps])

    @cached_property
    def non_speech_tokens(self) -> Tuple[int]:
        """Tokens of symbols that are not speech (music notes, brackets...), suppressed while sampling."""
        return tuple(sorted(self._core.non_speech_tokens))

    def split_to_word_tokens(self, tokens: List[int]):
        """(words, tokens of each word): per character for languages written without spaces, else at spaces."""
        if self.language in {"zh", "ja", "th", "lo", "my", "yue"}:
            return self.split_tokens_on_unicode(tokens)
        return self.split_tokens_on_spaces(tokens)

    def split_tokens_on_unicode(self, tokens: List[int]):
        """Split into the shortest runs of tokens that decode to whole characters."""
        words, groups = self._core._split_on_unicode(list(tokens))
        return words, [list(g) for g in groups]

    def split_tokens_on_spaces(self, tokens: List[int]):
        """Join character runs into words that start at a space, a punctuation mark or a special token."""
        words, groups = self._core._split_on_spaces(list(tokens))
        return words, [list(g) for g in groups]


def _vocab_file(multilingual: bool) -> str:
    from mediakit_whisper.locate import packaged_weights

    name = "base" if multilingual else "tiny.en"
    directory = packaged_weights(name)
    if directory is None or not (directory / "tokenizer.json").is_file():
        raise RuntimeError(
            f"the {'multilingual' if multilingual else 'GPT-2'} vocabulary comes from the installed {name} weight "
            f"package, which is missing; reinstall mediakit, or use model.get_tokenizer() of a loaded model"
        )
    return str(directory / "tokenizer.json")


@lru_cache(maxsize=None)
def get_encoding(name: str = "gpt2", num_languages: int = 99) -> tiktoken.Encoding:
    """The tiktoken encoding ``gpt2`` (English-only models) or ``multilingual``, with Whisper's special tokens."""
    if name not in ("gpt2", "multilingual"):
        raise ValueError(f"unknown encoding {name!r}; use gpt2 or multilingual")
    from mediakit_whisper.tokenizer import load_ranks

    vocab = _vocab_file(name == "multilingual")
    n_vocab = len(load_ranks(vocab)) + num_languages + _N_SPECIALS_BESIDES_LANGUAGES
    return build_encoding(vocab, n_vocab)


@lru_cache(maxsize=None)
def get_tokenizer(
    multilingual: bool,
    *,
    num_languages: int = 99,
    language: Optional[str] = None,
    task: Optional[str] = None,  # "transcribe", "translate" or None
) -> Tokenizer:
    """The tokenizer of a multilingual or English-only model; a multilingual one defaults to English transcription."""
    if language is not None:
        language = language.lower()
        if language not in LANGUAGES:
            if language not in TO_LANGUAGE_CODE:
                raise ValueError(f"Unsupported language: {language}")
            language = TO_LANGUAGE_CODE[language]
    if multilingual:
        name, language, task = "multilingual", language or "en", task or "transcribe"
    else:
        name, language, task = "gpt2", None, None
    encoding = get_encoding(name=name, num_languages=num_languages)
    return Tokenizer(encoding=encoding, num_languages=num_languages, language=language, task=task)
