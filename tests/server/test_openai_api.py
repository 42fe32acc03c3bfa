"""OpenAI's audio API as the official client sees it: formats, translations, models, streaming, errors."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from serverkit import KEY, httpx, openai

pytestmark = pytest.mark.weights


@pytest.fixture(scope="module")
def reference(jfk):
    """What `mediakit transcribe` (the same pipeline, in this process) gives for jfk.flac with tiny.en."""
    import mediakit

    return mediakit.transcribe(jfk, model="tiny.en")


def _create(client, path: Path, **kwargs):
    with open(path, "rb") as f:
        return client.audio.transcriptions.create(file=f, model=kwargs.pop("model", "whisper-1"), **kwargs)


def test_json_is_the_same_text_as_mediakit_transcribe(client, jfk, reference):
    result = _create(client, jfk)
    assert result.text == reference.text.strip()
    assert result.usage.type == "duration" and result.usage.seconds == 11


@pytest.mark.parametrize("fmt", ["text", "srt", "vtt", "tsv", "txt"])
def test_text_formats(client, jfk, reference, fmt):
    body = _create(client, jfk, response_format=fmt)
    assert isinstance(body, str)
    if fmt == "text":
        assert body.strip() == reference.text.strip()
        return
    import mediakit
    from mediakit.pipeline import writer_registry
    from mediakit.plugins import load_plugins
    import io

    writer = writer_registry(load_plugins(()).pm).get(fmt).factory(mediakit.config.WriterOptions())
    expected = io.StringIO()
    writer.write(reference, expected)
    assert body == expected.getvalue()
    if fmt == "srt":
        assert body.startswith("1\n00:00:00,000 --> ")
    if fmt == "vtt":
        assert body.startswith("WEBVTT")


def test_verbose_json_has_openai_fields(client, jfk, reference):
    result = _create(client, jfk, response_format="verbose_json")
    data = result.model_dump()
    assert data["language"] == "english" and data["task"] == "transcribe"
    assert data["duration"] == pytest.approx(11.0, abs=0.05)
    assert data["text"] == reference.text.strip()
    assert len(data["segments"]) == len(reference.segments)
    first = data["segments"][0]
    for key in ("id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob",
                "compression_ratio", "no_speech_prob"):
        assert key in first, key
    assert first["text"].startswith(" ")
    assert data.get("words") is None


@pytest.mark.parametrize(
    "fields",
    [
        {"timestamp_granularities[]": ["word", "segment"]},
        {"timestamp_granularities[]": ["segment", "word"]},
        {"timestamp_granularities": ["word", "segment"]},
        {"timestamp_granularities": '["segment", "word"]'},
    ],
    ids=["brackets", "reversed", "no-brackets", "json-string"],
)
def test_word_granularity_in_every_spelling(server, jfk, fields):
    data = {"model": "whisper-1", "response_format": "verbose_json", **fields}
    with open(jfk, "rb") as f:
        response = httpx.post(server.url + "/v1/audio/transcriptions", data=data, files={"file": ("jfk.flac", f)},
                              headers={"Authorization": f"Bearer {KEY}"}, timeout=120)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["segments"] and body["words"]
    assert [w["word"] for w in body["words"]][:3] == ["And", "so,", "my"]
    assert all(w["start"] <= w["end"] for w in body["words"])


def test_words_only_through_the_client(client, jfk):
    result = _create(client, jfk, response_format="verbose_json", timestamp_granularities=["word"])
    assert result.words and result.words[-1].word.strip(".") == "country"


def test_mediakit_options_are_extra_fields(client, jfk, reference):
    result = _create(client, jfk, extra_body={"beam_size": "1", "vad": "true"})
    assert "fellow Americans" in result.text


def test_unknown_field_is_a_400_naming_it(client, jfk):
    with pytest.raises(openai.BadRequestError) as caught:
        _create(client, jfk, extra_body={"beam_sise": "1"})
    assert caught.value.body["param"] == "beam_sise"
    assert "beam_sise" in caught.value.message


def test_translation_shape(client, jfk):
    with open(jfk, "rb") as f:
        result = client.audio.translations.create(file=f, model="base", response_format="verbose_json")
    data = result.model_dump()
    assert data["language"] == "english"
    assert "ask not what your country can do for you" in data["text"]


def test_translation_of_german_with_base(client, shared_speech):
    with open(shared_speech / "de_picovoice_test_de.wav", "rb") as f:
        translated = client.audio.translations.create(file=f, model="base")
    with open(shared_speech / "de_picovoice_test_de.wav", "rb") as f:
        heard = client.audio.transcriptions.create(file=f, model="base", response_format="verbose_json")
    assert heard.language == "german"
    assert translated.text and translated.text != heard.text
    assert any(word in translated.text.lower() for word in (" the ", " is ", " and ", " of "))


def test_models(client):
    ids = [m.id for m in client.models.list().data]
    assert ids[:2] == ["tiny.en", "base"] and "whisper-1" in ids
    model = client.models.retrieve("base")
    assert model.id == "base" and model.object == "model"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("large-v9")


def test_unknown_model_is_404(client, jfk):
    with pytest.raises(openai.NotFoundError) as caught:
        _create(client, jfk, model="gpt-4o-transcribe")
    assert caught.value.body["code"] == "model_not_found"


def test_wrong_or_missing_key_is_401(server, jfk):
    wrong = openai.OpenAI(base_url=server.url + "/v1", api_key="sk-wrong", max_retries=0)
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()
    with pytest.raises(openai.AuthenticationError):
        _create(wrong, jfk)
    response = httpx.get(server.url + "/v1/models")
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_streaming_deltas_then_done(client, jfk, reference):
    with open(jfk, "rb") as f:
        stream = client.audio.transcriptions.create(file=f, model="whisper-1", stream=True)
        events = list(stream)
    kinds = [e.type for e in events]
    assert kinds[-1] == "transcript.text.done" and kinds[:-1] == ["transcript.text.delta"] * len(reference.segments)
    assert "".join(e.delta for e in events[:-1]).strip() == events[-1].text == reference.text.strip()


def test_stream_error_is_a_data_event(server, tmp_path):
    bad = tmp_path / "bad.mp3"
    bad.write_bytes(b"ID3" + bytes(range(256)) * 40)
    with open(bad, "rb") as f:
        response = httpx.post(server.url + "/v1/audio/transcriptions", data={"stream": "true"},
                              files={"file": ("bad.mp3", f)}, headers={"Authorization": f"Bearer {KEY}"}, timeout=60)
    # a file that cannot be read is found on the worker, after the stream has started: an error event
    assert response.status_code == 200
    events = [json.loads(line[6:]) for line in response.text.splitlines() if line.startswith("data: ")]
    assert set(events[-1]["error"]) == {"message", "type", "param", "code"}
    assert "bad.mp3" in events[-1]["error"]["message"]


def test_bad_file_is_400_and_reaches_the_server_once(server, tmp_path):
    patient = server.client(max_retries=2)  # the client's default: it would retry a 5xx twice
    route = "/v1/audio/transcriptions"
    before = server.metric("mediakit_requests_total", method="POST", route=route, status="400")
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt " + b"\x00" * 2000)
    with pytest.raises(openai.BadRequestError) as caught:
        _create(patient, bad)
    assert caught.value.body["param"] == "file"
    assert "broken.wav" in caught.value.message and "/tmp" not in caught.value.message
    after = server.metric("mediakit_requests_total", method="POST", route=route, status="400")
    assert after - before == 1


def test_empty_media_is_400(client, tmp_path, shared_speech):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(openai.BadRequestError):
        _create(client, empty)
    with pytest.raises(openai.BadRequestError) as caught:
        _create(client, shared_speech / "nonspeech_zero_samples.wav")
    assert "no audio" in caught.value.message


def test_oversize_upload_is_413(server, client, tmp_path):
    big = tmp_path / "big.wav"
    big.write_bytes(b"\x00" * (3 * 1024 * 1024))
    with pytest.raises(openai.APIStatusError) as caught:
        _create(client, big)
    assert caught.value.status_code == 413
    assert set(caught.value.body) == {"message", "type", "param", "code"}


def test_concurrent_requests_give_the_sequential_text(client, jfk, reference):
    results: list[str] = []

    def one() -> None:
        results.append(_create(client, jfk).text)

    threads = [threading.Thread(target=one) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert results == [reference.text.strip()] * 3


def test_operations_and_offline_docs(server):
    assert httpx.get(server.url + "/health").json() == {"status": "ok"}
    assert httpx.get(server.url + "/ready").json()["models"] == ["tiny.en", "base"]
    metrics = server.metrics()
    for name in ("mediakit_requests_total", "mediakit_queue_depth", "mediakit_requests_in_flight",
                 "mediakit_audio_seconds_total", "mediakit_real_time_factor", "mediakit_model_load_seconds"):
        assert f"# TYPE {name} " in metrics
    docs = httpx.get(server.url + "/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs.lower()
    assert httpx.get(server.url + "/docs-assets/swagger-ui-bundle.js").status_code == 200
    schema = httpx.get(server.url + "/openapi.json").json()
    assert "/v1/audio/transcriptions" in schema["paths"]
    assert "POST /v1/audio/transcriptions" in server.log.read_text()  # the access log


def test_no_temporary_file_left_behind(server):
    # runs after the module's requests: good, bad, oversize, streamed
    assert server.leftovers() == []
