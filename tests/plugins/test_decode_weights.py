"""The whisper decoder with the real base weights: what a user sees on real speech."""

from __future__ import annotations

import pytest

from speechref import JFK_REFERENCE, normalize
from mediakit_decode.script import converter

pytestmark = pytest.mark.weights


@pytest.fixture(scope="module")
def base():
    import mediakit

    return mediakit.load_model("base")


@pytest.fixture(scope="module")
def jfk_words(base, request):
    path = request.config.rootpath / "tests" / "data" / "jfk.flac"
    return base.transcribe(str(path), word_timestamps=True)  # CLI defaults: beam 5, fallback, language detected


def test_jfk_text_language_and_segments(jfk_words):
    result = jfk_words
    assert normalize(result.text) == JFK_REFERENCE
    assert result.language == "en" and result.language_probs["en"] > 0.9
    segments = result.segments
    assert [s.id for s in segments] == list(range(len(segments)))
    assert all(0.0 <= s.start < s.end <= 11.5 for s in segments)
    assert all(a.end <= b.start + 0.01 for a, b in zip(segments, segments[1:]))
    assert all(s.avg_logprob > -1.0 and s.temperature == 0.0 and s.no_speech_prob < 0.6 for s in segments)
    assert "".join(s.text for s in segments) == result.text
    assert set(result.to_dict()) == {"text", "segments", "language"}


def test_jfk_word_timestamps_place_americans(jfk_words):
    words = [w for s in jfk_words.segments for w in s.words]
    (americans,) = [w for w in words if w.word.strip(" ,").lower() == "americans"]
    assert americans.start <= 1.8 <= americans.end
    assert all(0.0 <= w.probability <= 1.0 and w.start <= w.end for w in words)
    assert all(a.start <= b.start for a, b in zip(words, words[1:]))
    assert normalize("".join(w.word for w in words)) == JFK_REFERENCE


def test_batched_mode_transcribes_jfk(base, jfk_path):
    result = base.transcribe(str(jfk_path), batch_size=4, language="en")
    assert normalize(result.text) == JFK_REFERENCE
    assert result.segments[0].start < 1.0 and result.segments[-1].end <= 11.5


def test_vad_gives_no_text_for_noise(base, shared_speech):
    result = base.transcribe(str(shared_speech / "nonspeech_noise_picovoice_empty.wav"), vad=True)
    assert result.text == "" and result.segments == ()


def test_zh_script_simplified_on_mandarin(base, shared_speech):
    path = shared_speech / "zh_aishell_BAC009S0724W0121.wav"
    result = base.transcribe(str(path), language="zh", beam_size=1, zh_script="simplified")
    assert result.language == "zh" and result.text.strip()
    assert converter("simplified")(result.text) == result.text
    assert all(converter("simplified")(s.text) == s.text for s in result.segments)
