"""Helpers for the server tests: a real `mediakit serve` process on a free loopback port."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the server extra is not installed: pip install -e '.[server]'")
openai = pytest.importorskip("openai", reason="the openai client is a test dependency")
try:  # the openai client's HTTP library: httpx2 in its newer releases, httpx before
    import httpx2 as httpx
except ImportError:
    httpx = pytest.importorskip("httpx")

DATA = Path(__file__).resolve().parents[1] / "data"
KEY = "sk-test-mediakit"


@dataclass
class Server:
    url: str  # http://127.0.0.1:PORT
    key: str | None
    upload_dir: Path  # --tmp_dir: the server's temporary uploads live below it
    process: subprocess.Popen
    log: Path

    def client(self, **kwargs) -> "openai.OpenAI":
        kwargs.setdefault("max_retries", 0)
        kwargs.setdefault("timeout", 120)
        return openai.OpenAI(base_url=self.url + "/v1", api_key=self.key or "unused", **kwargs)

    def metrics(self) -> str:
        return httpx.get(self.url + "/metrics", timeout=10).text

    def metric(self, name: str, **labels: str) -> float:
        """The value of one sample of /metrics (0 when absent)."""
        wanted = ",".join(f'{k}="{v}"' for k, v in labels.items())
        pattern = re.escape(name) + (r"\{" + re.escape(wanted) + r"\}" if labels else "") + r" ([0-9.eE+-]+)$"
        for line in self.metrics().splitlines():
            match = re.match(pattern, line)
            if match:
                return float(match.group(1))
        return 0.0

    def leftovers(self) -> list[Path]:
        """Files under the upload folder (there should be none between requests)."""
        return [p for p in self.upload_dir.rglob("*") if p.is_file()]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(tmp: Path, *args: str, key: str | None = KEY, timeout: float = 180.0) -> Server:
    port = _free_port()
    uploads = tmp / "uploads"
    log = tmp / "server.log"
    tmp.mkdir(parents=True, exist_ok=True)
    command = [sys.executable, "-m", "mediakit", "serve", "--port", str(port), "--tmp_dir", str(uploads), *args]
    if "--data_dir" not in args:  # the jobs API's state stays in the test's folder, not in ~/.local/share
        command += ["--data_dir", str(tmp / "data")]
    if key:
        command += ["--api_key", key]
    env = {k: v for k, v in os.environ.items() if k != "MEDIAKIT_API_KEY"}
    with open(log, "wb") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
    server = Server(f"http://127.0.0.1:{port}", key, uploads, process, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"mediakit serve exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(server.url + "/ready", timeout=2).status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    stop_server(server)
    raise RuntimeError(f"mediakit serve not ready after {timeout} s:\n{log.read_text()[-3000:]}")


def stop_server(server: Server) -> None:
    if server.process.poll() is None:
        server.process.send_signal(signal.SIGINT)
        try:
            server.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.process.kill()
            server.process.wait(timeout=10)




def jfk_samples():
    """The JFK clip of tests/data decoded by mediakit's demux stage: (n,) float32, 16 kHz mono."""
    from mediakit.config import DemuxOptions
    from mediakit.pipeline import demuxer_for
    from mediakit.plugins import load_plugins
    from mediakit.records import FeatureSpec

    source = str(DATA / "jfk.flac")
    return demuxer_for(load_plugins().pm, source, DemuxOptions()).demux(source, FeatureSpec()).samples


def write_wav(path: Path, samples) -> Path:
    """``samples`` (float, 16 kHz mono) as a 16-bit PCM WAV at ``path``."""
    import wave

    import numpy as np

    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(16000)
        out.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def repeated_jfk(path: Path, times: int) -> Path:
    """A 16 kHz mono WAV of the JFK clip said ``times`` times over (11 s each): long media from tests/data."""
    import numpy as np

    return write_wav(path, np.tile(jfk_samples(), times))


def kill_server(server: Server) -> None:
    """SIGKILL: no shutdown code runs, as when the machine or the OOM killer stops the server."""
    server.process.kill()
    server.process.wait(timeout=10)
