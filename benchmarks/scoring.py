"""Text normalisers and error rates for the accuracy benchmark.

``english`` follows the behaviour of openai-whisper's English text normaliser (lower-case, bracketed
text and fillers removed, contractions and titles expanded, spelled-out numbers as digits, symbols
and diacritics removed); ``basic`` is its language-independent one; ``chinese_chars`` is for CER
(NFKC, Traditional -> Simplified, punctuation and spaces removed). Written for mediakit, not copied.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Sequence

FILLERS = re.compile(r"\b(hmm|mm|mhm|mmm|uh|um)\b")
BRACKETS = re.compile(r"[<\[][^>\]]*[>\]]|\(([^)]+?)\)")

# letters NFKD does not decompose
EXTRA_LETTERS = {
    "œ": "oe", "Œ": "OE", "ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "ß": "ss", "ẞ": "SS", "đ": "d", "Đ": "D",
    "ð": "d", "Ð": "D", "þ": "th", "Þ": "th", "ł": "l", "Ł": "L",
}  # fmt: skip

CONTRACTIONS = [
    (r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\blet's\b", "let us"), (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"), (r"\bwanna\b", "want to"), (r"\bgotta\b", "got to"), (r"\bgonna\b", "going to"),
    (r"\bi'ma\b", "i am going to"), (r"\bimma\b", "i am going to"), (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"), (r"\bshoulda\b", "should have"), (r"\bma'am\b", "madam"),
    (r"\bmr\b", "mister "), (r"\bmrs\b", "missus "), (r"\bst\b", "saint "), (r"\bdr\b", "doctor "),
    (r"\bprof\b", "professor "), (r"\bcapt\b", "captain "), (r"\bgov\b", "governor "), (r"\bald\b", "alderman "),
    (r"\bgen\b", "general "), (r"\bsen\b", "senator "), (r"\brep\b", "representative "), (r"\bpres\b", "president "),
    (r"\brev\b", "reverend "), (r"\bhon\b", "honorable "), (r"\basst\b", "assistant "), (r"\bassoc\b", "associate "),
    (r"\blt\b", "lieutenant "), (r"\bcol\b", "colonel "), (r"\bjr\b", "junior "), (r"\bsr\b", "senior "),
    (r"\besq\b", "esquire "),
    (r"'d been\b", " had been"), (r"'s been\b", " has been"), (r"'d gone\b", " had gone"), (r"'s gone\b", " has gone"),
    (r"'d done\b", " had done"), (r"'s got\b", " has got"),
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'s\b", " is"), (r"'d\b", " would"), (r"'ll\b", " will"),
    (r"'t\b", " not"), (r"'ve\b", " have"), (r"'m\b", " am"),
]  # fmt: skip

SPELLINGS = {
    "colour": "color", "favour": "favor", "honour": "honor", "labour": "labor", "neighbour": "neighbor",
    "behaviour": "behavior", "centre": "center", "theatre": "theater", "metre": "meter", "realise": "realize",
    "organise": "organize", "recognise": "recognize", "travelled": "traveled", "cancelled": "canceled",
    "grey": "gray", "okay": "ok", "alright": "all right", "programme": "program", "defence": "defense",
    "licence": "license", "analyse": "analyze", "catalogue": "catalog", "dialogue": "dialog", "mr": "mister",
}  # fmt: skip

ONES = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16,
    "seventeen": 17, "eighteen": 18, "nineteen": 19,
}  # fmt: skip
TENS = {"twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90}
SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000, "billion": 1_000_000_000}


def remove_symbols(text: str, keep: str = "", diacritics: bool = True) -> str:
    """Symbols, punctuation and (optionally) diacritics -> spaces / base letters."""
    form = "NFKD" if diacritics else "NFKC"
    out = []
    for c in unicodedata.normalize(form, text):
        if c in keep:
            out.append(c)
        elif diacritics and c in EXTRA_LETTERS:
            out.append(EXTRA_LETTERS[c])
        elif unicodedata.category(c) == "Mn" and diacritics:
            continue
        elif unicodedata.category(c)[0] in "MSP":
            out.append(" ")
        else:
            out.append(c)
    return "".join(out)


def basic(text: str) -> str:
    """Language-independent: lower-case, bracketed text removed, symbols -> spaces (diacritics kept)."""
    text = BRACKETS.sub("", text.lower())
    text = remove_symbols(text, diacritics=False)
    return " ".join(text.split())


def _number_words(words: list[str]) -> list[str]:
    """Runs of spelled-out numbers -> digits ("twenty one" -> "21", "nineteen sixty one" -> "1961")."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        if run:
            out.extend(_run_to_digits(run))
            run.clear()

    for i, word in enumerate(words):
        if word in ONES or word in TENS or word in SCALES:
            run.append(word)
        elif word == "and" and run and run[-1] in SCALES and i + 1 < len(words) and (words[i + 1] in ONES or words[i + 1] in TENS):
            continue  # "one hundred and five"
        else:
            flush()
            out.append(word)
    flush()
    return out


def _run_to_digits(run: list[str]) -> list[str]:
    pieces: list[str] = []  # digit strings to concatenate ("nineteen" "sixty one")
    total, current, last = 0, None, None
    for word in run:
        if word in SCALES:
            scale = SCALES[word]
            current = (current or 1) * scale if scale == 100 else (current or 1)
            if scale > 100:
                total += current * scale
                current = None
            last = "scale"
            continue
        value = ONES.get(word, TENS.get(word))
        if current is None:
            current = value
        elif last == "tens" and word in ONES and value < 10:
            current += value
        elif last == "scale" or (current % 100 == 0 and current >= 100):
            current += value
        else:  # two numbers side by side: "nineteen sixty" -> 19 | 60
            pieces.append(str(total + current))
            total, current = 0, value
        last = "tens" if word in TENS else "ones"
    pieces.append(str(total + (current or 0)))
    if len(pieces) == 2 and all(10 <= int(p) <= 99 for p in pieces):
        return ["".join(pieces)]  # a year: "nineteen sixty one" -> 1961
    return pieces


def english(text: str) -> str:
    """Normalise English text for WER, after openai-whisper's English normaliser's behaviour."""
    s = text.lower()
    s = BRACKETS.sub("", s)
    s = FILLERS.sub("", s)
    s = re.sub(r"\s+'", "'", s)
    s = s.replace("’", "'")
    for pattern, replacement in CONTRACTIONS:
        s = re.sub(pattern, replacement, s)
    s = re.sub(r"(\d),(\d)", r"\1\2", s)
    s = re.sub(r"\.([^0-9]|$)", r" \1", s)
    s = remove_symbols(s, keep=".%$¢€£")
    words = _number_words(s.split())
    words = [w.replace("percent", "%") for w in words]
    s = " ".join(SPELLINGS.get(w, w) for w in words)
    s = re.sub(r"[.$¢€£]([^0-9])", r" \1", s)
    s = re.sub(r"[.$¢€£]$", " ", s)
    s = re.sub(r"([^0-9])%", r"\1 ", s)
    return " ".join(s.split())


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
