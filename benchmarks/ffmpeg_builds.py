"""Broken and odd inputs through several ffmpeg builds: are mediakit's messages and decoded audio the same?

    python benchmarks/ffmpeg_builds.py /usr/bin/ffmpeg                 # against the bundled binary
    python benchmarks/ffmpeg_builds.py /usr/bin/ffmpeg ~/ffmpeg-4.4/ffmpeg --folder my_broken_files

Makes 24 broken files (or takes every file in --folder), then for each build runs the demuxer and
probe on each and prints, per file, the error or warning line and the decoded length; files where the
builds disagree are marked DIFF. Exit status 1 when any file differs. Not part of the test suite.
"""

from __future__ import annotations

import argparse
import logging
import random
import subprocess
import sys
import tempfile
from pathlib import Path

from mediakit.config import DemuxOptions
from mediakit.errors import MediakitError
from mediakit.records import FeatureSpec
from mediakit_ffmpeg import FfmpegDemuxer

JFK = Path(__file__).resolve().parents[1] / "tests" / "data" / "jfk.flac"


def make_corpus(folder: Path) -> None:
    import imageio_ffmpeg

    exe = imageio_ffmpeg.get_ffmpeg_exe()

    def ffmpeg(*args: str) -> None:
        subprocess.run([exe, "-nostdin", "-v", "error", "-y", *args], check=True)

    whole = {"mp4": ["-c:a", "aac"], "fast.mp4": ["-c:a", "aac", "-movflags", "+faststart"], "wav": ["-ar", "16000", "-ac", "1"],
             "mp3": ["-c:a", "libmp3lame"], "opus": ["-c:a", "libopus"], "mkv": ["-c:a", "libopus"], "ogg": ["-c:a", "libvorbis"]}  # fmt: skip
    data = {}
    with tempfile.TemporaryDirectory() as tmp:
        for suffix, args in whole.items():
            ffmpeg("-i", str(JFK), *args, f"{tmp}/whole.{suffix}")
            data[suffix] = Path(f"{tmp}/whole.{suffix}").read_bytes()
    for name in ("img.jpg", "img.png"):
        ffmpeg("-f", "lavfi", "-i", "testsrc=size=64x48:duration=1", "-frames:v", "1", str(folder / name))
    rng = random.Random(1)
    flac = JFK.read_bytes()
    cuts = {"truncated.mp4": data["mp4"][: len(data["mp4"]) // 2], "truncated_faststart.mp4": data["fast.mp4"][: len(data["fast.mp4"]) // 2],
            "truncated.wav": data["wav"][: len(data["wav"]) // 2], "truncated.mp3": data["mp3"][: int(len(data["mp3"]) * 0.3)],
            "truncated.opus": data["opus"][: int(len(data["opus"]) * 0.4)], "truncated.mkv": data["mkv"][: int(len(data["mkv"]) * 0.4)],
            "truncated.ogg": data["ogg"][: int(len(data["ogg"]) * 0.4)], "header_only.mkv": data["mkv"][:300],
            "wav_44_bytes.wav": data["wav"][:44], "mp4_head.mp4": data["mp4"][:64], "truncated.flac": flac[: int(len(flac) * 0.3)],
            "short_head.flac": flac[:3000], "notes.wav": b"these are my notes, not a recording\n", "notes.txt": b"Meeting notes\n" * 100,
            "random.mp3": bytes(rng.randrange(256) for _ in range(50000)), "random.bin": bytes(rng.randrange(256) for _ in range(50000)),
            "page.mp3": b"<!DOCTYPE html><html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>\n",
            "zeros.wav": bytes(30000), "badfmt.wav": data["wav"][:20] + b"\xff" * 16 + data["wav"][36:],
            "corrupt_mid.mp3": data["mp3"][:20000] + bytes(rng.randrange(256) for _ in range(20000)) + data["mp3"][40000:],
            "pdf.m4a": b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n" * 50,
            "id3only.mp3": b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(2048)}  # fmt: skip
    for name, content in cuts.items():
        (folder / name).write_bytes(content)


class _Keep(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def outcome(exe: str, path: Path, keep: _Keep) -> str:
    demuxer = FfmpegDemuxer(DemuxOptions(ffmpeg=exe))
    keep.messages.clear()
    try:
        audio = demuxer.demux(str(path), FeatureSpec())
        decoded = f"decoded {len(audio.samples)} samples"
    except MediakitError as error:
        decoded = f"Error: {error}"
    try:
        info = demuxer.probe(str(path))
        probed = f"probe: {info.container}, " + ", ".join(f"{s.type} {s.codec}" for s in info.streams)
    except MediakitError as error:
        probed = f"probe Error: {error}"
    return " | ".join([decoded, *keep.messages, probed])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("builds", nargs="+", help="ffmpeg binaries to compare with the bundled one")
    parser.add_argument("--folder", type=Path, help="broken files to use instead of the made ones")
    args = parser.parse_args()
    keep = _Keep()
    logger = logging.getLogger("mediakit_ffmpeg")
    logger.addHandler(keep)
    logger.setLevel(logging.WARNING)
    builds = ["bundled", *args.builds]
    for exe in builds:
        print(FfmpegDemuxer(DemuxOptions(ffmpeg=exe)).ffmpeg().describe())
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.folder or Path(tmp)
        if args.folder is None:
            make_corpus(folder)
        differ = 0
        paths = sorted(p for p in folder.iterdir() if p.is_file())
        for path in paths:
            results = [outcome(exe, path, keep).replace(str(path), path.name) for exe in builds]
            same = all(r == results[0] for r in results)
            differ += not same
            print(f"{'same' if same else 'DIFF'}  {path.name}")
            for exe, result in zip(builds, results) if not same else [("all", results[0])]:
                print(f"    [{exe}] {result}")
        print(f"{differ} of {len(paths)} files differ")
    return 1 if differ else 0


if __name__ == "__main__":
    sys.exit(main())
