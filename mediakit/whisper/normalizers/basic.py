"""openai-whisper's ``whisper.normalizers.basic``: the language-independent text normalizer used for WER.

Every mark, symbol and punctuation character (Unicode categories M*, S*, P*) becomes a space; bracketed
and parenthesised words are dropped; whitespace runs become one space.
"""

from __future__ import annotations

import re
import unicodedata

#: Letters that NFKD does not split into a base letter and a combining mark, with their plain spelling.
ADDITIONAL_DIACRITICS = {
    "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS",
    "đ": "d", "Đ": "D", "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L",
}  # fmt: skip

_BRACKETED = re.compile(r"[<\[][^>\]]*[>\]]")  # <...> and [...]
_PARENTHESISED = re.compile(r"\(([^)]+?)\)")
_SPACES = re.compile(r"\s+")


def _is_symbol(category: str) -> bool:
    """Marks, symbols and punctuation: the characters the normalizers turn into spaces."""
    return category[0] in "MSP"


def _plain(c: str, keep: str) -> str:
    if c in keep:
        return c
    if c in ADDITIONAL_DIACRITICS:
        return ADDITIONAL_DIACRITICS[c]
    category = unicodedata.category(c)
    if category == "Mn":  # a combining diacritic: dropped
        return ""
    return " " if _is_symbol(category) else c


def remove_symbols_and_diacritics(s: str, keep: str = "") -> str:
    """``s`` (NFKD) with diacritics dropped (``é`` -> ``e``, ``ß`` -> ``ss``) and every other mark, symbol and
    punctuation character replaced by a space, except the characters in ``keep``."""
    return "".join(_plain(c, keep) for c in unicodedata.normalize("NFKD", s))


def remove_symbols(s: str) -> str:
    """``s`` (NFKC) with every mark, symbol and punctuation character replaced by a space; letters keep their
    diacritics."""
    return "".join(" " if _is_symbol(unicodedata.category(c)) else c for c in unicodedata.normalize("NFKC", s))


def drop_bracketed(s: str) -> str:
    """``s`` without ``<...>``, ``[...]`` and ``(...)`` spans (annotations such as ``[MUSIC]``)."""
    return _PARENTHESISED.sub("", _BRACKETED.sub("", s))


class BasicTextNormalizer:
    """Lower case, no bracketed words, symbols and punctuation as spaces, single spaces.

    ``remove_diacritics``: also strip accents (``café`` -> ``cafe``). ``split_letters``: put a space between
    every grapheme (for scripts without word spacing, to score a character error rate).
    """

    def __init__(self, remove_diacritics: bool = False, split_letters: bool = False):
        self.clean = remove_symbols_and_diacritics if remove_diacritics else remove_symbols
        self.split_letters = split_letters

    def __call__(self, s: str) -> str:
        s = self.clean(drop_bracketed(s.lower())).lower()
        if self.split_letters:
            import regex  # tiktoken's dependency; \X is one extended grapheme cluster

            s = " ".join(regex.findall(r"\X", s, regex.U))
        return _SPACES.sub(" ", s)
