"""Load on `mediakit serve`: N parallel OpenAI clients for a fixed time, against mediakit's own CLI.

    python benchmarks/serve_load.py                          # tiny.en, 4 clients, 60 s per server setup
    python benchmarks/serve_load.py --model base --clients 8 --batch_size 8 --duration 120

The clips are the English clips of the shared speech set (../shared/data/speech, the short ones: what
applications send to a transcription API), else tests/data/jfk.flac. Each setup starts its own
`mediakit serve` on a free loopback port (model load not timed); N clients (the official `openai`
package, no retries) each send clips one after another, round robin from their own starting clip,
as `verbose_json`, for ``--duration`` seconds, then the requests in flight finish. Setups:

* ``cli``: `mediakit transcribe` on the clip set once, sequentially (model load included, as a user
  sees it);
* ``serve``: the default server (one worker: requests one at a time);
* ``serve+batch_size``: the same server, each request sending ``batch_size=B`` (batched mode, each
  request's windows decoded alone): the reference for the next;
* ``serve --workers``: B workers, each request sending ``batch_size=B``: requests run concurrently,
  each decoding its own windows (concurrency without shared batches);
* ``serve --batch_size``: ``--batch_size B`` (B workers): windows of concurrent requests decoded
  together by the shared batcher.

Printed per setup: throughput (audio seconds per wall second), latency p50/p95/p99, requests, errors,
429s, the server's peak RSS (VmHWM), shared batches; and for the shared batcher, how many clips had the
same text as in ``serve+batch_size`` (the same request alone). Nothing here is part of the test suite.
"""

from __future__ import annotations

import argparse
import csv
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))
#: next to the checkout (../shared), or next to the worktree folder a checkout sits in
SHARED = next((p / "shared" / "data" / "speech" for p in HERE.parents[1:3] if (p / "shared" / "data" / "speech").is_dir()),
              HERE.parents[1] / "shared" / "data" / "speech")
#: Longer clips are left out: an API's typical request is a short recording.
MAX_CLIP_SECONDS = 60.0


def clip_set() -> list[tuple[Path, float]]:
    manifest = SHARED / "manifest.tsv"
    if not manifest.exists():
        return [(ROOT / "tests" / "data" / "jfk.flac", 11.0)]
    rows = list(csv.DictReader(manifest.open(encoding="utf-8"), delimiter="\t"))
    return [
        (SHARED / r["file"], float(r["duration_s"]))
        for r in rows
        if r["language"] == "en" and float(r["duration_s"]) <= MAX_CLIP_SECONDS
    ]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    k = (len(ordered) - 1) * q
    lo, hi = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


def peak_rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return float("nan")


@dataclass
class Outcome:
    name: str
    wall: float = 0.0
    audio: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    rejected: int = 0  # 429
    rss_mb: float = float("nan")
    shared_batches: float = 0.0
    batches: float = 0.0
    texts: dict[str, str] = field(default_factory=dict)  # clip -> text (first seen)

    def line(self) -> str:
        done = len(self.latencies)
        batches = f"  shared batches {self.shared_batches:.0f}/{self.batches:.0f}" if self.batches else ""
        return (
            f"{self.name:<26} {self.audio / self.wall if self.wall else 0:6.2f} audio s/s   "
            f"p50 {percentile(self.latencies, .5):6.2f} s  p95 {percentile(self.latencies, .95):6.2f} s  "
            f"p99 {percentile(self.latencies, .99):6.2f} s   requests {done:4d}  errors {self.errors}  "
            f"429 {self.rejected}   peak RSS {self.rss_mb:6.0f} MB{batches}"
        )


def metric(url: str, name: str) -> float:
    import httpx2 as httpx  # the openai client's HTTP library

    for line in httpx.get(url + "/metrics", timeout=10).text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    return 0.0


def run_cli(model: str, clips: list[tuple[Path, float]], threads: int) -> Outcome:
    out = Outcome("cli (sequential)")
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "mediakit", "transcribe", *[str(p) for p, _ in clips], "--model", model,
                   "--output_dir", folder, "--output_format", "txt"]  # fmt: skip
        if threads:
            command += ["--threads", str(threads)]
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(process.pid, 0)  # this child's own peak RSS
        out.wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        if process.returncode:
            raise RuntimeError(f"mediakit transcribe exited with {process.returncode}")
        out.rss_mb = usage.ru_maxrss / 1024  # KiB on Linux
    out.audio = sum(d for _, d in clips)
    out.latencies = [out.wall]
    return out


def run_server(name: str, args: list[str], clips, clients: int, duration: float, extra: dict, model: str) -> Outcome:
    import openai

    port = free_port()
    url = f"http://127.0.0.1:{port}"
    log = tempfile.NamedTemporaryFile(prefix="serve_load-", suffix=".log", delete=False)
    command = [sys.executable, "-m", "mediakit", "serve", "--port", str(port), "--model", model,
               "--max_queue", str(4 * clients), "--no_access_log", *args]  # fmt: skip
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT)
    out = Outcome(name)
    try:
        client = openai.OpenAI(base_url=url + "/v1", api_key="unused", max_retries=0, timeout=600)
        deadline = time.monotonic() + 300
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"{name}: the server did not start; see {log.name}")
            try:
                client.models.list()
                import httpx2 as httpx

                if httpx.get(url + "/ready", timeout=2).status_code == 200:
                    break
            except Exception:  # noqa: BLE001 -- not up yet
                pass
            time.sleep(0.3)
        lock = threading.Lock()
        stop_at = time.perf_counter() + duration

        def worker(offset: int) -> None:
            i = offset
            while time.perf_counter() < stop_at:
                path, seconds = clips[i % len(clips)]
                i += 1
                started = time.perf_counter()
                try:
                    with open(path, "rb") as f:
                        result = client.audio.transcriptions.create(
                            file=f, model="whisper-1", response_format="verbose_json", extra_body=extra
                        )
                except openai.RateLimitError:
                    with lock:
                        out.rejected += 1
                    time.sleep(1.0)
                    continue
                except Exception:  # noqa: BLE001 -- counted
                    with lock:
                        out.errors += 1
                    continue
                with lock:
                    out.latencies.append(time.perf_counter() - started)
                    out.audio += seconds
                    out.texts.setdefault(path.name, result.text)

        started = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(k * len(clips) // clients,)) for k in range(clients)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        out.wall = time.perf_counter() - started
        out.rss_mb = peak_rss_mb(process.pid)
        out.batches = metric(url, "mediakit_batches_total")
        out.shared_batches = metric(url, "mediakit_batches_shared_total")
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()
        os.unlink(log.name)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="tiny.en")
    parser.add_argument("--clients", type=int, default=4, help="parallel clients")
    parser.add_argument("--duration", type=float, default=60.0, help="seconds each server setup is loaded")
    parser.add_argument("--batch_size", type=int, default=4, help="B: windows per shared batch (and per request)")
    parser.add_argument("--threads", type=int, default=0, help="torch threads of the CLI and servers; 0 = torch's default")
    parser.add_argument("--setups", nargs="+",
                        default=["cli", "serve", "serve+batch_size", "serve --workers", "serve --batch_size"])
    args = parser.parse_args()

    from benchmarks.machine import describe

    print(describe())
    try:
        print("load:", os.getloadavg())
    except OSError:
        pass
    clips = clip_set()
    print(f"{len(clips)} clips, {sum(d for _, d in clips):.1f} s of audio; model {args.model}; {args.clients} clients; "
          f"{args.duration:.0f} s per server setup; batch_size {args.batch_size}")  # fmt: skip
    threads = ["--threads", str(args.threads)] if args.threads else []
    outcomes: dict[str, Outcome] = {}
    for setup in args.setups:
        if setup == "cli":
            outcomes[setup] = run_cli(args.model, clips, args.threads)
        elif setup == "serve":
            outcomes[setup] = run_server("serve (1 worker)", threads, clips, args.clients, args.duration, {}, args.model)
        elif setup == "serve+batch_size":
            outcomes[setup] = run_server(f"serve, batch_size={args.batch_size} each", threads, clips, args.clients,
                                         args.duration, {"batch_size": args.batch_size}, args.model)  # fmt: skip
        elif setup == "serve --workers":
            outcomes[setup] = run_server(f"serve --workers {args.batch_size}, batch_size={args.batch_size} each",
                                         threads + ["--workers", str(args.batch_size)], clips, args.clients,
                                         args.duration, {"batch_size": args.batch_size}, args.model)  # fmt: skip
        elif setup == "serve --batch_size":
            outcomes[setup] = run_server(f"serve --batch_size {args.batch_size}", threads + ["--batch_size", str(args.batch_size)],
                                         clips, args.clients, args.duration, {}, args.model)  # fmt: skip
        else:
            parser.error(f"unknown setup {setup!r}")
        print(outcomes[setup].line(), flush=True)
    alone, shared = outcomes.get("serve+batch_size"), outcomes.get("serve --batch_size")
    if alone and shared:
        common = sorted(set(alone.texts) & set(shared.texts))
        same = sum(alone.texts[c] == shared.texts[c] for c in common)
        print(f"shared batches vs each request alone (batched mode): same text for {same} of {len(common)} clips")
    if shared and shared.audio:
        for setup, other in outcomes.items():
            if other is not shared and other.audio and other.wall:
                ratio = (shared.audio / shared.wall) / (other.audio / other.wall)
                print(f"throughput, {shared.name} / {other.name}: {ratio:.2f}x")


if __name__ == "__main__":
    main()
