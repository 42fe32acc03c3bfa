"""Whisper's tokenizer: a tiktoken byte-level BPE built from a model's own tokenizer.json, plus the specials.

The BPE ranks come from the model directory (no network, no files from other projects). The special tokens
follow the ranks in a fixed order: end-of-text, start-of-transcript, the language tokens, translate,
transcribe, start-of-LM, start-of-previous, no-speech, no-timestamps, then 1501 timestamps ``<|0.00|>`` ...
``<|30.00|>`` in 0.02 s steps.
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import tiktoken

from mediakit.errors import ConfigError, StageError

# code -> English name, in the order of the language tokens (Whisper's order; "yue" only in 100-language models).
LANGUAGES: dict[str, str] = {
    "en": "english", "zh": "chinese", "de": "german", "es": "spanish", "ru": "russian", "ko": "korean",
    "fr": "french", "ja": "japanese", "pt": "portuguese", "tr": "turkish", "pl": "polish", "ca": "catalan",
    "nl": "dutch", "ar": "arabic", "sv": "swedish", "it": "italian", "id": "indonesian", "hi": "hindi",
    "fi": "finnish", "vi": "vietnamese", "he": "hebrew", "uk": "ukrainian", "el": "greek", "ms": "malay",
    "cs": "czech", "ro": "romanian", "da": "danish", "hu": "hungarian", "ta": "tamil", "no": "norwegian",
    "th": "thai", "ur": "urdu", "hr": "croatian", "bg": "bulgarian", "lt": "lithuanian", "la": "latin",
    "mi": "maori", "ml": "malayalam", "cy": "welsh", "sk": "slovak", "te": "telugu", "fa": "persian",
    "lv": "latvian", "bn": "bengali", "sr": "serbian", "az": "azerbaijani", "sl": "slovenian", "kn": "kannada",
    "et": "estonian", "mk": "macedonian", "br": "breton", "eu": "basque", "is": "icelandic", "hy": "armenian",
    "ne": "nepali", "mn": "mongolian", "bs": "bosnian", "kk": "kazakh", "sq": "albanian", "sw": "swahili",
    "gl": "galician", "mr": "marathi", "pa": "punjabi", "si": "sinhala", "km": "khmer", "sn": "shona",
    "yo": "yoruba", "so": "somali", "af": "afrikaans", "oc": "occitan", "ka": "georgian", "be": "belarusian",
    "tg": "tajik", "sd": "sindhi", "gu": "gujarati", "am": "amharic", "yi": "yiddish", "lo": "lao",
    "uz": "uzbek", "fo": "faroese", "ht": "haitian creole", "ps": "pashto", "tk": "turkmen", "nn": "nynorsk",
    "mt": "maltese", "sa": "sanskrit", "lb": "luxembourgish", "my": "myanmar", "bo": "tibetan", "tl": "tagalog",
    "mg": "malagasy", "as": "assamese", "tt": "tatar", "haw": "hawaiian", "ln": "lingala", "ha": "hausa",
    "ba": "bashkir", "jw": "javanese", "su": "sundanese", "yue": "cantonese",
}  # fmt: skip

# name or alias -> code
TO_LANGUAGE_CODE: dict[str, str] = {
    **{name: code for code, name in LANGUAGES.items()},
    "burmese": "my", "valencian": "ca", "flemish": "nl", "haitian": "ht", "letzeburgesch": "lb",
    "pushto": "ps", "panjabi": "pa", "moldavian": "ro", "moldovan": "ro", "sinhalese": "si",
    "castilian": "es", "mandarin": "zh",
}  # fmt: skip

TASKS = ("transcribe", "translate")

# Languages written without spaces between words: word timestamps split them per character.
_UNSPACED_LANGUAGES = frozenset({"zh", "ja", "th", "lo", "my", "yue"})

_SPLIT_PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
_TIMESTAMPS = 1501  # <|0.00|> ... <|30.00|>
_SPECIALS_AFTER_LANGUAGES = ("translate", "transcribe", "startoflm", "startofprev", "nospeech", "notimestamps")


def language_code(value: str) -> str:
    """Return the language code for a code or an English name (case-insensitive), e.g. ``French`` -> ``fr``."""
    key = value.strip().lower()
    if key in LANGUAGES:
        return key
    if key in TO_LANGUAGE_CODE:
        return TO_LANGUAGE_CODE[key]
    raise ConfigError(
        f"unknown language {value!r}; use a code or an English name, e.g. en, fr, de, zh, English, French "
        f"({len(LANGUAGES)} languages, see mediakit_whisper.tokenizer.LANGUAGES)"
    )


def num_languages_for(n_vocab: int) -> int:
    """Number of language tokens of a Whisper vocabulary (99, or 100 for large-v3)."""
    return n_vocab - 51765 - int(n_vocab >= 51865)


def _byte_decoder() -> dict[str, int]:
    """The GPT-2 byte-level alphabet: the unicode character that stands for each byte, inverted."""
    printable = list(range(0x21, 0x7F)) + list(range(0xA1, 0xAD)) + list(range(0xAE, 0x100))
    chars = {b: chr(b) for b in printable}
    shifted = 0
    for b in range(256):
        if b not in chars:
            chars[b] = chr(0x100 + shifted)
            shifted += 1
    return {c: b for b, c in chars.items()}


@lru_cache(maxsize=4)
def load_ranks(vocab_file: str) -> dict[bytes, int]:
    """BPE ranks (token bytes -> id) from a ``tokenizer.json``, ``vocab.json`` or CTranslate2 ``vocabulary.txt``."""
    path = Path(vocab_file)
    try:
        text = path.read_text(encoding="utf-8")
        if path.suffix == ".txt":  # CTranslate2 vocabulary.txt: line index = id, specials after the BPE tokens
            lines = text.split("\n")
            data = {"model": {"vocab": {t: i for i, t in enumerate(lines[: lines.index("<|endoftext|>")])}}}
        else:
            data = json.loads(text)
    except (OSError, ValueError) as err:
        raise StageError(f"cannot read the tokenizer {path}: {err}") from err
    if "model" in data:  # tokenizer.json
        vocab = data["model"].get("vocab", {})
        specials = {tok["content"] for tok in data.get("added_tokens", ())}
    else:  # vocab.json
        vocab, specials = data, set()
    decoder = _byte_decoder()
    ranks: dict[bytes, int] = {}
    try:
        for token, rank in vocab.items():
            if token in specials or (token.startswith("<|") and token.endswith("|>")):
                continue
            ranks[bytes(decoder[c] for c in token)] = int(rank)
    except KeyError as err:
        raise StageError(f"{path} is not a byte-level BPE vocabulary (character {err} has no byte)") from err
    if sorted(ranks.values()) != list(range(len(ranks))):
        raise StageError(f"{path}: the BPE ranks are not the contiguous ids 0..{len(ranks) - 1}")
    return ranks


@lru_cache(maxsize=4)
def build_encoding(vocab_file: str, n_vocab: int) -> tiktoken.Encoding:
    """A tiktoken encoding for a model with ``n_vocab`` outputs, from the model's vocabulary file."""
    ranks = load_ranks(vocab_file)
    n_languages = num_languages_for(n_vocab)
    names = (
        ["<|endoftext|>", "<|startoftranscript|>"]
        + [f"<|{code}|>" for code in list(LANGUAGES)[:n_languages]]
        + [f"<|{name}|>" for name in _SPECIALS_AFTER_LANGUAGES]
        + [f"<|{i * 0.02:.2f}|>" for i in range(_TIMESTAMPS)]
    )
    if len(ranks) + len(names) != n_vocab:
        raise StageError(
            f"the tokenizer {vocab_file} has {len(ranks)} BPE tokens, which does not fit a model with "
            f"{n_vocab} outputs (expected {n_vocab - len(names)})"
        )
    specials = {name: len(ranks) + i for i, name in enumerate(names)}
    kind = "multilingual" if n_vocab >= 51865 else "gpt2"
    return tiktoken.Encoding(
        name=f"mediakit-whisper-{kind}-{n_vocab}",
        explicit_n_vocab=n_vocab,
        pat_str=_SPLIT_PATTERN,
        mergeable_ranks=ranks,
        special_tokens=specials,
    )


@dataclass(frozen=True)
class Tokenizer:
    """Whisper's text <-> token ids, with the ids of its special tokens.

    ``language`` None leaves the language token out of ``sot_sequence`` (detect the language first, then
    use ``with_options(language=...)``). English-only models have no language or task tokens in their
    start sequence.
    """

    encoding: tiktoken.Encoding = field(repr=False)
    num_languages: int
    is_multilingual: bool
    language: str | None = None
    task: str = "transcribe"

    def __post_init__(self) -> None:
        if self.task not in TASKS:
            raise ConfigError(f"unknown task {self.task!r}; use transcribe or translate")
        if self.language is not None:
            code = language_code(self.language)
            if code not in self.all_language_codes:
                raise ConfigError(f"language {code!r} is not one of this model's {self.num_languages} languages")
            object.__setattr__(self, "language", code)

    def with_options(self, language: str | None = ..., task: str | None = None) -> "Tokenizer":  # type: ignore[assignment]
        """A tokenizer for another language and/or task (arguments left out keep their value)."""
        return Tokenizer(
            encoding=self.encoding,
            num_languages=self.num_languages,
            is_multilingual=self.is_multilingual,
            language=self.language if language is ... else language,
            task=task or self.task,
        )

    # -- special token ids ------------------------------------------------------------------------------
    def _special(self, name: str) -> int:
        return self.encoding._special_tokens[name]  # noqa: SLF001 (tiktoken has no public lookup by name)

    @cached_property
    def eot(self) -> int:
        return self._special("<|endoftext|>")

    @cached_property
    def sot(self) -> int:
        return self._special("<|startoftranscript|>")

    @cached_property
    def transcribe(self) -> int:
        return self._special("<|transcribe|>")

    @cached_property
    def translate(self) -> int:
        return self._special("<|translate|>")

    @cached_property
    def sot_lm(self) -> int:
        return self._special("<|startoflm|>")

    @cached_property
    def sot_prev(self) -> int:
        return self._special("<|startofprev|>")

    @cached_property
    def no_speech(self) -> int:
        return self._special("<|nospeech|>")

    @cached_property
    def no_timestamps(self) -> int:
        return self._special("<|notimestamps|>")

    @cached_property
    def timestamp_begin(self) -> int:
        return self._special("<|0.00|>")

    @cached_property
    def all_language_codes(self) -> tuple[str, ...]:
        return tuple(list(LANGUAGES)[: self.num_languages])

    @cached_property
    def all_language_tokens(self) -> tuple[int, ...]:
        return tuple(self.sot + 1 + i for i in range(self.num_languages))

    @cached_property
    def language_token(self) -> int:
        """Id of ``<|language|>``; a ConfigError when the tokenizer has no language."""
        if self.language is None:
            raise ConfigError("this tokenizer has no language set; use with_options(language=...)")
        return self.sot + 1 + self.all_language_codes.index(self.language)

    @cached_property
    def sot_sequence(self) -> tuple[int, ...]:
        """The decoder prompt that starts a window: start-of-transcript [, language, task]."""
        if not self.is_multilingual:
            return (self.sot,)
        sequence = [self.sot]
        if self.language is not None:
            sequence.append(self.language_token)
        sequence.append(self.translate if self.task == "translate" else self.transcribe)
        return tuple(sequence)

    @cached_property
    def sot_sequence_including_notimestamps(self) -> tuple[int, ...]:
        return self.sot_sequence + (self.no_timestamps,)

    @cached_property
    def non_speech_tokens(self) -> tuple[int, ...]:
        """Tokens of symbols and music notes that are not speech (suppressed by default while decoding).

        Each symbol counts when it is one token alone or after a space; the music notes count by their first
        token; plus the tokens of " -" and " '".
        """
        symbols = list('"#()*+/:;<=>@[\\]^_`{|}~「」『』')
        symbols += "<< >> <<< >>> -- --- -( -[ (' (\" (( )) ((( ))) [[ ]] {{ }} ♪♪ ♪♪♪".split()
        notes = "♩♪♫♬♭♮♯"
        # encode_ordinary: no check for special-token spellings, whose regex over 1600 specials takes 0.26 s to build
        found = {self.encoding.encode_ordinary(" -")[0], self.encoding.encode_ordinary(" '")[0]}
        for symbol in symbols + list(notes):
            for ids in (self.encoding.encode_ordinary(symbol), self.encoding.encode_ordinary(" " + symbol)):
                if len(ids) == 1 or symbol in notes:
                    found.add(ids[0])
        return tuple(sorted(found))

    # -- text -----------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        """Token ids of plain text (special-token spellings in ``text`` are encoded as ordinary text)."""
        return self.encoding.encode(text, disallowed_special=())

    def decode(self, tokens: list[int]) -> str:
        """Text of the tokens, leaving out timestamp tokens."""
        return self.encoding.decode([t for t in tokens if t < self.timestamp_begin])

    def decode_with_timestamps(self, tokens: list[int]) -> str:
        """Text of the tokens with timestamps written out, e.g. ``<|1.08|>``."""
        return self.encoding.decode(tokens)

    def split_to_word_tokens(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Group tokens into words: at spaces and punctuation, or per character for unspaced scripts."""
        if self.language in _UNSPACED_LANGUAGES:
            return self._split_on_unicode(tokens)
        return self._split_on_spaces(tokens)

    def _split_on_unicode(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Split into the shortest token runs that decode to whole characters."""
        full = self.decode_with_timestamps(tokens)
        words: list[str] = []
        groups: list[list[int]] = []
        pending: list[int] = []
        position = 0
        for token in tokens:
            pending.append(token)
            text = self.decode_with_timestamps(pending)
            bad = text.find("\ufffd")
            # A replacement character means an incomplete UTF-8 sequence, unless the full text has one there too.
            if bad < 0 or full[position + bad : position + bad + 1] == "\ufffd":
                words.append(text)
                groups.append(pending)
                pending = []
                position += len(text)
        return words, groups

    def _split_on_spaces(self, tokens: list[int]) -> tuple[list[str], list[list[int]]]:
        """Join character runs into words that start at a space, a punctuation mark or a special token."""
        words: list[str] = []
        groups: list[list[int]] = []
        for text, ids in zip(*self._split_on_unicode(tokens)):
            starts_word = ids[0] >= self.eot or text.startswith(" ") or text.strip() in string.punctuation
            if starts_word or not words:
                words.append(text)
                groups.append(list(ids))
            else:
                words[-1] += text
                groups[-1].extend(ids)
        return words, groups
