"""The parser of ffmpeg's input dump, on dumps copied from real ffmpeg runs (several ffmpeg versions)."""

from __future__ import annotations

import pytest

from mediakit_ffmpeg.info import default_audio_index, describe_streams, parse_input_dump
from mediakit_ffmpeg.process import ffmpeg_cause

# ffmpeg 9.0 on a DVD-style file: stream ids in brackets, per-stream start times, side data.
VOB_9 = """\
Input #0, mpeg, from 'a.vob':
  Duration: 00:00:11.02, start: 0.589978, bitrate: 425 kb/s
  Stream #0:0[0x1e0]: Video: mpeg2video (Main), yuv420p(tv, progressive), 64x48 [SAR 1:1 DAR 4:3], 10 fps, 10 tbr, 90k tbn, start 0.600000
    Side data:
      CPB properties: bitrate max/min/avg: 0/0/0 buffer size: 49152 vbv_delay: N/A
  Stream #0:1[0x1c0]: Audio: mp2, 48000 Hz, stereo, s16p, 384 kb/s, start 0.589978
At least one output file must be specified
"""

# ffmpeg 9.0, MPEG-TS: a program block, decoder names in parentheses.
TS_9 = """\
Input #0, mpegts, from 'a.ts':
  Duration: 00:00:11.01, start: 1.489089, bitrate: 479 kb/s
  Program 1 
    Metadata:
      service_name    : Service01
      service_provider: FFmpeg
  Stream #0:0[0x100]: Video: mpeg2video (Main) ([2][0][0][0] / 0x0002), yuv420p(tv, progressive), 64x48 [SAR 1:1 DAR 4:3], 10 fps, 10 tbr, 90k tbn, start 1.500000
  Stream #0:1[0x101](deu): Audio: mp2 (mp3float) ([3][0][0][0] / 0x0003), 44100 Hz, stereo, fltp, 384 kb/s, start 1.489089 (visual impaired) (dependent)
"""

# ffmpeg 9.0, Matroska with two audio tracks, titles and per-stream DURATION tags; a log line before the dump.
MKV_9 = """\
[aist#0:1/flac @ 0x55d8ac280dc0] Guessed Channel Layout: mono
Input #0, matroska,webm, from 'a.mkv':
  Metadata:
    title           : Container title, not a stream's
    ENCODER         : Lavf63.1.102
  Duration: 00:00:11.01, start: 0.000000, bitrate: 146 kb/s
  Stream #0:0(eng): Audio: opus, 48000 Hz, stereo, fltp (default)
    Metadata:
      ENCODER         : Lavc63.1.102 libopus
      DURATION        : 00:00:11.008000000
  Stream #0:1(fra): Audio: flac, 22050 Hz, mono, s16
    Metadata:
      title           : Director's commentary: part 1
      DURATION        : 00:00:11.000000000
  Stream #0:2: Subtitle: subrip (srt) (forced)
At least one output file must be specified
"""

# ffmpeg 4.x: streams indented by four spaces, "tbc", chapters before the streams.
MP4_4 = """\
Input #0, mov,mp4,m4a,3gp,3g2,mj2, from 'talk.mp4':
  Metadata:
    major_brand     : isom
    minor_version   : 512
  Duration: 01:02:03.50, start: 0.000000, bitrate: 1234 kb/s
    Chapter #0:0: start 0.000000, end 60.000000
    Metadata:
      title           : Chapter 1
    Stream #0:0(und): Video: h264 (High) (avc1 / 0x31637661), yuv420p(tv, bt709), 1280x720 [SAR 1:1 DAR 16:9], 1100 kb/s, 29.97 fps, 29.97 tbr, 30k tbn, 59.94 tbc (default)
    Metadata:
      handler_name    : VideoHandler
    Stream #0:1(eng): Audio: aac (LC) (mp4a / 0x6134706D), 48000 Hz, 5.1(side), fltp, 384 kb/s (default)
    Metadata:
      handler_name    : SoundHandler
    Stream #0:2(spa): Audio: ac3 (ac-3 / 0x332D6361), 48000 Hz, 3 channels, fltp, 192 kb/s
    Stream #0:3(und): Audio: pcm_s16le, 8000 Hz, FL+FR+LFE, s16, 384 kb/s
At least one output file must be specified
"""

# Old WAV dump: no start, "1 channels".
WAV_OLD = """\
Input #0, wav, from 'old.wav':
  Duration: N/A, bitrate: N/A
    Stream #0:0: Audio: pcm_s16le ([1][0][0][0] / 0x0001), 16000 Hz, 1 channels, s16, 256 kb/s
"""


def test_dvd_dump():
    info = parse_input_dump(VOB_9, "a.vob")
    assert (info.source, info.container, info.duration, info.start_time, info.bit_rate) == ("a.vob", "mpeg", 11.02, 0.589978, 425_000)
    video, audio = info.streams
    assert (video.index, video.type, video.codec, video.width, video.height) == (0, "video", "mpeg2video", 64, 48)
    assert (audio.index, audio.codec, audio.sample_rate, audio.channels, audio.channel_layout, audio.bit_rate) == (
        1, "mp2", 48000, 2, "stereo", 384_000,
    )  # fmt: skip
    assert not audio.default and audio.language is None


def test_transport_stream_dump():
    info = parse_input_dump(TS_9, "a.ts")
    assert info.container == "mpegts" and len(info.streams) == 2
    audio = info.streams[1]
    assert (audio.codec, audio.language, audio.sample_rate, audio.channels) == ("mp2", "deu", 44100, 2)


def test_matroska_dump():
    info = parse_input_dump(MKV_9, "a.mkv")
    opus, flac, subtitle = info.streams
    assert (opus.language, opus.default, opus.title, opus.duration) == ("eng", True, None, pytest.approx(11.008))
    assert (flac.language, flac.title, flac.sample_rate, flac.channels) == ("fra", "Director's commentary: part 1", 22050, 1)
    assert (subtitle.type, subtitle.codec, subtitle.default) == ("subtitle", "subrip", False)
    assert [s.index for s in info.audio_streams] == [0, 1]
    assert default_audio_index(info) == 0


def test_ffmpeg_4_dump_with_chapters():
    info = parse_input_dump(MP4_4, "talk.mp4")
    assert info.duration == pytest.approx(3723.5) and info.bit_rate == 1_234_000
    assert [s.type for s in info.streams] == ["video", "audio", "audio", "audio"]
    video = info.streams[0]
    assert (video.codec, video.width, video.height, video.default, video.language) == ("h264", 1280, 720, True, None)
    assert video.title is None  # the chapter's title is not a stream's
    layouts = [(s.codec, s.channels, s.channel_layout) for s in info.audio_streams]
    assert layouts == [("aac", 6, "5.1(side)"), ("ac3", 3, "3 channels"), ("pcm_s16le", 3, "FL+FR+LFE")]
    assert info.audio_streams[1].language == "spa"


def test_unknown_values():
    info = parse_input_dump(WAV_OLD, "old.wav")
    assert (info.duration, info.start_time, info.bit_rate) == (None, None, None)
    assert info.streams[0].channels == 1 and info.streams[0].sample_rate == 16000


def test_no_input_block():
    text = "[in#0 @ 0x55] Error opening input: Invalid data found when processing input\n"
    assert parse_input_dump(text, "x") is None


def test_default_stream_choice_prefers_the_default_then_channels():
    info = parse_input_dump(MP4_4, "talk.mp4")
    assert default_audio_index(info) == 0  # the default-marked 5.1 track
    no_default = MP4_4.replace("384 kb/s (default)", "384 kb/s").replace("5.1(side)", "stereo")
    assert default_audio_index(parse_input_dump(no_default, "talk.mp4")) == 1  # then the most channels (3)
    assert default_audio_index(parse_input_dump(VOB_9.replace("Audio", "Data"), "x")) is None


def test_stream_listing_for_messages():
    assert describe_streams(parse_input_dump(MKV_9, "a.mkv")) == (
        "#0 audio opus 48000 Hz stereo eng, #1 audio flac 22050 Hz mono fra \"Director's commentary: part 1\", "
        "#2 subtitle subrip"
    )


@pytest.mark.parametrize(
    ("stderr", "cause"),
    [
        (
            "[in#0 @ 0x563feb144080] moov atom not found\n"
            "[in#0 @ 0x563feb143d40] Error opening input: Invalid data found when processing input\n"
            "Error opening input file trunc.mp4.\n"
            "Error opening input files: Invalid data found when processing input\n",
            "moov atom not found; Invalid data found when processing input",
        ),
        (
            "[in#0 @ 0x55d462b4cd40] Error opening input: Is a directory\nError opening input file d.\n"
            "Error opening input files: Is a directory\n",
            "Is a directory",
        ),
        (
            "[tcp @ 0x5601] Connection to tcp://127.0.0.1:9 failed: Connection refused\n"
            "[in#0 @ 0x5600] Error opening input: Connection refused\nError opening input file http://127.0.0.1:9/x.\n"
            "Error opening input files: Connection refused\n",
            "Connection to tcp://127.0.0.1:9 failed: Connection refused",
        ),
        ("", ""),
    ],
)
def test_ffmpeg_cause(stderr, cause):
    assert ffmpeg_cause(stderr) == cause
