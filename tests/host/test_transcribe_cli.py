"""`mediakit transcribe` wiring, batches and outputs, with fake stages (no weights, no ffmpeg)."""

from __future__ import annotations

import os

import pytest
from typer.testing import CliRunner

from mediakit import hookimpl
from mediakit.cli import app

runner = CliRunner()


@pytest.fixture
def fakes(install_dist):
    install_dist("mediakit-fakes", "1.0", {"fakes": "mediakit.testing:FAKE_STAGES"})


def run(*args: str):
    return runner.invoke(app, ["transcribe", "--model", "fake", "--decoder", "fake", *args])


def test_writes_all_five_formats_by_default(fakes, tmp_path):
    result = run(str(tmp_path / "talk.wav"), "-o", str(tmp_path / "out"))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["talk.json", "talk.srt", "talk.tsv", "talk.txt", "talk.vtt"]
    assert (tmp_path / "out" / "talk.txt").read_text() == "heard talk\n"


def test_several_formats_by_repeat_and_comma(fakes, tmp_path):
    result = run("a.wav", "-f", "srt,vtt", "-f", "txt", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.srt", "a.txt", "a.vtt"]


def test_unknown_names_are_one_line_errors_listing_choices(fakes, tmp_path):
    for args, expected in (
        (["--model", "nope"], "unknown model 'nope'; available:"),
        (["--decoder", "nope"], "unknown decoder 'nope'; available: fake"),
        (["-f", "docx"], "unknown output format 'docx'; available: json, srt, tsv, txt, vtt"),
    ):
        result = run("a.wav", "-o", str(tmp_path), *args)
        assert result.exit_code == 1
        errors = [l for l in result.output.splitlines() if l.startswith("Error:")]
        assert len(errors) == 1 and expected in errors[0], result.output
        assert "Traceback" not in result.output
    assert list(tmp_path.iterdir()) == []


def test_failed_input_is_reported_and_the_rest_carry_on(fakes, tmp_path):
    result = run("one.wav", "missing.wav", "two.wav", "-f", "txt", "-o", str(tmp_path))
    assert result.exit_code == 1
    assert "Error: missing.wav: no such file" in result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.txt", "two.txt"]


def test_skip_existing_leaves_finished_inputs_alone(fakes, tmp_path):
    (tmp_path / "one.txt").write_text("kept\n")
    result = run("one.wav", "two.wav", "-f", "txt", "-o", str(tmp_path), "--skip_existing")
    assert result.exit_code == 0, result.output
    assert (tmp_path / "one.txt").read_text() == "kept\n"
    assert (tmp_path / "two.txt").read_text() == "heard two\n"


def test_stdout_prints_one_format(fakes, tmp_path):
    result = run("talk.wav", "-f", "txt", "--stdout")
    assert result.exit_code == 0, result.output
    assert result.stdout == "heard talk\n"
    result = run("talk.wav", "-f", "txt,srt", "-o", "-")
    assert result.exit_code == 1 and "exactly one output format" in result.output


def test_same_stem_in_a_batch_does_not_overwrite(fakes, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "y").mkdir()
    result = run(str(tmp_path / "x" / "talk.wav"), str(tmp_path / "y" / "talk.wav"), "-f", "txt", "-o", str(tmp_path / "o"))
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == ["x_talk.wav.txt", "y_talk.wav.txt"]


def test_directory_and_glob_inputs(fakes, tmp_path):
    media = tmp_path / "media"
    (media / "sub").mkdir(parents=True)
    for name in ("a.mp3", "b.wav", "notes.txt", "sub/c.flac"):
        (media / name).write_bytes(b"")
    out = tmp_path / "out"
    assert run(str(media), "-f", "txt", "-o", str(out)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt"]
    assert run(str(media), "--recursive", "-f", "txt", "-o", str(out)).exit_code == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "b.txt", "c.txt"]
    result = run(str(media / "*.wav"), str(media / "*.ogg"), "-f", "json", "-o", str(out))
    assert result.exit_code == 1 and "*.ogg: no file matches this pattern" in result.output
    assert (out / "b.json").exists()


class _BrokenWriter:
    extension = "bad"

    def __init__(self, options):
        pass

    def write(self, transcript, stream):
        stream.write("half a cue")
        raise ValueError("writer broke")


class _BrokenWriterPlugin:
    @hookimpl
    def mediakit_register_writers(self, register):
        register("bad", _BrokenWriter)


def test_no_partial_output_when_a_writer_fails(fakes, install_dist, tmp_path, monkeypatch):
    import mediakit.testing

    monkeypatch.setattr(mediakit.testing, "BROKEN", _BrokenWriterPlugin(), raising=False)
    install_dist("mediakit-bad", "1.0", {"bad": "mediakit.testing:BROKEN"})
    result = run("talk.wav", "-f", "txt,bad", "-o", str(tmp_path))
    assert result.exit_code == 1
    assert "talk.wav" in result.output and "writer broke" in result.output
    assert list(tmp_path.iterdir()) == []  # neither the half-written file nor the good one


def test_ctrl_c_exits_130_and_leaves_no_partial_file(fakes, tmp_path, monkeypatch):
    from mediakit import testing

    def interrupted(self, model, features, progress=None):
        raise KeyboardInterrupt

    monkeypatch.setattr(testing.FakeDecoder, "decode", interrupted)
    result = run("talk.wav", "-o", str(tmp_path))
    assert result.exit_code == 130
    assert "Interrupted" in result.output
    assert list(tmp_path.iterdir()) == []


def test_output_files_get_normal_permissions(fakes, tmp_path):
    assert run("talk.wav", "-f", "txt", "-o", str(tmp_path)).exit_code == 0
    mode = os.stat(tmp_path / "talk.txt").st_mode & 0o777
    umask = os.umask(0)
    os.umask(umask)
    assert mode == 0o666 & ~umask


def test_third_party_writer_replaces_builtin_by_name(fakes, install_dist, tmp_path):
    source = """
from mediakit import hookimpl

class Shouting:
    extension = "txt"
    def __init__(self, options):
        pass
    def write(self, transcript, stream):
        stream.write(transcript.text.upper().strip() + "!\\n")

@hookimpl
def mediakit_register_writers(register):
    register("txt", Shouting)
"""
    install_dist("mediakit-shout", "1.0", {"shout": "mkt_shout"}, {"mkt_shout": source})
    assert run("talk.wav", "-f", "txt", "-o", str(tmp_path)).exit_code == 0
    assert (tmp_path / "talk.txt").read_text() == "HEARD TALK!\n"


def test_a_broken_plugin_does_not_stop_transcribe(fakes, install_dist, tmp_path):
    install_dist("mediakit-broken", "0.1", {"broken": "mkt_broken3"}, {"mkt_broken3": "raise ImportError('missing libfoo')\n"})
    result = run("talk.wav", "-f", "txt", "-o", str(tmp_path))
    assert result.exit_code == 0, result.output
    assert "plugin 'broken'" in result.output and "missing libfoo" in result.output  # reported once, as a warning
    assert (tmp_path / "talk.txt").read_text() == "heard talk\n"


def test_verbose_true_prints_segments_on_stdout_only(fakes, tmp_path, monkeypatch):
    import logging

    from mediakit import testing

    original = testing.FakeDecoder.decode

    def chatty(self, model, features, progress=None):
        logging.getLogger("mediakit_decode.longform").info("[00:00.000 --> 00:01.000]  heard it")
        return original(self, model, features, progress)

    monkeypatch.setattr(testing.FakeDecoder, "decode", chatty)
    quiet = run("talk.wav", "-f", "txt", "-o", str(tmp_path))
    assert "heard it" not in quiet.output
    loud = run("talk.wav", "-f", "txt", "-o", str(tmp_path), "--verbose", "True")
    assert loud.exit_code == 0
    assert loud.stdout.count("[00:00.000 --> 00:01.000]  heard it") == 1
    assert "heard it" not in loud.stderr


# The first input is demuxed while the model loads (mediakit.batch.DemuxAhead).
AHEAD_PLUGIN = '''
import threading
from mediakit import hookimpl
from mediakit.errors import InputError
from mediakit.records import FeatureSpec
from mediakit.testing import FakeDemuxer, FakeModel, FakeStagesPlugin

demuxed = threading.Event()
calls = []  # (source, sample rate) of every demux
seen = {}

class Demuxer(FakeDemuxer):
    def demux(self, source, spec):
        calls.append((source.rsplit("/", 1)[-1], spec.sample_rate))
        demuxed.set()
        if source.endswith("broken.wav"):
            raise InputError(source + ": ffmpeg cannot decode it: Invalid data found when processing input")
        return super().demux(source, spec)

def load(rate):
    def factory(options, weights):
        seen["demuxed while loading"] = demuxed.wait(10)  # without the look-ahead: False after 10 s
        return FakeModel(feature_spec=FeatureSpec(sample_rate=rate))
    return factory

class Plugin(FakeStagesPlugin):
    @hookimpl
    def mediakit_register_models(self, register):
        register("slow", load(16000))
        register("slow8k", load(8000))

    @hookimpl
    def mediakit_make_demuxer(self, source, options):
        return Demuxer()

PLUGIN = Plugin()
'''


@pytest.fixture
def ahead(install_dist):
    install_dist("mediakit-mkt-ahead", "1.0", {"ahead": "mkt_ahead:PLUGIN"}, {"mkt_ahead": AHEAD_PLUGIN})
    import mkt_ahead

    return mkt_ahead


def files(tmp_path, *names: str) -> list[str]:
    for name in names:
        (tmp_path / name).write_bytes(b"RIFF")
    return [str(tmp_path / name) for name in names]


def test_the_first_input_is_demuxed_while_the_model_loads(ahead, tmp_path):
    inputs = files(tmp_path, "one.wav", "two.wav")
    result = runner.invoke(app, ["transcribe", *inputs, "--model", "slow", "--decoder", "fake", "-f", "txt", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ahead.seen == {"demuxed while loading": True}
    assert ahead.calls == [("one.wav", 16000), ("two.wav", 16000)]  # each input demuxed once
    assert (tmp_path / "one.txt").read_text() == "heard one\n"


def test_a_first_input_that_fails_ahead_fails_in_its_turn_and_the_rest_carry_on(ahead, tmp_path):
    inputs = files(tmp_path, "broken.wav", "two.wav")
    result = runner.invoke(app, ["transcribe", *inputs, "--model", "slow", "--decoder", "fake", "-f", "txt", "-o", str(tmp_path)])
    assert result.exit_code == 1
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert errors == [f"Error: {inputs[0]}: ffmpeg cannot decode it: Invalid data found when processing input"]
    assert sorted(p.name for p in tmp_path.iterdir() if p.suffix == ".txt") == ["two.txt"]


def test_audio_demuxed_ahead_at_another_sample_rate_is_demuxed_again(ahead, tmp_path):
    inputs = files(tmp_path, "one.wav")
    result = runner.invoke(app, ["transcribe", *inputs, "--model", "slow8k", "--decoder", "fake", "-f", "txt", "-o", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert ahead.calls == [("one.wav", 16000), ("one.wav", 8000)]
