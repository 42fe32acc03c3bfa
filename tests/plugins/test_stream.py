"""The pipeline as a stream (issue 22): the same transcripts as the whole-input path, and live input.

Transcripts are compared with one torch thread: with more, the decoder picks its thread count by
timing, and float sums in another order can move a log probability in its last digits (the whole
path differs from itself that way too).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import mediakit
from mediakit.api import _split_options
from mediakit.config import DemuxOptions
from mediakit.pipeline import Stages, audio_chunks, decoder_registry, demux, make_featurizer, transcribe_audio, transcribe_stream
from mediakit.records import Audio, FeatureSpec
from mediakit_ffmpeg.binary import locate_ffmpeg
from mediakit_ffmpeg.demuxer import FfmpegDemuxer
from mediakit_logmel.featurizer import LogMelFeaturizer

ROOT = Path(__file__).resolve().parents[2]


# --- features: no model needed -------------------------------------------------------------------------


class _Rechunked:
    """Chunks of awkward sizes (a single sample, odd lengths, longer than a block)."""

    def __init__(self, samples: np.ndarray, sizes: tuple[int, ...] = (1, 333, 160_001, 7, 48_000)):
        self.samples, self.sizes = samples, sizes

    def __iter__(self):
        at, i = 0, 0
        while at < len(self.samples):
            size = self.sizes[i % len(self.sizes)]
            yield self.samples[at : at + size]
            at, i = at + size, i + 1


@pytest.mark.parametrize("seconds", [0.0, 0.005, 11.0, 61.3])
def test_streamed_features_are_the_whole_inputs_to_the_bit(jfk_path, seconds):
    spec = FeatureSpec()
    audio = FfmpegDemuxer(DemuxOptions()).demux(str(jfk_path), spec)
    samples = np.resize(audio.samples, int(seconds * spec.sample_rate))  # jfk repeated or cut
    featurizer = LogMelFeaturizer(spec)
    whole = featurizer.featurize(Audio(samples, spec.sample_rate, "x"))
    with featurizer.featurize_stream(_Rechunked(samples), "x") as stream:
        assert stream.wait(10**9) == whole.content_frames
        n = whole.content_frames
        assert np.array_equal(stream.mel(0, n), whole.mel[:, :n])
        assert np.array_equal(stream.samples(0, len(samples)), samples)
        for start in range(0, n, 1234):  # windows anywhere, in any order
            assert np.array_equal(stream.mel(start, min(n, start + 3000)), whole.mel[:, start : min(n, start + 3000)])


def test_a_demuxer_without_stream_is_adapted(jfk_path):
    class WholeOnly:
        def demux(self, source, spec):
            return Audio(np.arange(10, dtype=np.float32), spec.sample_rate, source)

    chunks = list(audio_chunks(WholeOnly(), "x", FeatureSpec()))
    assert len(chunks) == 1 and np.array_equal(chunks[0], np.arange(10, dtype=np.float32))
    with pytest.raises(mediakit.errors.ConfigError, match="cannot read a live input"):
        audio_chunks(WholeOnly(), "x", FeatureSpec(), live=True)


def test_the_ffmpeg_stream_is_the_demuxed_audio(jfk_path):
    demuxer = FfmpegDemuxer(DemuxOptions())
    whole = demuxer.demux(str(jfk_path), FeatureSpec())
    assert np.array_equal(np.concatenate(list(demuxer.stream(str(jfk_path), FeatureSpec()))), whole.samples)


# --- transcripts: the streamed path decodes the same windows --------------------------------------------


@pytest.fixture(scope="module")
def tiny():
    return mediakit.load_model("tiny.en", device="cpu", threads=1)


def _both(model, path: Path, **options):
    decode, demux_options = _split_options(options)
    stages = Stages(
        model.pm, model.model, make_featurizer(model.pm, model.model),
        decoder_registry(model.pm).get("whisper").factory(decode), (), demux_options,
    )
    whole = transcribe_audio(stages, demux(stages, str(path)))
    emitted = []
    streamed = transcribe_stream(stages, str(path), emit=emitted.append)
    return whole, streamed, emitted


@pytest.mark.weights
@pytest.mark.parametrize("options", [{"word_timestamps": True}, {"vad": True}], ids=["words", "vad"])
def test_streamed_transcripts_are_identical_on_jfk(tiny, jfk_path, options):
    whole, streamed, emitted = _both(tiny, jfk_path, **options)
    assert whole.segments and streamed.to_dict() == whole.to_dict()
    assert tuple(emitted) == whole.segments  # every segment emitted once, in order, as written


@pytest.mark.weights
@pytest.mark.shared
@pytest.mark.parametrize("options", [{}, {"batch_size": 4}], ids=["default", "batched"])
def test_streamed_transcripts_are_identical_over_several_windows(tiny, shared_speech, options):
    path = shared_speech / "en_mfa_spontaneous_two_channel_stereo.wav"  # 52 s: two windows and more
    whole, streamed, emitted = _both(tiny, path, **options)
    assert len({s.seek for s in whole.segments}) >= 2
    assert streamed.to_dict() == whole.to_dict()
    assert tuple(emitted) == whole.segments


# --- live input --------------------------------------------------------------------------------------


def _wav(tmp_path: Path, source: Path, seconds: float, name: str) -> bytes:
    """``seconds`` of ``source`` (looped) as 16 kHz mono WAV bytes."""
    out = tmp_path / name
    ffmpeg = locate_ffmpeg(None).path
    subprocess.run(
        [ffmpeg, "-nostdin", "-hide_banner", "-loglevel", "error", "-stream_loop", "-1", "-i", str(source),
         "-t", str(seconds), "-ac", "1", "-ar", "16000", "-y", str(out)],
        check=True, timeout=60,
    )
    return out.read_bytes()


def _cli(*args: str, **kwargs) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(ROOT), str(ROOT / "plugins"), os.environ.get("PYTHONPATH", "")]))
    return subprocess.Popen([sys.executable, "-m", "mediakit", "-v", "transcribe", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)


def _parse_srt(text: str) -> list:
    srt = pytest.importorskip("srt")
    return list(srt.parse(text))


@pytest.mark.weights
def test_live_stdin_at_real_time_pace_ends_cleanly_on_ctrl_c(tmp_path, jfk_path):
    audio = _wav(tmp_path, jfk_path, 20.0, "twenty.wav")  # jfk twice and a bit
    out = tmp_path / "out"
    proc = _cli("-", "--live", "-m", "tiny.en", "-f", "all", "-o", str(out), stdin=subprocess.PIPE)
    second = 32000  # bytes of 16 kHz 16-bit mono audio per second

    def feed():
        try:
            proc.stdin.write(audio[:44])
            for at in range(44, len(audio), second // 10):
                proc.stdin.write(audio[at : at + second // 10])
                proc.stdin.flush()
                time.sleep(0.1)  # real time
        except (BrokenPipeError, ValueError, OSError):
            pass

    feeder = threading.Thread(target=feed, daemon=True)
    feeder.start()
    time.sleep(14)  # the model loads, then ~12 s of speech arrive; no window of 30 s is complete
    proc.send_signal(signal.SIGINT)
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr.decode()
    cues = _parse_srt((out / "stdin.srt").read_text(encoding="utf-8"))
    assert cues and "fellow americans" in " ".join(c.content.lower() for c in cues)
    assert cues[-1].end.total_seconds() < 18  # stopped before the end of what was being sent
    data = json.loads((out / "stdin.json").read_text())
    assert [s["text"].strip() for s in data["segments"]] == [c.content for c in cues]
    assert (out / "stdin.vtt").read_text().startswith("WEBVTT\n\n")
    assert "latency from speech to line" in stderr.decode()


class _GrowingFile(BaseHTTPRequestHandler):
    path_on_disk: Path
    done: threading.Event

    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "audio/wav")
        self.end_headers()  # no length: the file grows; the response ends when the connection closes
        sent = 0
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            data = self.path_on_disk.read_bytes()[sent:]
            if data:
                self.wfile.write(data)
                self.wfile.flush()
                sent += len(data)
            elif self.done.is_set():
                return
            else:
                time.sleep(0.05)

    def log_message(self, *args):
        pass


@pytest.mark.weights
def test_a_growing_file_over_http_gives_subtitles_that_grow_cue_by_cue(tmp_path, jfk_path):
    audio = _wav(tmp_path, jfk_path, 44.0, "long.wav")
    growing = tmp_path / "growing.wav"
    growing.write_bytes(audio[: 44 + 32000 * 34])  # 34 s: one whole window and the lookahead it needs
    handler = type("Handler", (_GrowingFile,), {"path_on_disk": growing, "done": threading.Event()})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    out = tmp_path / "out"
    try:
        proc = _cli(f"http://127.0.0.1:{server.server_address[1]}/radio.wav", "--live", "-m", "tiny.en",
                    "-f", "srt", "-f", "json", "-o", str(out), stdin=subprocess.DEVNULL)
        srt_file = out / "radio.srt"
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (srt_file.exists() and srt_file.read_text().count("-->") >= 1):
            assert proc.poll() is None, proc.stderr.read().decode()
            time.sleep(0.2)
        early = _parse_srt(srt_file.read_text(encoding="utf-8"))  # valid while the stream goes on
        assert early and not (out / "radio.json").exists()
        with open(growing, "ab") as f:
            f.write(audio[44 + 32000 * 34 :])
        handler.done.set()
        stdout, stderr = proc.communicate(timeout=120)
    finally:
        server.shutdown()
    assert proc.returncode == 0, stderr.decode()
    cues = _parse_srt(srt_file.read_text(encoding="utf-8"))
    assert len(cues) > len(early) and cues[: len(early)] == early
    assert cues[-1].end.total_seconds() > 34
    assert len(json.loads((out / "radio.json").read_text())["segments"]) == len(cues)


@pytest.mark.parametrize(
    "args, message",
    [
        (["-", "--live", "--vad"], "--vad and --batch_size need the whole input"),
        (["-", "--live", "--batch_size", "4"], "--vad and --batch_size need the whole input"),
        (["a.wav", "b.wav", "--live"], "exactly one input"),
    ],
)
def test_live_refuses_what_needs_the_whole_input(args, message):
    from typer.testing import CliRunner

    from mediakit.cli import app

    result = CliRunner().invoke(app, ["transcribe", *args])
    assert result.exit_code == 1 and message in result.output
