"""Whole commands, timed as a user times them: ``mediakit transcribe`` against faster-whisper.

    python benchmarks/commands.py                          # english.wav and long.wav, 3 rounds
    python benchmarks/commands.py --files long --rounds 5
    python benchmarks/commands.py --audio lecture.mp3      # any file (no WER)
    python benchmarks/commands.py --engines mediakit mediakit-norepair mediakit-int8 faster-whisper-int8
    python benchmarks/commands.py --peer-python ~/fw/bin/python   # faster-whisper in a venv of its own
    python benchmarks/commands.py --engines mediakit-batched-int8 faster-whisper-batched-int8 faster-whisper

Each round runs every engine once, in turn (A B C A B C ...): this machine's speed drifts by up to
30% within minutes, and interleaving lets the drift hit every engine alike. The wall time is the
process's, from start to exit (interpreter, imports, model loading, decoding the file, writing the
text), and the peak memory is the process's maximum RSS (``os.wait4``).

- mediakit runs its command: ``python -m mediakit transcribe FILE --model base -f txt --language en
  --verbose False`` (openai-whisper's defaults otherwise: beam 5, best_of 5, the temperature ladder,
  previous-text conditioning), and with ``--batch_size 8`` for the batched row.
- faster-whisper has no command of its own: the smallest script with the same settings runs instead,
  in float32 and int8, on the same CTranslate2 base files (see speed.py).

faster-whisper is optional: without it only mediakit's rows are printed. Nothing here is part of
the test suite.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from machine import describe  # noqa: E402
from speed import SHARED, TEMPERATURES, build_recordings, ct2_base_dir, installed, wer  # noqa: E402

ENGINES = ("mediakit", "mediakit-batched", "faster-whisper", "faster-whisper-int8")
#: mediakit's opt-in variants (not run unless named): the arguments each adds to the default command.
VARIANTS = {
    "mediakit-norepair": ["--no-repair"],
    "mediakit-mixed": ["--compute_type", "mixed"],
    "mediakit-int8": ["--compute_type", "int8"],
    "mediakit-batched-int8": ["--batch_size", "8", "--compute_type", "int8"],
}

#: faster-whisper's batched pipeline (not run unless named): compared with mediakit's batched mode.
PEER_BATCHED = ("faster-whisper-batched", "faster-whisper-batched-int8")

#: What a faster-whisper user runs: argv = model folder, audio, compute type, threads, output file,
#: batch size (0: the sequential ``WhisperModel.transcribe``; else ``BatchedInferencePipeline`` with its
#: own defaults otherwise: Silero VAD chunks, no timestamps).
FASTER_WHISPER = f"""
import sys
from faster_whisper import BatchedInferencePipeline, WhisperModel
model_dir, audio, compute_type, threads, out, batch = sys.argv[1:4] + [int(sys.argv[4]), sys.argv[5], int(sys.argv[6])]
model = WhisperModel(model_dir, device="cpu", compute_type=compute_type, cpu_threads=threads)
settings = dict(language="en", beam_size=5, best_of=5, temperature={list(TEMPERATURES)!r})
if batch:
    segments, _ = BatchedInferencePipeline(model).transcribe(audio, batch_size=batch, **settings)
else:
    segments, _ = model.transcribe(audio, condition_on_previous_text=True, **settings)
open(out, "w", encoding="utf-8").write("".join(s.text for s in segments))
"""


def command(engine: str, audio: Path, threads: int, out_dir: Path,
            peer_python: str = sys.executable) -> tuple[list[str], Path]:
    """The command line of ``engine`` on ``audio`` and the text file it writes."""
    if engine.startswith("mediakit"):
        cmd = [sys.executable, "-m", "mediakit", "transcribe", str(audio), "--model", "base", "-f", "txt",
               "--language", "en", "--verbose", "False", "--threads", str(threads), "-o", str(out_dir)]
        if engine == "mediakit-batched":
            cmd += ["--batch_size", "8"]
        cmd += VARIANTS.get(engine, [])
        return cmd, out_dir / (audio.stem + ".txt")
    out = out_dir / (audio.stem + ".txt")
    ctype = "int8" if engine.endswith("int8") else "float32"
    batch = "8" if engine in PEER_BATCHED else "0"
    return [peer_python, "-c", FASTER_WHISPER, str(ct2_base_dir()), str(audio), ctype, str(threads), str(out), batch], out


def peer_installed(engine: str, peer_python: str) -> bool:
    """Whether ``engine`` can run: mediakit here, faster-whisper in ``peer_python``."""
    if engine.startswith("mediakit") or peer_python == sys.executable:
        return installed(engine)
    probe = subprocess.run([peer_python, "-c", "import faster_whisper"], capture_output=True)
    return probe.returncode == 0


def run(cmd: list[str]) -> tuple[float, float, int]:
    """(wall seconds, peak RSS MB, exit status) of one process."""
    with tempfile.TemporaryFile() as errors:  # a file, not a pipe: a chatty child must not block
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=errors)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = code = os.waitstatus_to_exitcode(status)
        if code != 0:
            errors.seek(0)
            sys.stderr.write(errors.read().decode(errors="replace")[-2000:])
    return wall, usage.ru_maxrss / 1024, code


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--engines", nargs="+", default=list(ENGINES), choices=ENGINES + tuple(VARIANTS) + PEER_BATCHED)
    parser.add_argument("--files", nargs="+", default=["english", "long"], choices=["english", "long"])
    parser.add_argument("--audio", type=Path, action="append", help="a file of your own instead (repeatable)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--data", type=Path, default=SHARED)
    parser.add_argument("--peer-python", default=sys.executable,
                        help="the interpreter that has faster-whisper (a venv of its own), default this one")
    args = parser.parse_args(argv)

    reference = None
    if args.audio:
        files = {path.name: path for path in args.audio}
    else:
        if not (args.data / "manifest.tsv").exists():
            raise SystemExit(f"shared speech set not found at {args.data}; pass --audio FILE")
        english, long, reference = build_recordings(args.data)
        files = {name: {"english": english, "long": long}[name] for name in args.files}
    engines = [e for e in args.engines if peer_installed(e, args.peer_python)]
    for skipped in sorted(set(args.engines) - set(engines)):
        print(f"# {skipped}: not installed, skipped", file=sys.stderr)

    print(f"\n{describe()}")
    print(f"Whisper base, beam 5, best_of 5, {args.threads} threads, {args.rounds} interleaved rounds\n")
    print("| file | engine | wall s (each round) | median s | peak RSS MB | en WER % |")
    print("|---|---|---|---|---|---|")
    medians: dict[tuple[str, str], float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for name, path in files.items():
            walls: dict[str, list[float]] = {e: [] for e in engines}
            peaks: dict[str, float] = {}
            texts: dict[str, str] = {}
            for _ in range(args.rounds):
                for engine in engines:
                    out_dir = Path(tmp) / engine
                    out_dir.mkdir(exist_ok=True)
                    cmd, out = command(engine, path, args.threads, out_dir, args.peer_python)
                    wall, peak, status = run(cmd)
                    if status != 0:
                        print(f"# {engine} on {name} failed (exit {status})", file=sys.stderr)
                        continue
                    walls[engine].append(wall)
                    peaks[engine] = max(peaks.get(engine, 0.0), peak)
                    texts[engine] = out.read_text(encoding="utf-8")
            for engine in engines:
                if not walls[engine]:
                    continue
                medians[name, engine] = statistics.median(walls[engine])
                score = f"{wer(reference, texts[engine]):.2f}" if reference and name == "english" else "-"
                each = ", ".join(f"{w:.1f}" for w in walls[engine])
                print(f"| {name} | {engine} | {each} | {medians[name, engine]:.1f} | {peaks[engine]:.0f} | {score} |")
    print()
    for name in files:
        # issue 20's yardstick: faster-whisper's faster sequential configuration; batched rows also
        # against faster-whisper's faster batched one, when it ran
        for kind in ("sequential", "batched"):
            peers = {
                e: s for (f, e), s in medians.items()
                if f == name and e.startswith("faster-whisper") and (e in PEER_BATCHED) == (kind == "batched")
            }  # fmt: skip
            if not peers:
                continue
            best = min(peers, key=peers.get)
            for engine in ("mediakit", *VARIANTS, "mediakit-batched"):
                if (name, engine) in medians and (kind == "sequential" or "batched" in engine):
                    ratio = peers[best] / medians[name, engine]
                    print(f"{name}: {engine} is {ratio:.2f}x the speed of {best} (median whole commands)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
