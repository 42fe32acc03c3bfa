"""The lrc writer, tested the way a plugin author tests: through mediakit.testing, no weights needed."""

from __future__ import annotations

import subprocess
import sys

from mediakit.config import WriterOptions
from mediakit.records import Segment, Transcript
from mediakit.testing import fake_transcript, make_plugin_manager, render_writer

import mediakit_lrc.plugin
from mediakit_lrc import LrcWriter


def lrc(transcript: Transcript) -> str:
    """What mediakit writes for ``-f lrc`` with only this plugin installed."""
    pm = make_plugin_manager(mediakit_lrc.plugin, builtins=False)
    return render_writer(pm, "lrc", transcript)


def test_writes_a_language_tag_then_one_timed_line_per_segment():
    assert lrc(fake_transcript()) == (
        "[la:en]\n"
        "[00:00.00]And so my fellow Americans,\n"
        "[00:03.20]ask not what your country can do for you.\n"
        "[00:08.50]\n"
    )


def test_silence_between_segments_gets_an_empty_line_that_clears_the_display():
    segments = (Segment(0, 0, 1.0, 2.0, " one"), Segment(1, 0, 5.0, 6.0, " two"))
    assert lrc(Transcript(" one two", segments, "en")) == "[la:en]\n[00:01.00]one\n[00:02.00]\n[00:05.00]two\n[00:06.00]\n"


def test_minutes_go_past_59_and_times_round_to_centiseconds():
    segments = (Segment(0, 0, 3725.504, 3727.996, " late"),)
    assert lrc(Transcript(" late", segments, "en")).splitlines()[1:] == ["[62:05.50]late", "[62:08.00]"]


def test_line_breaks_in_text_stay_on_one_lyric_line():
    segments = (Segment(0, 0, 0.0, 1.0, " first\n\nsecond "),)
    assert "[00:00.00]first second\n" in lrc(Transcript("", segments, "en"))


def test_title_tag_when_the_writer_is_given_one():
    import io

    stream = io.StringIO()
    LrcWriter(WriterOptions(), title="Inaugural [1961]").write(fake_transcript(language="de"), stream)
    assert stream.getvalue().startswith("[ti:Inaugural (1961)]\n[la:de]\n[00:00.00]")


def test_lrc_sits_beside_the_built_in_formats():
    pm = make_plugin_manager(mediakit_lrc.plugin)  # the installed plugins too, as the CLI sees them
    assert render_writer(pm, "lrc", fake_transcript()).startswith("[la:en]\n")
    assert render_writer(pm, "txt", fake_transcript()).startswith("And so my fellow Americans,\n")


def test_plugin_module_imports_without_torch():
    code = "import sys, mediakit_lrc.plugin; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], cwd=mediakit_lrc.plugin.__file__.rsplit("mediakit_lrc", 1)[0]).returncode == 0
