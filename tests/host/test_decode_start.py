"""The decoder's start (language and audio to decode, before the first segment): through the pipeline for
a decoder that reports it and one written before the keyword, and through the Python API with real weights."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest

from mediakit.pipeline import decode_stream
from mediakit.records import Audio, DecodeStart, Segment, Transcript
from mediakit.testing import FakeDecoder, FakeStagesPlugin, fake_stages, make_plugin_manager


class _OldStreamingDecoder:
    """decode_stream without the ``started`` keyword: emits one segment, says French at the end."""

    def decode(self, model, features, progress=None):
        return self.decode_stream(model, features, progress)

    def decode_stream(self, model, features, progress=None, emit=None):
        segment = Segment(0, 0, 0.0, 1.0, " bonjour", (1,))
        if emit is not None:
            emit(segment)
        return Transcript(" bonjour", (segment,), "fr", 1.0, {"fr": 0.9, "en": 0.1})


def _stages(decoder):
    pm = make_plugin_manager(FakeStagesPlugin())
    return replace(fake_stages(pm), decoder=decoder)


def _audio():
    import numpy as np

    return Audio(np.zeros(16000, np.float32), 16000, "one.wav")


def test_a_decoder_without_the_keyword_still_reports_its_start_before_any_segment():
    decoder = _OldStreamingDecoder()
    events: list[object] = []
    transcript = decode_stream(_stages(decoder), _audio(), emit=events.append, started=events.append)
    assert events[0] == DecodeStart("fr", {"fr": 0.9, "en": 0.1}, 1.0, 1.0)
    assert events[0].language_probs == {"fr": 0.9, "en": 0.1}
    assert [e.text for e in events[1:]] == [" bonjour"]
    assert transcript.language == "fr"


def test_a_whole_input_decoder_reports_its_start_from_the_transcript():
    events: list[object] = []
    decode_stream(_stages(FakeDecoder()), _audio(), emit=events.append, started=events.append)
    assert isinstance(events[0], DecodeStart) and events[0].language == "en"
    assert [e.text for e in events[1:]] == [" heard one"]


@pytest.fixture(scope="module")
def base():
    import mediakit

    return mediakit.load_model("base", threads=1)


def test_the_stream_knows_the_detected_language_before_its_segments(base, jfk_path):
    stream = base.stream(str(jfk_path))
    start = stream.start(timeout=120)
    assert start.language == "en" and start.language_probs["en"] == max(start.language_probs.values()) > 0.9
    assert start.duration == pytest.approx(11.0) and start.speech == pytest.approx(11.0)
    texts = [s.text for s in stream]
    assert stream.transcript.language == "en" and "ask not what your country" in "".join(texts)


def test_a_given_language_and_clips_are_reported_as_given(base, jfk_path):
    stream = base.stream(str(jfk_path), language="de", clip_timestamps="2,6")
    start = stream.start(timeout=120)
    stream.close()
    assert (start.language, start.language_probs) == ("de", None)
    assert start.speech == pytest.approx(4.0) and start.duration == pytest.approx(11.0)


def test_detect_language_stops_before_decoding(base, jfk_path, monkeypatch):
    from mediakit_decode import decoder as decoder_module

    decoded = threading.Event()
    monkeypatch.setattr(decoder_module, "transcribe_windows", lambda *a, **k: decoded.set())
    start = base.detect_language(str(jfk_path))
    assert start.language == "en" and sum(start.language_probs.values()) == pytest.approx(1.0, abs=1e-3)
    assert not decoded.is_set()


def test_a_failed_input_raises_from_start(base, tmp_path):
    bad = tmp_path / "notes.wav"
    bad.write_text("not audio")
    stream = base.stream(str(bad))
    with pytest.raises(Exception, match="notes.wav"):
        stream.start(timeout=60)
