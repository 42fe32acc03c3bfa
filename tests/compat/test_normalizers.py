"""``mediakit.whisper.normalizers``: the WER normalizers, as scripts that score Whisper's output call them, and
word for word against openai-whisper's where it is installed."""

from __future__ import annotations

import csv
import itertools

import pytest

from mediakit.whisper.normalizers import BasicTextNormalizer, EnglishTextNormalizer
from mediakit.whisper.normalizers.basic import remove_symbols, remove_symbols_and_diacritics
from mediakit.whisper.normalizers.english import EnglishNumberNormalizer, EnglishSpellingNormalizer


@pytest.fixture(scope="module")
def english():
    return EnglishTextNormalizer()


@pytest.mark.parametrize(
    "text, expected",
    [
        ("twenty five", "25"),
        ("Mr. Smith went to Washington.", "mister smith went to washington"),
        ("It costs twenty dollars and fifty cents", "it costs $20.50"),
        ("nineteen eighty four", "1984"),
        ("the twenty first century", "the 21st century"),
        ("one hundred and five percent", "105%"),
        ("I won't go, she's been there", "i will not go she has been there"),
        ("[MUSIC] Um, the colour of the theatre (laughs)", "the color of the theater"),
        ("1,000,000 people", "1000000 people"),
        ("two and a half million", "2500000"),
        ("call nine one one", "call 911"),
        ("Dr. Who's café", "doctor who is cafe"),
    ],
)  # fmt: skip
def test_english_normalizer_as_wer_scripts_use_it(english, text, expected):
    assert english(text) == expected


def test_two_spellings_of_one_transcript_normalize_alike(english):
    hypothesis = "Mr. Quilter is the apostle of the middle classes, and we're glad to welcome his gospel."
    reference = "MISTER QUILTER IS THE APOSTLE OF THE MIDDLE CLASSES AND WE ARE GLAD TO WELCOME HIS GOSPEL"
    assert english(hypothesis) == english(reference)


def test_number_and_spelling_normalizers_alone():
    numbers = EnglishNumberNormalizer()
    assert numbers("three point one four") == "3.14"
    assert numbers("minus forty") == "-40"
    assert numbers("the nineteen sixties") == "the 1960s"
    assert numbers("one") == "one"  # a lone 1 stays a word
    spelling = EnglishSpellingNormalizer()
    assert spelling("the organisation's colour") == "the organisation's color"  # whole words only
    assert spelling("organisation colour") == "organization color"


def test_basic_normalizer_keeps_letters_of_every_script():
    assert BasicTextNormalizer()("Ça va, Señor? <unk> ¡Sí!") == "ça va señor sí "
    assert BasicTextNormalizer(remove_diacritics=True)("Ça va, Señor? Straße") == "ca va senor strasse"
    assert BasicTextNormalizer(split_letters=True)("你好，世界") == "你 好 世 界"
    assert remove_symbols("a+b=c") == "a b c"
    assert remove_symbols_and_diacritics("5% of €3", keep="%€") == "5% of €3"


# --- against openai-whisper ---------------------------------------------------------------------------------

#: Strings that reach each branch of the number reader and the text rules (not only numbers that read well).
_NUMBERS = [
    "two", "thirty one", "five twenty four", "twenty nineteen", "two point five million", "four point two billions",
    "200 thousand dollars", "€52.4 million", "£77 thousands", "two double o eight", "forty three thousand two hundred "
    "and sixty", "thirty three thousand and three hundred and thirty third", "millions", "july third twenty twenty",
    "3 14", "3 point 14", "fourteen point 4", "two point two five dollars", "seventy six per cent", "per cent",
    "one triple oh one", "thirty two thousandth", "minus 500", "positive twenty thousand", "minus dollars",
    "two dollars and seventy cents", "$0.36", "three euros and sixty five cents", "forty eight and a half dollars",
    "and a half", "a dozen and a half eggs", "b747", "10 th", "1960s", "nineteen twelfth", "sixes and sevens",
    "the ninth and nineth", "twenty twenties", "0 point 5", "zero zero seven", "oh one", "double trouble",
    "point blank", "hundred and", "one two three four", "192.168 point 1 point 1", "1.5 thousand", "2.0 million",
    "1.2.3 million", "fifty fifty", "1s and 0s", "ones", "nine hundred ninety nine thousand nine hundred ninety nine",
    "a hundred and one dalmatians", "five thousand hundreds", "sixteenth", "seventieth", "one hundredth",
    "¢5", "$ 5", "5$", "twenty-five", "1/2", "½", "3½ inches", "², x²", "١٢٣", "2nd 3rd 4th", "£2 and ¢7",
]  # fmt: skip
_TEXT = [
    "Mr. and Mrs. Smith", "St. Louis", "Gen. Lt. Col. Capt. Sen. Rep. Pres. Rev. Hon. Asst. Esq. Sr.", "ma'am",
    "y'all gonna wanna", "I'ma go, imma go", "he'd been, he'd gone, he'd done it", "it's got to", "don 't",
    "they're, we'll, I've, I'm, can't, ain't", "hmm mm mhm mmm uh um umm", "<laugh> [noise] (applause) {x}",
    "(unclosed", "colour favourite theatre analyse travelling", "naïve façade Æsir Øresund ßtraße łódź",
    "U.S.A. e.g. i.e.", "3.5% of $1,200", "...", "", "   ", "rock 'n' roll", "\u201cquoted\u201d \u2014 dash",
]  # fmt: skip


def _references(shared_speech):
    with open(shared_speech / "manifest.tsv", encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    return [row["reference"] for row in rows if row["reference"] != "-"]


@pytest.fixture(scope="module")
def openai_normalizers():
    openai = pytest.importorskip("whisper.normalizers", reason="openai-whisper is not installed (optional)")
    return openai


def _crafted() -> list:
    texts = _NUMBERS + _TEXT
    texts += [" ".join(pair) for pair in itertools.product(_NUMBERS[:20], ["dollars", "percent", "point five", "th"])]
    british = list(EnglishSpellingNormalizer().mapping)
    texts += [" ".join(british[i : i + 8]).title() + "." for i in range(0, len(british), 40)]  # a fifth of the table
    return texts


def _same_as_openai(openai_normalizers, texts) -> None:
    from whisper.normalizers.english import EnglishNumberNormalizer as TheirNumbers

    english, theirs = EnglishTextNormalizer(), openai_normalizers.EnglishTextNormalizer()
    our_numbers, their_numbers = EnglishNumberNormalizer(), TheirNumbers()
    for options in [(False, False), (True, False), (False, True)]:
        basic, their_basic = BasicTextNormalizer(*options), openai_normalizers.BasicTextNormalizer(*options)
        for text in texts:
            assert basic(text) == their_basic(text), (options, text)
    for text in texts:
        assert english(text) == theirs(text), text
        assert our_numbers(text.lower()) == their_numbers(text.lower()), text


def test_normalizers_match_openai_on_every_rule(openai_normalizers):
    _same_as_openai(openai_normalizers, _crafted())


def test_normalizers_match_openai_on_the_shared_references(openai_normalizers, shared_speech):
    references = _references(shared_speech)
    assert len(references) >= 15  # English, Chinese, French, German, Japanese, Spanish, Russian, Swedish
    _same_as_openai(openai_normalizers, references)
