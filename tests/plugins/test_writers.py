"""The built-in writers: exact files for a fixed transcript, and files other tools can read back."""

from __future__ import annotations

import io
import json
import subprocess
import sys

import pytest
import srt
import webvtt

import mediakit_writers.plugin
from mediakit import hookimpl
from mediakit.config import WriterOptions
from mediakit.records import Segment, Transcript, Word
from mediakit.testing import make_plugin_manager, render_writer
from mediakit_writers import JsonWriter, SrtWriter, TsvWriter, TxtWriter, VttWriter

WRITERS = {"txt": TxtWriter, "vtt": VttWriter, "srt": SrtWriter, "tsv": TsvWriter, "json": JsonWriter}


def words(*items: tuple[float, float, str]) -> tuple[Word, ...]:
    return tuple(Word(start, end, text, 0.9) for start, end, text in items)


def transcript(*segments: Segment, language: str = "en") -> Transcript:
    return Transcript("".join(s.text for s in segments), segments, language, duration=segments[-1].end if segments else 0.0)


def segment(index: int, start: float, end: float, text: str, word_list: tuple[Word, ...] | None = None) -> Segment:
    return Segment(index, 0, start, end, text, (50364, 400, 50514), 0.0, -0.25, 1.3, 0.01, word_list)


# Two segments with word timings; "not" (3.4 s) and "what" (7.0 s) are 3.6 s apart: a long pause.
JFK = transcript(
    segment(
        0, 0.0, 2.9, " And so, my fellow Americans,",
        words((0.0, 0.4, " And"), (0.4, 0.8, " so,"), (1.0, 1.2, " my"), (1.2, 1.6, " fellow"), (1.6, 2.9, " Americans,")),
    ),
    segment(
        1, 3.0, 8.2, " ask not what your country can do for you.",
        words(
            (3.1, 3.4, " ask"), (3.4, 3.8, " not"), (7.0, 7.2, " what"), (7.2, 7.4, " your"), (7.4, 7.8, " country"),
            (7.8, 7.9, " can"), (7.9, 8.0, " do"), (8.0, 8.1, " for"), (8.1, 8.2, " you."),
        ),
    ),
)
JFK_NO_WORDS = transcript(*(segment(s.id, s.start, s.end, s.text) for s in JFK.segments))


def write(name: str, result: Transcript, **options) -> str:
    stream = io.StringIO()
    WRITERS[name](WriterOptions(**options)).write(result, stream)
    return stream.getvalue()


# -- registration --------------------------------------------------------------------------------


def test_plugin_registers_the_five_formats_with_matching_extensions():
    pm = make_plugin_manager(mediakit_writers.plugin, builtins=False)
    registered = {}
    pm.hook.mediakit_register_writers(register=lambda name, factory: registered.setdefault(name, factory))
    assert sorted(registered) == ["json", "srt", "tsv", "txt", "vtt"]
    for name, factory in registered.items():
        assert factory(WriterOptions()).extension == name
    assert render_writer(pm, "srt", JFK) == write("srt", JFK)


class PlainSrt:
    """A third-party plugin that replaces the built-in srt format (as docs/writing-plugins.md shows)."""

    class Writer:
        extension = "srt"

        def __init__(self, options):
            pass

        def write(self, transcript, stream):
            stream.write("replaced\n")

    @hookimpl
    def mediakit_register_writers(self, register):
        register("srt", self.Writer)


def test_an_installed_plugin_replaces_a_built_in_format_of_the_same_name():
    pm = make_plugin_manager(PlainSrt())  # the installed built-ins, then this plugin
    assert render_writer(pm, "srt", JFK) == "replaced\n"
    assert render_writer(pm, "vtt", JFK) == write("vtt", JFK)


def test_plugin_module_does_not_import_torch():
    code = "import sys, mediakit_writers.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code]).returncode == 0


# -- the five formats, as openai-whisper writes them ----------------------------------------------


def test_txt_is_one_stripped_segment_per_line():
    assert write("txt", JFK) == "And so, my fellow Americans,\nask not what your country can do for you.\n"


def test_tsv_has_a_header_and_integer_milliseconds():
    assert write("tsv", JFK) == (
        "start\tend\ttext\n"
        "0\t2900\tAnd so, my fellow Americans,\n"
        "3000\t8200\task not what your country can do for you.\n"
    )


def test_srt_with_words_makes_one_cue_per_segment_timed_by_its_words():
    assert write("srt", JFK) == (
        "1\n00:00:00,000 --> 00:00:02,900\nAnd so, my fellow Americans,\n\n"
        "2\n00:00:03,100 --> 00:00:08,200\nask not what your country can do for you.\n\n"
    )


def test_vtt_without_words_uses_segment_times():
    assert write("vtt", JFK_NO_WORDS) == (
        "WEBVTT\n\n"
        "00:00.000 --> 00:02.900\nAnd so, my fellow Americans,\n\n"
        "00:03.000 --> 00:08.200\nask not what your country can do for you.\n\n"
    )


def test_json_is_the_transcript_dict_and_reads_back_to_the_same_transcript():
    text = write("json", JFK)
    assert json.loads(text) == JFK.to_dict()
    assert Transcript.from_dict(json.loads(text)) == JFK
    assert list(json.loads(text)["segments"][0]) == [
        "id", "seek", "start", "end", "text", "tokens", "temperature", "avg_logprob", "compression_ratio",
        "no_speech_prob", "words",
    ]


def test_json_escapes_non_ascii_like_openai_whisper_and_omits_words_when_absent():
    result = transcript(segment(0, 0.0, 1.0, " Café 你好"))
    text = write("json", result)
    assert text.isascii() and "Caf\\u00e9 \\u4f60\\u597d" in text and not text.endswith("\n")
    assert "words" not in json.loads(text)["segments"][0]
    assert Transcript.from_dict(json.loads(text)) == result


# -- subtitle layout ------------------------------------------------------------------------------


def test_line_width_and_count_wrap_lines_and_a_long_pause_starts_a_cue():
    assert write("srt", JFK, max_line_width=12, max_line_count=2) == (
        "1\n00:00:00,000 --> 00:00:01,600\nAnd so, my\nfellow\n\n"
        "2\n00:00:01,600 --> 00:00:03,800\nAmericans,\nask not\n\n"
        "3\n00:00:07,000 --> 00:00:07,900\nwhat your\ncountry can\n\n"
        "4\n00:00:07,900 --> 00:00:08,200\ndo for you.\n\n"
    )


def test_line_width_alone_wraps_inside_each_segment():
    assert write("vtt", JFK, max_line_width=12) == (
        "WEBVTT\n\n"
        "00:00.000 --> 00:02.900\nAnd so, my\nfellow\nAmericans,\n\n"
        "00:03.100 --> 00:08.200\nask not what\nyour country\ncan do for\nyou.\n\n"
    )


def test_max_words_per_line_splits_segments_into_cues():
    assert write("vtt", JFK, max_words_per_line=3) == (
        "WEBVTT\n\n"
        "00:00.000 --> 00:01.200\nAnd so, my\n\n"
        "00:01.200 --> 00:02.900\nfellow Americans,\n\n"
        "00:03.100 --> 00:07.200\nask not what\n\n"
        "00:07.200 --> 00:07.900\nyour country can\n\n"
        "00:07.900 --> 00:08.200\ndo for you.\n\n"
    )


def test_highlight_words_underlines_each_word_and_fills_gaps_with_the_plain_cue():
    result = transcript(segment(0, 0.0, 1.0, " Ask not", words((0.0, 0.5, " Ask"), (0.7, 1.0, " not"))))
    assert write("vtt", result, highlight_words=True) == (
        "WEBVTT\n\n"
        "00:00.000 --> 00:00.500\n<u>Ask</u> not\n\n"
        "00:00.500 --> 00:00.700\nAsk not\n\n"
        "00:00.700 --> 00:01.000\nAsk <u>not</u>\n\n"
    )


def test_highlight_words_keeps_line_breaks_outside_the_underline():
    srt_text = write("srt", JFK, max_line_width=12, max_line_count=2, highlight_words=True)
    assert "5\n00:00:01,200 --> 00:00:01,600\nAnd so, my\n<u>fellow</u>\n\n" in srt_text
    assert len(list(srt.parse(srt_text))) == sum(len(s.words) for s in JFK.segments) + 2  # + gaps 0.8-1.0 s, 2.9-3.1 s


CHINESE = "我们今天讨论的是语音识别技术的发展历史和未来的方向。"


def chinese_transcript(pieces: list[str]) -> Transcript:
    timed, t = [], 0.0
    for piece in pieces:
        timed.append((round(t, 3), round(t + 0.2 * len(piece), 3), piece))
        t += 0.2 * len(piece)
    return transcript(segment(0, 0.0, round(t, 3), "".join(pieces), words(*timed)), language="zh")


@pytest.mark.parametrize("name", ["srt", "vtt"])
def test_chinese_single_character_words_wrap_within_16_characters(name):
    result = chinese_transcript(list(CHINESE))
    text = write(name, result, max_line_width=16, max_line_count=2)
    cues = [c.content for c in srt.parse(text)] if name == "srt" else [c.text for c in webvtt.from_string(text)]
    lines = [line for cue in cues for line in cue.split("\n")]
    assert lines == [CHINESE[:16], CHINESE[16:]]


def test_a_chinese_word_wider_than_the_line_is_cut_between_characters():
    result = chinese_transcript(["我们", CHINESE[2:22], CHINESE[22:]])  # a 20-character "word"
    cues = list(srt.parse(write("srt", result, max_line_width=16)))
    lines = cues[0].content.split("\n")
    assert "".join(lines) == CHINESE
    assert max(len(line) for line in lines) <= 16


def test_an_overlong_latin_word_keeps_its_own_line_as_in_openai_whisper():
    result = transcript(segment(0, 0.0, 2.0, " a supercalifragilistic b", words((0, 0.5, " a"), (0.5, 1.5, " supercalifragilistic"), (1.5, 2, " b"))))
    assert write("vtt", result, max_line_width=10).endswith("\na\nsupercalifragilistic\nb\n\n")


# -- timestamps -----------------------------------------------------------------------------------


def test_segments_past_one_hour_get_hours_in_srt_and_vtt():
    result = transcript(segment(0, 3599.0, 3600.0, " before"), segment(1, 3725.5, 3727.25, " after"))
    assert write("srt", result) == (
        "1\n00:59:59,000 --> 01:00:00,000\nbefore\n\n2\n01:02:05,500 --> 01:02:07,250\nafter\n\n"
    )
    assert write("vtt", result) == "WEBVTT\n\n59:59.000 --> 01:00:00.000\nbefore\n\n01:02:05.500 --> 01:02:07.250\nafter\n\n"
    cues = list(webvtt.from_string(write("vtt", result)))
    assert [c.start_in_seconds for c in cues] == [3599, 3725]


def test_timestamps_round_to_the_nearest_millisecond_and_carry():
    result = transcript(segment(0, 2.3456, 59.9996, " x"))
    assert "00:00:02,346 --> 00:01:00,000" in write("srt", result)
    assert "2346\t60000\tx" in write("tsv", result)


# -- text that would break a file -----------------------------------------------------------------

TRICKY = transcript(
    segment(0, 0.0, 1.0, " a --> b"),
    segment(1, 1.0, 2.0, " first line\n\n  \nsecond\tline "),
    segment(2, 2.0, 3.0, " arrow ---> end"),
)


def test_arrows_and_blank_lines_do_not_break_cues():
    srt_text = write("srt", TRICKY)
    assert [c.content for c in srt.parse(srt_text)] == ["a -> b", "first line\nsecond\tline", "arrow -> end"]
    vtt_cues = list(webvtt.from_string(write("vtt", TRICKY)))
    assert [c.text for c in vtt_cues] == ["a -> b", "first line\nsecond\tline", "arrow -> end"]


def test_arrows_in_words_do_not_break_cues():
    result = transcript(segment(0, 0.0, 1.0, " a --> b", words((0, 0.3, " a"), (0.3, 0.6, " -->"), (0.6, 1.0, " b"))))
    assert [c.content for c in srt.parse(write("srt", result, highlight_words=True))] == [
        "<u>a</u> -> b", "a <u>-></u> b", "a -> <u>b</u>",
    ]


def test_tabs_and_newlines_stay_inside_one_tsv_row_and_one_txt_line():
    rows = write("tsv", TRICKY).splitlines()
    assert rows[2] == "1000\t2000\tfirst line second line"
    assert all(len(row.split("\t")) == 3 for row in rows)
    assert write("txt", TRICKY).splitlines() == ["a --> b", "first line second\tline", "arrow ---> end"]


def test_empty_transcript_writes_only_headers():
    empty = Transcript("", (), "en")
    assert [write(name, empty) for name in WRITERS] == ["", "WEBVTT\n\n", "", "start\tend\ttext\n", '{"text": "", "segments": [], "language": "en"}']


@pytest.mark.parametrize("option", ["max_line_width", "max_line_count", "max_words_per_line"])
def test_a_layout_limit_below_one_is_a_config_error_naming_the_option(option):
    from mediakit.errors import ConfigError

    with pytest.raises(ConfigError, match=f"--{option} must be at least 1, got 0"):
        SrtWriter(WriterOptions(**{option: 0}))
