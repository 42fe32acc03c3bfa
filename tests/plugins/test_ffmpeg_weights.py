"""End to end with real weights: speech inside a DVD file and an MP4 video transcribes to the JFK sentence."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from speechref import JFK_REFERENCE, normalize

import mediakit

pytestmark = pytest.mark.weights


@pytest.fixture(scope="module")
def model():
    from mediakit_whisper import locate

    if locate.packaged_weights("tiny.en") is None:
        pytest.skip("the tiny.en weight package is not installed")
    return mediakit.load_model("tiny.en", device="cpu")


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> dict[str, Path]:
    import imageio_ffmpeg

    jfk = str(Path(__file__).parents[1] / "data" / "jfk.flac")
    directory = tmp_path_factory.mktemp("videos")
    video = ["-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-map", "1:v", "-map", "0:a", "-t", "11"]
    made = {
        "talk.vob": ["-c:v", "mpeg2video", "-c:a", "mp2", "-ar", "48000", "-f", "vob"],
        "talk.mp4": ["-c:v", "libx264", "-c:a", "aac"],
    }
    for name, codecs in made.items():
        command = [imageio_ffmpeg.get_ffmpeg_exe(), "-nostdin", "-loglevel", "error", "-i", jfk, *video, *codecs]
        subprocess.run([*command, str(directory / name)], check=True)
    return {name: directory / name for name in made}


@pytest.mark.parametrize("name", ["talk.vob", "talk.mp4"])
def test_video_files_transcribe_to_the_sentence(model, videos, name):
    transcript = model.transcribe(str(videos[name]), beam_size=1)
    assert normalize(transcript.text) == JFK_REFERENCE
