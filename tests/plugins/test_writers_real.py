"""Files written for real transcripts (Whisper base, word timestamps) read back with independent readers."""

from __future__ import annotations

import io
import json

import pytest
import srt
import webvtt

from mediakit.config import WriterOptions
from mediakit.records import Transcript
from mediakit_writers import JsonWriter, SrtWriter, TsvWriter, TxtWriter, VttWriter

pytestmark = pytest.mark.weights

ZH_CLIP = "zh_aishell_BAC009S0724W0121.wav"  # 广州市房地产中介协会分析


@pytest.fixture(scope="module")
def base_model():
    import mediakit

    return mediakit.load_model("base", device="cpu")


@pytest.fixture(scope="module")
def jfk_transcript(base_model, request) -> Transcript:
    path = request.config.rootpath / "tests" / "data" / "jfk.flac"
    return base_model.transcribe(str(path), language="en", word_timestamps=True, beam_size=1)


def render(writer_class, transcript: Transcript, **options) -> str:
    stream = io.StringIO()
    writer_class(WriterOptions(**options)).write(transcript, stream)
    return stream.getvalue()


def spoken(text: str) -> str:
    return " ".join(text.replace("<u>", "").replace("</u>", "").split())


@pytest.mark.parametrize(
    "options",
    [{}, {"max_line_width": 42, "max_line_count": 2}, {"max_words_per_line": 4}, {"highlight_words": True}],
    ids=["segments", "width-count", "words-per-line", "highlight"],
)
def test_real_subtitles_parse_with_srt_and_webvtt_readers(jfk_transcript, options):
    assert jfk_transcript.segments and jfk_transcript.segments[0].words
    srt_cues = list(srt.parse(render(SrtWriter, jfk_transcript, **options)))
    vtt_cues = list(webvtt.from_string(render(VttWriter, jfk_transcript, **options)))
    assert len(srt_cues) == len(vtt_cues) > 0
    for s, v in zip(srt_cues, vtt_cues):
        assert s.content == v.raw_text  # raw_text: with the <u> tags that .text strips
        assert abs(s.start.total_seconds() - v.start_in_seconds) < 1  # same cue times in both files
        assert s.start <= s.end
    if not options.get("highlight_words"):
        said = " ".join(spoken(c.content) for c in srt_cues)
        assert said == spoken("".join(w.word for s in jfk_transcript.segments for w in s.words))
    if "max_line_width" in options:
        assert all(len(line) <= 42 for c in srt_cues for line in c.content.split("\n"))


def test_real_json_round_trips_and_tsv_txt_have_one_row_per_segment(jfk_transcript):
    data = json.loads(render(JsonWriter, jfk_transcript))
    back = Transcript.from_dict(data)
    assert (back.text, back.segments, back.language) == (jfk_transcript.text, jfk_transcript.segments, "en")
    rows = render(TsvWriter, jfk_transcript).splitlines()
    assert rows[0] == "start\tend\ttext" and len(rows) == len(jfk_transcript.segments) + 1
    assert all(len(row.split("\t")) == 3 for row in rows)
    assert len(render(TxtWriter, jfk_transcript).splitlines()) == len(jfk_transcript.segments)


_ZH_CACHE: dict[str, Transcript] = {}


@pytest.fixture
def zh_transcript(base_model, shared_speech) -> Transcript:
    if ZH_CLIP not in _ZH_CACHE:  # decoded once for both widths
        path = shared_speech / ZH_CLIP
        _ZH_CACHE[ZH_CLIP] = base_model.transcribe(str(path), language="zh", word_timestamps=True, beam_size=1)
    return _ZH_CACHE[ZH_CLIP]


@pytest.mark.shared
@pytest.mark.parametrize("width", [16, 5])
def test_real_chinese_subtitles_wrap_within_the_line_width(zh_transcript, width):
    for writer_class in (SrtWriter, VttWriter):
        text = render(writer_class, zh_transcript, max_line_width=width, max_line_count=2)
        cues = [c.content for c in srt.parse(text)] if writer_class is SrtWriter else [c.text for c in webvtt.from_string(text)]
        lines = [line for cue in cues for line in cue.split("\n")]
        assert lines and all(len(line) <= width for line in lines)
        assert "".join("".join(lines).split()) == "".join(zh_transcript.text.split())
        if width == 5:
            assert len(lines) >= 3  # 12 characters cannot fit in fewer 5-character lines
