"""Peak memory (RSS) against input duration: the streamed pipeline against the whole-input one.

Long inputs are not files on disk: an ffconcat list names one real recording of the shared speech set
(David Copperfield, 141.7 s of MP3) as often as the duration needs, and ffmpeg's concat demuxer plays
it through, so a 10-hour input costs a few kilobytes of list.

Each figure is the peak RSS of a fresh Python process (``ru_maxrss``; ffmpeg's own process is not
counted, it streams in constant memory either way) doing one of:

* ``features``: demux and features only, to the end of the input. ``--path stream``: the streamed
  path (:func:`mediakit.pipeline.stream_features`, what ``mediakit transcribe`` does now);
  ``--path whole``: demux to one array, then the whole spectrogram (what it did before);
  ``--path openai-whisper`` (when installed): its ``load_audio`` and ``log_mel_spectrogram`` with 30 s of
  padding, what its ``transcribe()`` does before the first window (its ffmpeg: the one on PATH).
* ``full``: the whole pipeline with a model (``transcribe_stream`` plus the five writers), with the
  decoding limited to the last ``--decode_last`` seconds (``clip_timestamps``), so that a long input
  is demuxed, featurized (and VAD-scanned with ``--vad``) to its end but only a few windows go through
  the model: on 2 shared cores decoding hours of audio takes hours. What grows with the number of
  decoded segments (the transcript itself, about 1 KB per segment) is therefore not in these figures.

    python benchmarks/memory.py --durations 600,3600,36000 --mode features
    python benchmarks/memory.py --durations 600,3600 --mode full --model tiny.en
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

SPEECH = ROOT.parent / "shared" / "data" / "speech"
RECORDING = "en_long_librivox_david_copperfield_ch01_part09.mp3"
RECORDING_SECONDS = 141.676


def looped_input(directory: Path, seconds: float, speech: Path) -> Path:
    """An ffconcat list playing the recording as often as ``seconds`` needs (then cut with ``outpoint``)."""
    link = directory / "speech.mp3"
    if not link.exists():
        link.symlink_to(speech / RECORDING)
    lines = ["ffconcat version 1.0"]
    left = seconds
    while left > 0:
        lines.append("file speech.mp3")
        if left < RECORDING_SECONDS:
            lines.append(f"outpoint {left:.3f}")
        left -= RECORDING_SECONDS
    path = directory / f"loop_{int(seconds)}.ffconcat"
    path.write_text("\n".join(lines) + "\n")
    return path


def child(args: argparse.Namespace) -> None:
    """One measurement in this (fresh) process; prints a JSON line."""
    import mediakit
    from mediakit.api import _split_options
    from mediakit.config import DemuxOptions, WriterOptions
    from mediakit.outputs import targets_for, write_outputs
    from mediakit.pipeline import Stages, decoder_registry, demux, make_featurizer, make_writers, stream_features, transcribe_stream

    started = time.perf_counter()
    result: dict = {}
    if args.mode == "features":
        from mediakit.records import FeatureSpec
        from mediakit_ffmpeg.demuxer import FfmpegDemuxer
        from mediakit_logmel.featurizer import LogMelFeaturizer

        class _Model:
            feature_spec = FeatureSpec()

        from mediakit.plugins import load_plugins

        pm = load_plugins(()).pm
        stages = Stages(pm, _Model(), LogMelFeaturizer(FeatureSpec()), None, (), DemuxOptions())
        if args.path == "stream":
            with stream_features(stages, args.input) as features:
                result["frames"] = features.wait(10**12)
        elif args.path == "openai-whisper":  # what its transcribe() does before the first window
            import whisper

            mel = whisper.log_mel_spectrogram(whisper.load_audio(args.input), padding=whisper.audio.N_SAMPLES)
            result["frames"] = mel.shape[-1] - whisper.audio.N_FRAMES
        else:
            audio = FfmpegDemuxer(DemuxOptions()).demux(args.input, FeatureSpec())
            result["frames"] = stages.featurizer.featurize(audio).content_frames
    else:
        model = mediakit.load_model(args.model, device="cpu", threads=args.threads)
        options = {"clip_timestamps": f"{max(0.0, args.seconds - args.decode_last):.3f}"}
        if args.vad:
            options["vad"] = True
        if args.batch_size:
            options["batch_size"] = args.batch_size
        if args.word_timestamps:
            options["word_timestamps"] = True
        decode, demux_options = _split_options(options)
        writers = make_writers(model.pm, ("all",), WriterOptions())
        stages = Stages(model.pm, model.model, make_featurizer(model.pm, model.model),
                        decoder_registry(model.pm).get("whisper").factory(decode), writers, demux_options)
        with tempfile.TemporaryDirectory() as out:
            if args.path == "stream":
                transcript = transcribe_stream(stages, args.input)
            else:
                from mediakit.pipeline import transcribe_audio

                transcript = transcribe_audio(stages, demux(stages, args.input))
            write_outputs(transcript, targets_for("out", writers, out))
        result["segments"] = len(transcript.segments)
    result["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    result["wall_s"] = time.perf_counter() - started
    print(json.dumps(result))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--durations", default="600,3600", help="comma-separated seconds of input")
    parser.add_argument("--mode", choices=("features", "full"), default="features")
    parser.add_argument("--paths", default="stream,whole", help="stream, whole or both (comma-separated)")
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--decode_last", type=float, default=60.0, help="full mode: seconds decoded at the end")
    parser.add_argument("--vad", action="store_true")
    parser.add_argument("--batch_size", type=int, default=0)
    parser.add_argument("--word_timestamps", action="store_true")
    parser.add_argument("--max_whole_seconds", type=float, default=3600.0, help="skip the whole path above this")
    parser.add_argument("--speech", default=str(SPEECH))
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--input", help=argparse.SUPPRESS)
    parser.add_argument("--path", help=argparse.SUPPRESS)
    parser.add_argument("--seconds", type=float, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return

    from benchmarks.machine import describe

    print(describe())
    print(f"load average: {os.getloadavg()[0]:.2f}")
    extra = [f"--{k}" for k in ("vad", "word_timestamps") if getattr(args, k)]
    if args.batch_size:
        extra += ["--batch_size", str(args.batch_size)]
    label = args.mode + (" " + " ".join(extra) if extra else "")
    print(f"mode: {label}; input: {RECORDING} looped with ffmpeg's concat demuxer")
    print(f"{'duration':>10} {'path':>7} {'peak RSS MB':>12} {'wall s':>8}  detail")
    with tempfile.TemporaryDirectory(prefix="mediakit-memory-") as tmp:
        for seconds in (float(s) for s in args.durations.split(",")):
            source = looped_input(Path(tmp), seconds, Path(args.speech))
            for path in args.paths.split(","):
                if path != "stream" and seconds > args.max_whole_seconds:
                    continue
                command = [sys.executable, __file__, "--child", "--mode", args.mode, "--path", path,
                           "--input", str(source), "--seconds", str(seconds), "--model", args.model,
                           "--threads", str(args.threads), "--decode_last", str(args.decode_last), *extra]
                done = subprocess.run(command, capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{seconds:>10.0f} {path:>7} failed: {done.stderr.strip().splitlines()[-1:]}", flush=True)
                    continue
                row = json.loads(done.stdout.strip().splitlines()[-1])
                detail = {k: v for k, v in row.items() if k not in ("peak_rss_mb", "wall_s")}
                print(f"{seconds:>10.0f} {path:>7} {row['peak_rss_mb']:>12.1f} {row['wall_s']:>8.1f}  {detail}", flush=True)


if __name__ == "__main__":
    main()
