"""Text normalisers and error rates for the accuracy benchmarks.

``english`` and ``basic`` are openai-whisper's English and language-independent text normalisers, as
``mediakit.whisper.normalizers`` provides them word for word (so WER figures here are scored as the
published Whisper figures are); ``chinese_chars`` is for CER (NFKC, Traditional -> Simplified,
punctuation and spaces removed).
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Sequence


@lru_cache(maxsize=None)
def _normalizers():
    from mediakit.whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer

    return EnglishTextNormalizer(), BasicTextNormalizer()


def english(text: str) -> str:
    """openai-whisper's English normalisation (fillers and brackets out, numbers as digits, US spelling)."""
    return _normalizers()[0](text)


def basic(text: str) -> str:
    """openai-whisper's language-independent normalisation (lower case, symbols out, diacritics kept)."""
    return _normalizers()[1](text)


def chinese_chars(text: str) -> str:
    """For CER: NFKC, Traditional -> Simplified, no punctuation, symbols or spaces."""
    import opencc

    text = opencc.OpenCC("t2s").convert(unicodedata.normalize("NFKC", text))
    return "".join(c for c in text if unicodedata.category(c)[0] not in "PSZC")


def edit_distance(reference: Sequence, hypothesis: Sequence) -> int:
    """Levenshtein distance (substitutions, insertions, deletions all cost 1)."""
    previous = list(range(len(hypothesis) + 1))
    for i, r in enumerate(reference, 1):
        current = [i]
        for j, h in enumerate(hypothesis, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (r != h)))
        previous = current
    return previous[-1]


def normalise(language: str, text: str) -> list[str]:
    """The scored units: words for WER languages, characters for zh/ja/yue."""
    if language in ("zh", "ja", "yue"):
        return list(chinese_chars(text))
    if language == "en":
        return english(text).split()
    return basic(text).split()
