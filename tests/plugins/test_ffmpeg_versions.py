"""The same messages and probe fields whichever ffmpeg a user has, 4.4 to the newest.

Samples marked *recorded* are stderr copied from real runs (Debian 12's ffmpeg 5.1.9 and the bundled
imageio-ffmpeg 9.0.2); the others are written from ffmpeg's sources, where the wording changed:

* 4.4 to 6.0 (``cmdutils.c: print_error``): ``<the -i or output argument>: <cause>``, and
  ``Could not write header for output file #0 ...``;
* 6.1 and later (``ffmpeg_demux.c``, ``ffmpeg_mux_init.c``): ``[in#0 @ 0x...] Error opening input: <cause>``,
  ``[out#0/ogg @ 0x...] Error opening output <file>: <cause>``, then ``Error opening input files: <cause>``.

Each sample runs twice: through :func:`ffmpeg_cause`, and end to end through the demuxer and the CLI
with a stand-in ffmpeg that prints it (chosen with ``--ffmpeg``, as a user would pick a build).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mediakit.cli import app
from mediakit.config import DemuxOptions
from mediakit.errors import InputError
from mediakit.records import FeatureSpec
from mediakit_ffmpeg import FfmpegDemuxer
from mediakit_ffmpeg.binary import ffmpeg_version, release_of
from mediakit_ffmpeg.info import parse_input_dump
from mediakit_ffmpeg.process import ffmpeg_cause

INVALID = "Invalid data found when processing input"

# {input} is the -i argument (file:/path), {output} the output file mediakit names.
NOT_MEDIA = {
    "4.4": "{input}: Invalid data found when processing input\n",
    "5.1": "{input}: Invalid data found when processing input\n",  # recorded
    "6.0": "{input}: Invalid data found when processing input\n",
    "6.1": (
        "[in#0 @ 0x55d0c1a3e2c0] Error opening input: Invalid data found when processing input\n"
        "Error opening input file {input}.\n"
        "Error opening input files: Invalid data found when processing input\n"
    ),
    "9.0": (  # recorded
        "[in#0 @ 0x555df837ddc0] Error opening input: Invalid data found when processing input\n"
        "Error opening input file {input}.\n"
        "Error opening input files: Invalid data found when processing input\n"
    ),
}
NO_MOOV = {
    "4.4": "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5581c2a0] moov atom not found\n{input}: Invalid data found when processing input\n",
    "5.1": (  # recorded
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x55f1ad6fc980] moov atom not found\n"
        "{input}: Invalid data found when processing input\n"
    ),
    "7.1": (
        "[mov,mp4,m4a,3gp,3g2,mj2 @ 0x5611e4f0b100] moov atom not found\n"
        "[in#0 @ 0x5611e4f0ad40] Error opening input: Invalid data found when processing input\n"
        "Error opening input file {input}.\n"
        "Error opening input files: Invalid data found when processing input\n"
    ),
    "9.0": (  # recorded
        "[in#0 @ 0x55bde3626140] moov atom not found\n"
        "[in#0 @ 0x55bde3625dc0] Error opening input: Invalid data found when processing input\n"
        "Error opening input file {input}.\n"
        "Error opening input files: Invalid data found when processing input\n"
    ),
}
REFUSED = {
    "4.4": "[tcp @ 0x55a1] Connection to tcp://127.0.0.1:9 failed: Connection refused\n{input}: Connection refused\n",
    "5.1": (  # recorded
        "[tcp @ 0x55adac346fc0] Connection to tcp://127.0.0.1:9 failed: Connection refused\n"
        "{input}: Connection refused\n"
    ),
    "9.0": (  # recorded
        "[tcp @ 0x5575ee8ca880] Connection to tcp://127.0.0.1:9 failed: Connection refused\n"
        "[in#0 @ 0x5575ee8c6d00] Error opening input: Connection refused\n"
        "Error opening input file {input}.\n"
        "Error opening input files: Connection refused\n"
    ),
}
NO_DIRECTORY = {
    "5.1": "Input #0, matroska,webm, from '{input}':\n{output}: No such file or directory\n",  # recorded
    "9.0": (  # recorded
        "Input #0, matroska,webm, from '{input}':\n"
        "[out#0/opus @ 0x55ca26814340] Error opening output {output}: No such file or directory\n"
        "Error opening output file {output}.\n"
        "Error opening output files: No such file or directory\n"
    ),
}
NO_HEADER = {
    "5.1": (  # recorded
        "Input #0, matroska,webm, from '{input}':\n"
        "[wav @ 0x56317a216e40] Codec opus not supported in WAVE format\n"
        "Could not write header for output file #0 (incorrect codec parameters ?): Function not implemented\n"
        "Error initializing output stream 0:0 -- \n"
        "Stream mapping:\n"
    ),
    "9.0": (  # recorded
        "Input #0, matroska,webm, from '{input}':\n"
        "Stream mapping:\n"
        "[wav @ 0x559b21603bc0] Codec opus not supported in WAVE format\n"
        "[out#0/wav @ 0x559b21603a80] Could not write header (incorrect codec parameters ?): Function not implemented\n"
        "Conversion failed!\n"
    ),
}
NO_MAP = {
    "5.1": "Stream map '0:a:5' matches no streams.\nTo ignore this, add a trailing '?' to the map.\n",  # recorded
    "9.0": (  # recorded
        "Stream map '' matches no streams.\n"
        "To ignore this, add a trailing '?' to the map.\n"
        "Failed to set value '0:a:5' for option 'map': Invalid argument\n"
        "Error parsing options for output file {output}.\n"
        "Error opening output files: Invalid argument\n"
    ),
}

NOT_MP3 = {  # random bytes named .mp3
    "5.1": (  # recorded
        "[mp3 @ 0x55912a2d4880] Format mp3 detected only with low score of 1, misdetection possible!\n"
        "[mp3 @ 0x55912a2d4880] Failed to read frame size: Could not seek to 51023.\n"
        "{input}: Invalid argument\n"
    ),
    "9.0": (  # recorded
        "[in#0 @ 0x55801ae3c080] Format mp3 detected only with low score of 1, misdetection possible!\n"
        "[in#0 @ 0x55801ae3c080] Failed to find two consecutive MPEG audio frames.\n"
        "[in#0 @ 0x55801ae3bd00] Error opening input: Invalid data found when processing input\n"
        "Error opening input file {input}.\n"
        "Error opening input files: Invalid data found when processing input\n"
    ),
}

CASES = [
    (NOT_MEDIA, INVALID),
    (NO_MOOV, f"moov atom not found; {INVALID}"),
    (REFUSED, "Connection to tcp://127.0.0.1:9 failed: Connection refused"),
    (NO_DIRECTORY, "No such file or directory"),
    (NO_HEADER, "Codec opus not supported in WAVE format; Could not write header (incorrect codec parameters ?): Function not implemented"),
    (NO_MAP, "Stream map matches no streams"),
    (NOT_MP3, f"Failed to find two consecutive MPEG audio frames; {INVALID}"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("stderr", "cause"),
    [pytest.param(text, cause, id=f"{case}-{version}") for case, (samples, cause) in zip(
        ["not_media", "no_moov", "refused", "no_directory", "no_header", "no_map", "not_mp3"], CASES
    ) for version, text in samples.items()],
)  # fmt: skip
def test_every_version_gives_the_same_cause(stderr, cause):
    source, output = "/tmp/x/notes.wav", "/tmp/x/.notes.k2j4.part.opus"
    names = ("file:" + source, source, output)
    text = stderr.format(input="http://127.0.0.1:9/talk.mp3" if "tcp" in stderr else "file:" + source, output=output)
    names += ("http://127.0.0.1:9/talk.mp3",)
    assert ffmpeg_cause(text, names) == cause


def test_standard_input_prefix_is_dropped():
    assert ffmpeg_cause("pipe:0: Invalid data found when processing input\n", ("pipe:0",)) == INVALID


# --- end to end: a stand-in ffmpeg prints a version's stderr; the user sees the same line ---


def fake_ffmpeg(directory: Path, version: str, stderr: str, status: int = 1) -> Path:
    """An executable that answers ``-version`` like ffmpeg ``version`` and fails with ``stderr``."""
    script = directory / f"ffmpeg-{version}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "args = sys.argv[1:]\n"
        f"if '-version' in args:\n    print('ffmpeg version {version} Copyright (c) 2000-2024 the FFmpeg developers'); sys.exit(0)\n"
        "given = args[args.index('-i') + 1]\n"
        f"sys.stderr.write({stderr!r}.format(input=given, output=args[-1]))\n"
        f"sys.exit({status})\n"
    )
    script.chmod(0o755)
    return script


@pytest.mark.parametrize("version", sorted(NOT_MEDIA))
def test_not_media_reads_the_same_on_every_version(tmp_path, version):
    exe = fake_ffmpeg(tmp_path, version, NOT_MEDIA[version])
    path = tmp_path / "notes.wav"
    path.write_text("not audio\n" * 50)
    demuxer = FfmpegDemuxer(DemuxOptions(ffmpeg=str(exe)))
    with pytest.raises(InputError) as caught:
        demuxer.demux(str(path), FeatureSpec())
    assert str(caught.value) == f"{path}: ffmpeg cannot decode it: {INVALID}"
    result = CliRunner().invoke(app, ["probe", str(path), "--ffmpeg", str(exe)])
    assert result.exit_code == 1
    assert [line for line in result.output.splitlines() if line.startswith("Error:")] == [
        f"Error: {path}: ffmpeg cannot read it: {INVALID}"
    ]
    assert str(path) not in result.output.split(str(path), 1)[1]  # the file is named once


@pytest.mark.parametrize("version", sorted(NO_MOOV))
def test_truncated_mp4_reads_the_same_on_every_version(tmp_path, version):
    exe = fake_ffmpeg(tmp_path, version, NO_MOOV[version])
    path = tmp_path / "cut.mp4"
    path.write_bytes(b"\0\0\0\x18ftypisom" + bytes(100))
    with pytest.raises(InputError) as caught:
        FfmpegDemuxer(DemuxOptions(ffmpeg=str(exe))).demux(str(path), FeatureSpec())
    assert str(caught.value) == f"{path}: ffmpeg cannot decode it: moov atom not found; {INVALID}"


# --- probe: the same fields from every version's input dump ---

# recorded: Debian 12's 5.1.9 and the bundled 9.0.2 on the same file (two audio tracks)
MKV = {
    "5.1": """\
Input #0, matroska,webm, from 'file:talk.mkv':
  Metadata:
    ENCODER         : Lavf63.1.102
  Duration: 00:00:11.01, start: -0.007000, bitrate: 146 kb/s
  Stream #0:0(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
    Metadata:
      ENCODER         : Lavc63.1.102 libopus
      DURATION        : 00:00:11.008000000
  Stream #0:1(fra): Audio: flac, 22050 Hz, mono, s16
    Metadata:
      title           : Tone
      ENCODER         : Lavc63.1.102 flac
      DURATION        : 00:00:11.000000000
At least one output file must be specified
""",
    "9.0": """\
Input #0, matroska,webm, from 'file:talk.mkv':
  Metadata:
    ENCODER         : Lavf63.1.102
  Duration: 00:00:11.01, start: 0.000000, bitrate: 146 kb/s
  Stream #0:0(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
    Metadata:
      ENCODER         : Lavc63.1.102 libopus
      DURATION        : 00:00:11.008000000
  Stream #0:1(fra): Audio: flac, 22050 Hz, mono, s16
    Metadata:
      title           : Tone
      ENCODER         : Lavc63.1.102 flac
      DURATION        : 00:00:11.000000000
At least one output file must be specified
""",
}
# 4.4 indents the streams by four spaces and their metadata by six
MKV["4.4"] = MKV["5.1"].replace("  Stream #", "    Stream #").replace("    Metadata:\n      ENC", "      Metadata:\n        ENC")


def test_probe_fields_agree_across_versions():
    infos = {version: parse_input_dump(text, "talk.mkv") for version, text in MKV.items()}
    fields = {
        version: (info.container, info.duration, info.bit_rate, [
            (s.index, s.type, s.codec, s.language, s.sample_rate, s.channels, s.channel_layout, s.default, s.title, s.duration)
            for s in info.streams
        ])
        for version, info in infos.items()
    }  # fmt: skip
    assert fields["4.4"] == fields["5.1"] == fields["9.0"]
    assert fields["9.0"][3][1][-2:] == ("Tone", 11.0)
    # What ffmpeg itself reports differently is passed on as it is: 5.1 counts Opus's pre-skip
    # into the start time, newer versions do not.
    assert (infos["5.1"].start_time, infos["9.0"].start_time) == (-0.007, 0.0)


# --- which ffmpeg: versions and the --version line ---


@pytest.mark.parametrize(
    ("version", "release"),
    [("5.1.9-0+deb12u1", (5, 1)), ("4.4.2-0ubuntu0.22.04.1", (4, 4)), ("n9.0.2-17-g2a571b6068-20260930", (9, 0)),
     ("7.1", (7, 1)), ("N-118000-g1234abcd", None), (None, None)],
)  # fmt: skip
def test_release_of(version, release):
    assert release_of(version) == release


def test_version_of_a_stand_in(tmp_path):
    assert ffmpeg_version(str(fake_ffmpeg(tmp_path, "6.1.1-3ubuntu5", ""))) == "6.1.1-3ubuntu5"
    not_ffmpeg = tmp_path / "true"
    not_ffmpeg.write_text("#!/bin/sh\nexit 0\n")
    not_ffmpeg.chmod(0o755)
    assert ffmpeg_version(str(not_ffmpeg)) is None


def test_version_option_names_the_ffmpeg(tmp_path, monkeypatch):
    exe = fake_ffmpeg(tmp_path, "4.4.2-0ubuntu0.22.04.1", "")
    monkeypatch.setenv("MEDIAKIT_FFMPEG", str(exe))
    result = CliRunner().invoke(app, ["--version"])
    assert result.exit_code == 0
    assert result.output.splitlines()[1] == f"ffmpeg 4.4.2-0ubuntu0.22.04.1 at {exe} (chosen with MEDIAKIT_FFMPEG)"


def test_probe_json_names_the_ffmpeg(tmp_path):
    jfk = Path(__file__).parents[1] / "data" / "jfk.flac"
    result = CliRunner().invoke(app, ["probe", str(jfk), "--json", "--ffmpeg", "bundled"])
    assert result.exit_code == 0, result.output
    reader = json.loads(result.output)["reader"]
    assert reader.startswith("ffmpeg ") and reader.endswith("(chosen with --ffmpeg / DemuxOptions.ffmpeg)")


@pytest.mark.parametrize("version", ["5.1", "9.0"])
@pytest.mark.parametrize(("samples", "cause"), [CASES[3], CASES[4]], ids=["no_directory", "no_header"])
def test_extract_failure_reads_the_same_on_every_version(tmp_path, samples, cause, version):
    """ffmpeg reads the file (probe) but cannot write the copy: the message names the source and the
    file the user asked for, never the temporary name ffmpeg was given, and nothing is left behind."""
    script = tmp_path / f"ffmpeg-{version}"
    script.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        "args = sys.argv[1:]\n"
        f"if '-version' in args:\n    print('ffmpeg version {version}'); sys.exit(0)\n"
        "given = args[args.index('-i') + 1]\n"
        f"text = {samples[version]!r} if '-c:a' in args else {MKV[version]!r}\n"
        "sys.stderr.write(text.format(input=given, output=args[-1]))\n"
        "sys.exit(1)\n"
    )
    script.chmod(0o755)
    source = tmp_path / "talk.mkv"
    source.write_bytes(b"\x1aE\xdf\xa3" + bytes(100))
    out = tmp_path / "out"
    out.mkdir()
    with pytest.raises(InputError) as caught:
        FfmpegDemuxer(DemuxOptions(ffmpeg=str(script))).extract(str(source), str(out / "speech.opus"))
    assert str(caught.value) == f"{source}: cannot copy audio stream 0 (opus) into speech.opus: {cause}"
    assert list(out.iterdir()) == []
