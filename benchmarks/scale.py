"""Scale-out: throughput of the ray runner with 1, 2, ... workers, against the local runner, on real clips.

    python benchmarks/scale.py                        # tiny.en, workers 1..cores, 1 thread each
    python benchmarks/scale.py --model base --workers 1 2 4 8 --local-threads 8
    python benchmarks/scale.py --repeat 3             # the clip set three times (longer runs, steadier figures)

The clip set is fixed: the English clips of the shared speech set (../shared/data/speech, 13 short
clips, 131.8 s) plus its 141.7 s LibriVox chapter, 273.5 s in all, repeated ``--repeat`` times
under distinct names. Every configuration transcribes the same files with the same options
(beam 5, the CLI defaults) into a fresh folder through :func:`mediakit.runners.transcribe_batch`:

* ``local`` with ``--local-threads`` torch threads (default: all cores), the in-process loop;
* ``ray`` with N workers of ``--threads-per-worker`` threads each, on one local Ray cluster started
  once beforehand (its start is not timed; each run's worker start-up and model loads are).

Throughput is audio seconds per wall second; scaling efficiency is throughput(N) / (N x throughput(1)).
The targets of issue 19: 2 workers of 1 thread >= 1.8x one worker of 1 thread, and no slower than the
local runner with 2 threads. Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
#: next to the checkout (../shared), or next to the worktree folder a checkout sits in
SHARED = next((p / "shared" / "data" / "speech" for p in HERE.parents[1:3] if (p / "shared" / "data" / "speech").is_dir()),
              HERE.parents[1] / "shared" / "data" / "speech")
LONG_CLIP = "en_long_librivox_david_copperfield_ch01_part09.mp3"


def clip_set(repeat: int, folder: Path) -> tuple[list[Path], float]:
    rows = list(csv.DictReader((SHARED / "manifest.tsv").open(encoding="utf-8"), delimiter="\t"))
    chosen = [r for r in rows if r["language"] == "en"]
    paths, seconds = [], 0.0
    for round_ in range(repeat):
        for row in chosen:
            source = SHARED / row["file"]
            target = folder / f"r{round_}_{row['file']}"
            shutil.copyfile(source, target)
            paths.append(target)
            seconds += float(row["duration_s"])
    return paths, seconds


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except (OSError, subprocess.CalledProcessError):
        pass
    return platform.processor() or "unknown CPU"


def timed(label: str, run) -> float:
    started = time.perf_counter()
    summary = run()
    wall = time.perf_counter() - started
    if not summary.ok:
        failed = [r.error for r in summary.results if r.status == "failed"]
        raise SystemExit(f"{label}: {len(failed)} input(s) failed: {failed[:3]}")
    return wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    cores = os.cpu_count() or 1
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--workers", type=int, nargs="+", default=list(range(1, cores + 1)))
    parser.add_argument("--threads-per-worker", type=int, default=1)
    parser.add_argument("--local-threads", type=int, default=cores)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    if not (SHARED / "manifest.tsv").exists():
        raise SystemExit(f"the shared speech set is not at {SHARED}")

    import ray

    from mediakit.config import ModelOptions
    from mediakit.runners import transcribe_batch

    with tempfile.TemporaryDirectory(prefix="mediakit-scale-") as scratch:
        folder = Path(scratch) / "clips"
        folder.mkdir()
        clips, audio = clip_set(args.repeat, folder)
        import sys

        sys.path.insert(0, str(HERE))
        from machine import describe

        print(describe())
        print(f"{len(clips)} clips, {audio:.1f} s of audio, model {args.model}; CPU: {cpu_model()}, {cores} cores")

        def out(name: str) -> Path:
            return Path(scratch) / name

        local_wall = timed("local", lambda: transcribe_batch(
            clips, out("local"), model=args.model, model_options=ModelOptions(threads=args.local_threads)))
        cpus = max(args.workers) * args.threads_per_worker
        ray.init(address="local", num_cpus=cpus, include_dashboard=False, object_store_memory=128 * 2**20,
                 log_to_driver=False, logging_level="ERROR")
        try:
            walls = {}
            for n in args.workers:
                walls[n] = timed(f"ray x{n}", lambda n=n: transcribe_batch(
                    clips, out(f"ray{n}"), runner="ray", model=args.model, workers=n,
                    threads_per_worker=args.threads_per_worker))
        finally:
            ray.shutdown()

    print(f"\n| runner | workers x threads | wall s | audio s / wall s | vs 1 worker | efficiency |")
    print("|---|---|---|---|---|---|")
    print(f"| local | 1 x {args.local_threads} | {local_wall:.1f} | {audio / local_wall:.2f} | | |")
    one = audio / walls[min(walls)] if min(walls) == 1 else None
    for n, wall in walls.items():
        speed = audio / wall
        ratio = f"{speed / one:.2f}x" if one else ""
        efficiency = f"{speed / (n * one):.0%}" if one else ""
        print(f"| ray | {n} x {args.threads_per_worker} | {wall:.1f} | {speed:.2f} | {ratio} | {efficiency} |")
    if one and 2 in walls:
        two = audio / walls[2]
        print(f"\ntargets: 2 workers / 1 worker = {two / one:.2f}x (>= 1.8x: {'met' if two / one >= 1.8 else 'NOT met'}); "
              f"2 workers / local x{args.local_threads} = {two / (audio / local_wall):.2f}x "
              f"(>= 1.0: {'met' if two >= audio / local_wall else 'NOT met'})")


if __name__ == "__main__":
    main()
