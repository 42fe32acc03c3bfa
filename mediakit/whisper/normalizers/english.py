"""openai-whisper's ``whisper.normalizers.english``: the English text normalizer used to score Whisper's WER.

``EnglishTextNormalizer`` lower-cases, drops bracketed words and fillers, expands contractions and titles,
writes spelled-out numbers as digits (``EnglishNumberNormalizer``) and British spellings as American ones
(``EnglishSpellingNormalizer``). Its output is openai-whisper's, word for word, quirks included
(``"nine"`` + ``"th"`` is the ordinal it knows; a lone ``"o"`` reads as ``0``).
"""

from __future__ import annotations

import json
import re
from fractions import Fraction
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple, Union

from .basic import drop_bracketed, remove_symbols_and_diacritics

Value = Union[int, str]

# --- the number words ---------------------------------------------------------------------------------------

_ZEROS = ("o", "oh", "zero")
_ONES_NAMES = (
    "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten", "eleven", "twelve",
    "thirteen", "fourteen", "fifteen", "sixteen", "seventeen", "eighteen", "nineteen",
)  # fmt: skip
_TENS_NAMES = ("twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety")
_MULTIPLIER_NAMES = (
    "hundred", "thousand", "million", "billion", "trillion", "quadrillion", "quintillion", "sextillion",
    "septillion", "octillion", "nonillion", "decillion",
)  # fmt: skip
#: Ordinals not made by adding "th" (or "h" after a final "t") to the cardinal.
_IRREGULAR_ORDINALS = {
    "zeroth": (0, "th"), "first": (1, "st"), "second": (2, "nd"), "third": (3, "rd"), "fifth": (5, "th"),
    "twelfth": (12, "th"),
}  # fmt: skip


def _ones_plural(name: str) -> str:
    return "sixes" if name == "six" else name + "s"


def _ones_ordinal(name: str) -> str:
    return name + ("h" if name.endswith("t") else "th")  # eighth; also "nineth", as openai-whisper has it


_NUMERAL = re.compile(r"\d+(?:\.\d+)?$")  # 12, 3.25 (matched from the word's start)
_AND_A_HALF = re.compile(r"\band\s+a\s+half\b")


def _is_numeral(word: Optional[str]) -> bool:
    return word is not None and _NUMERAL.match(word) is not None


def _fraction(value: Value) -> Optional[Fraction]:
    try:
        return Fraction(value)
    except ValueError:
        return None


def _scaled(value: Value, multiplier: int) -> Optional[int]:
    """``value`` times ``multiplier`` when that is a whole number ("1.5" thousand -> 1500), else None."""
    f = _fraction(value)
    if f is None:
        return None
    product = f * multiplier
    return product.numerator if product.denominator == 1 else None


def _times(value: int, multiplier: int) -> int:
    """Apply a multiplier to the last group of three digits: 2001 x million -> 2000000, 3 x hundred -> 300."""
    return value // 1000 * 1000 + value % 1000 * multiplier


class _Reading:
    """The number read so far (an int, or a digit string once digits are written side by side) and a pending
    sign or currency symbol. ``emit`` writes a word with the pending symbol and forgets both."""

    def __init__(self) -> None:
        self.value: Optional[Value] = None
        self.prefix: Optional[str] = None
        self.skip_next = False  # the next word was consumed with this one ("per cent", "double five")

    def emit(self, word: Value) -> str:
        text = str(word) if self.prefix is None else self.prefix + str(word)
        self.value = None
        self.prefix = None
        return text

    def flush(self) -> List[str]:
        """The number read so far, written out (nothing when there is none)."""
        return [] if self.value is None else [self.emit(self.value)]


class EnglishNumberNormalizer:
    """Spelled-out English numbers as digits: ``"twenty five"`` -> ``"25"``, ``"one oh one"`` -> ``"101"``,
    ``"$20 million"`` -> ``"$20000000"``, ``"fifth"`` -> ``"5th"``, ``"two and a half"`` -> ``"2.5"``,
    ``"five per cent"`` -> ``"5%"``. Commas in numbers go, suffixes stay (``1960s``, ``32nd``), currency words
    become symbols in front, and a lone ``1`` is written ``one``."""

    def __init__(self) -> None:
        self.zeros = set(_ZEROS)
        self.ones = {name: i for i, name in enumerate(_ONES_NAMES, start=1)}
        self.ones_plural = {_ones_plural(name): (value, "s") for name, value in self.ones.items()}
        irregular = {value for value, _ in _IRREGULAR_ORDINALS.values()}
        self.ones_ordinal = {
            **_IRREGULAR_ORDINALS,
            **{_ones_ordinal(name): (value, "th") for name, value in self.ones.items() if value not in irregular},
        }
        self.ones_suffixed = {**self.ones_plural, **self.ones_ordinal}
        self.tens = {name: 10 * i for i, name in enumerate(_TENS_NAMES, start=2)}
        self.tens_plural = {name[:-1] + "ies": (value, "s") for name, value in self.tens.items()}
        self.tens_ordinal = {name[:-1] + "ieth": (value, "th") for name, value in self.tens.items()}
        self.tens_suffixed = {**self.tens_plural, **self.tens_ordinal}
        self.multipliers = {"hundred": 100, **{name: 1000**i for i, name in enumerate(_MULTIPLIER_NAMES[1:], 1)}}
        self.multipliers_plural = {name + "s": (value, "s") for name, value in self.multipliers.items()}
        self.multipliers_ordinal = {name + "th": (value, "th") for name, value in self.multipliers.items()}
        self.multipliers_suffixed = {**self.multipliers_plural, **self.multipliers_ordinal}
        self.decimals = {*self.ones, *self.tens, *self.zeros}
        # signs before a number, currencies after it (written before it), percent after it
        self.preceding_prefixers = {"minus": "-", "negative": "-", "plus": "+", "positive": "+"}
        self.following_prefixers = {
            "pound": "£", "pounds": "£", "euro": "€", "euros": "€", "dollar": "$", "dollars": "$",
            "cent": "¢", "cents": "¢",
        }  # fmt: skip
        self.prefixes = {*self.preceding_prefixers.values(), *self.following_prefixers.values()}
        self.suffixers: Dict[str, Union[str, Dict[str, str]]] = {"per": {"cent": "%"}, "percent": "%"}
        self.specials = {"and", "double", "triple", "point"}
        self.literal_words = {"one", "ones"}

        handlers = (
            (self.zeros, self._zero),
            (self.ones, self._one),
            (self.ones_suffixed, self._one_suffixed),
            (self.tens, self._ten),
            (self.tens_suffixed, self._ten_suffixed),
            (self.multipliers, self._multiplier),
            (self.multipliers_suffixed, self._multiplier_suffixed),
            (self.preceding_prefixers, self._sign),
            (self.following_prefixers, self._currency),
            (self.suffixers, self._percent),
            (self.specials, self._special),
        )
        self._handlers = {word: handler for words, handler in handlers for word in words}
        self.words = set(self._handlers)

    # --- combining a number word with the number read so far ------------------------------------------------

    def _joined(self, value: Optional[Value], n: int, prev: Optional[str], units: bool) -> Value:
        """The reading after the word for ``n`` (1-19 when ``units``, else a multiple of ten): added when it
        fills a zero place (``twenty`` + ``five``), else written after it (``nineteen`` ``ninety`` -> 1990)."""
        if value is None:
            return n
        if isinstance(value, str) or (units and prev in self.ones):
            if units and prev in self.tens and n < 10:  # "one twenty five": the 0 of "120" becomes the 5
                return value[:-1] + str(n)
            return f"{value}{n}"
        place = 10 if n < 10 else 100
        return value + n if value % place == 0 else f"{value}{n}"

    def _zero(self, r: _Reading, prev, word, nxt) -> List[str]:
        r.value = str(r.value or "") + "0"
        return []

    def _one(self, r: _Reading, prev, word, nxt) -> List[str]:
        r.value = self._joined(r.value, self.ones[word], prev, units=True)
        return []

    def _one_suffixed(self, r: _Reading, prev, word, nxt) -> List[str]:
        n, suffix = self.ones_suffixed[word]
        return [r.emit(f"{self._joined(r.value, n, prev, units=True)}{suffix}")]

    def _ten(self, r: _Reading, prev, word, nxt) -> List[str]:
        r.value = self._joined(r.value, self.tens[word], prev, units=False)
        return []

    def _ten_suffixed(self, r: _Reading, prev, word, nxt) -> List[str]:
        n, suffix = self.tens_suffixed[word]
        return [r.emit(f"{self._joined(r.value, n, prev, units=False)}{suffix}")]

    def _multiplier(self, r: _Reading, prev, word, nxt) -> List[str]:
        m = self.multipliers[word]
        value = r.value
        if value is None:
            r.value = m
        elif isinstance(value, str) or value == 0:
            scaled = _scaled(value, m)
            if scaled is None:  # not a whole number: the reading so far stands alone
                out = [r.emit(value)]
                r.value = m
                return out
            r.value = scaled
        else:
            r.value = _times(value, m)
        return []

    def _multiplier_suffixed(self, r: _Reading, prev, word, nxt) -> List[str]:
        m, suffix = self.multipliers_suffixed[word]
        value = r.value
        if value is None:
            return [r.emit(f"{m}{suffix}")]
        if isinstance(value, str):
            scaled = _scaled(value, m)
            if scaled is None:
                return [r.emit(value), r.emit(f"{m}{suffix}")]
            return [r.emit(f"{scaled}{suffix}")]
        return [r.emit(f"{_times(value, m)}{suffix}")]

    def _sign(self, r: _Reading, prev, word, nxt) -> List[str]:
        out = r.flush()
        if nxt in self.words or _is_numeral(nxt):
            r.prefix = self.preceding_prefixers[word]
        else:
            out.append(r.emit(word))
        return out

    def _currency(self, r: _Reading, prev, word, nxt) -> List[str]:
        if r.value is None:
            return [r.emit(word)]
        r.prefix = self.following_prefixers[word]
        return [r.emit(r.value)]

    def _percent(self, r: _Reading, prev, word, nxt) -> List[str]:
        if r.value is None:
            return [r.emit(word)]
        suffix = self.suffixers[word]
        if isinstance(suffix, str):
            return [r.emit(f"{r.value}{suffix}")]
        if nxt in suffix:  # "per cent"
            r.skip_next = True
            return [r.emit(f"{r.value}{suffix[nxt]}")]
        return [r.emit(r.value), r.emit(word)]

    def _special(self, r: _Reading, prev, word, nxt) -> List[str]:
        if nxt not in self.words and not _is_numeral(nxt):  # no number follows: an ordinary word
            return [*r.flush(), r.emit(word)]
        if word == "and":
            return [] if prev in self.multipliers else [*r.flush(), r.emit(word)]  # "hundred and five"
        if word in ("double", "triple"):
            if nxt in self.ones or nxt in self.zeros:
                repeats = 2 if word == "double" else 3
                r.value = str(r.value or "") + str(self.ones.get(nxt, 0)) * repeats
                r.skip_next = True
                return []
            return [*r.flush(), r.emit(word)]
        if nxt in self.decimals or _is_numeral(nxt):  # "point": a decimal point
            r.value = str(r.value or "") + "."
        return []

    def _numeral(self, r: _Reading, word: str, digits: str, signed: bool) -> List[str]:
        out: List[str] = []
        if r.value is not None:
            if isinstance(r.value, str) and r.value.endswith("."):  # "3 point 14", an IP address
                r.value += word
                return out
            out = [r.emit(r.value)]
        if signed:
            r.prefix = word[0]
        f = Fraction(digits)
        r.value = f.numerator if f.denominator == 1 else digits  # integers as int, decimals as written
        return out

    # --- the three passes ---------------------------------------------------------------------------------

    def process_words(self, words: List[str]) -> Iterator[str]:
        """The words with each run of number words written as one number."""
        if not words:
            return
        r = _Reading()
        padded = [None, *words, None]
        for prev, word, nxt in zip(padded, padded[1:], padded[2:]):
            if r.skip_next:
                r.skip_next = False
                continue
            signed = word[0] in self.prefixes
            digits = word[1:] if signed else word
            handler = self._handlers.get(word)
            if _NUMERAL.match(digits):
                yield from self._numeral(r, word, digits, signed)
            elif handler is None:
                yield from r.flush()
                yield r.emit(word)
            else:
                yield from handler(r, prev, word, nxt)
        yield from r.flush()

    def preprocess(self, s: str) -> str:
        """``"<number> and a half"`` as ``"<number> point five"``; digits split from letters except a suffix."""
        parts = _AND_A_HALF.split(s)
        kept = []
        for i, part in enumerate(parts):
            if not part.strip():
                continue
            kept.append(part)
            if i < len(parts) - 1:
                last = part.split()[-1]
                kept.append("point five" if last in self.decimals or last in self.multipliers else "and a half")
        s = " ".join(kept)
        s = re.sub(r"([a-z])([0-9])", r"\1 \2", s)
        s = re.sub(r"([0-9])([a-z])", r"\1 \2", s)
        return re.sub(r"([0-9])\s+(st|nd|rd|th|s)\b", r"\1\2", s)

    def postprocess(self, s: str) -> str:
        """``"$2 and ¢7"`` -> ``"$2.07"``, ``"$0.07"`` -> ``"¢7"``, and ``1``/``1s`` written as ``one``/``ones``."""

        def dollars_and_cents(m: re.Match) -> str:
            return f"{m.group(1)}{m.group(2)}.{int(m.group(3)):02d}"

        s = re.sub(r"([€£$])([0-9]+) (?:and )?¢([0-9]{1,2})\b", dollars_and_cents, s)
        s = re.sub(r"[€£$]0.([0-9]{1,2})\b", lambda m: f"¢{int(m.group(1))}", s)
        return re.sub(r"\b1(s?)\b", r"one\1", s)

    def __call__(self, s: str) -> str:
        s = self.preprocess(s)
        s = " ".join(self.process_words(s.split()))
        return self.postprocess(s)


class EnglishSpellingNormalizer:
    """British spellings as American ones, word by word (``colour`` -> ``color``).

    The table (``english.json``, 1,739 words) is openai-whisper's (MIT), built from the UK/US spelling list
    at https://www.tysto.com/uk-us-spelling-list.html.
    """

    def __init__(self) -> None:
        path = Path(__file__).with_name("english.json")
        with path.open(encoding="utf-8") as f:
            self.mapping: Dict[str, str] = json.load(f)

    def __call__(self, s: str) -> str:
        return " ".join(self.mapping.get(word, word) for word in s.split())


#: Contractions, slang and abbreviated titles, in the order they are replaced (regex -> text).
_REPLACEMENTS: Tuple[Tuple[str, str], ...] = (
    (r"\bwon't\b", "will not"), (r"\bcan't\b", "can not"), (r"\blet's\b", "let us"), (r"\bain't\b", "aint"),
    (r"\by'all\b", "you all"), (r"\bwanna\b", "want to"), (r"\bgotta\b", "got to"), (r"\bgonna\b", "going to"),
    (r"\bi'ma\b", "i am going to"), (r"\bimma\b", "i am going to"), (r"\bwoulda\b", "would have"),
    (r"\bcoulda\b", "could have"), (r"\bshoulda\b", "should have"), (r"\bma'am\b", "madam"),
    # titles (the period has not been removed yet: "mr." -> "mister .")
    (r"\bmr\b", "mister "), (r"\bmrs\b", "missus "), (r"\bst\b", "saint "), (r"\bdr\b", "doctor "),
    (r"\bprof\b", "professor "), (r"\bcapt\b", "captain "), (r"\bgov\b", "governor "), (r"\bald\b", "alderman "),
    (r"\bgen\b", "general "), (r"\bsen\b", "senator "), (r"\brep\b", "representative "),
    (r"\bpres\b", "president "), (r"\brev\b", "reverend "), (r"\bhon\b", "honorable "),
    (r"\basst\b", "assistant "), (r"\bassoc\b", "associate "), (r"\blt\b", "lieutenant "),
    (r"\bcol\b", "colonel "), (r"\bjr\b", "junior "), (r"\bsr\b", "senior "), (r"\besq\b", "esquire "),
    # perfect tenses with a participle that tells "had"/"has" from "would"/"is" ("'s done" is ambiguous)
    (r"'d been\b", " had been"), (r"'s been\b", " has been"), (r"'d gone\b", " had gone"),
    (r"'s gone\b", " has gone"), (r"'d done\b", " had done"), (r"'s got\b", " has got"),
    # the other contractions
    (r"n't\b", " not"), (r"'re\b", " are"), (r"'s\b", " is"), (r"'d\b", " would"), (r"'ll\b", " will"),
    (r"'t\b", " not"), (r"'ve\b", " have"), (r"'m\b", " am"),
)  # fmt: skip


class EnglishTextNormalizer:
    """openai-whisper's English normalizer for WER: ``"Mr. Smith paid $20 million, didn't he?"`` ->
    ``"mister smith paid $20000000 did not he"``.

    Lower case; no bracketed words or fillers (hmm, mm, mhm, mmm, uh, um); contractions and titles expanded;
    numbers as digits with their currency and percent symbols; American spellings; other symbols and
    punctuation as spaces; single spaces.
    """

    def __init__(self) -> None:
        self.ignore_patterns = r"\b(hmm|mm|mhm|mmm|uh|um)\b"
        self.replacers: Dict[str, str] = dict(_REPLACEMENTS)
        self.standardize_numbers = EnglishNumberNormalizer()
        self.standardize_spellings = EnglishSpellingNormalizer()

    def __call__(self, s: str) -> str:
        s = drop_bracketed(s.lower())
        s = re.sub(self.ignore_patterns, "", s)
        s = re.sub(r"\s+'", "'", s)  # "don 't" -> "don't"
        for pattern, replacement in self.replacers.items():
            s = re.sub(pattern, replacement, s)
        s = re.sub(r"(\d),(\d)", r"\1\2", s)  # 1,000 -> 1000
        s = re.sub(r"\.([^0-9]|$)", r" \1", s)  # a period not followed by a digit
        s = remove_symbols_and_diacritics(s, keep=".%$¢€£")  # the symbols numbers use stay
        s = self.standardize_numbers(s)
        s = self.standardize_spellings(s)
        s = re.sub(r"[.$¢€£]([^0-9])", r" \1", s)  # symbols left without a number
        s = re.sub(r"([^0-9])%", r"\1 ", s)
        return re.sub(r"\s+", " ", s)
