"""The server's options, set once by ``mediakit serve`` (or a test) and read by every part of the app."""

from __future__ import annotations

import os
from dataclasses import dataclass

#: OpenAI's model names that mean "the server's default model".
DEFAULT_ALIASES = ("whisper-1",)


@dataclass(frozen=True)
class ServerSettings:
    host: str = "127.0.0.1"  # loopback by default; anything else needs an API key (or allow_no_key)
    port: int = 8000
    models: tuple[str, ...] = ("base",)  # names or paths served; the first is the default (and whisper-1)
    api_key: str | None = None  # Bearer key every /v1 route requires; None = no key (loopback only)
    allow_no_key: bool = False  # bind a non-loopback host without a key, on purpose
    max_upload_mb: float = 1024.0  # larger uploads get 413; 0 = no limit
    max_queue: int = 16  # requests waiting for a worker beyond those running; more get 429
    workers: int = 1  # inference threads sharing the loaded models
    threads: int = 0  # torch CPU threads; 0 = torch's default
    device: str = "auto"  # auto, cpu, cuda, cuda:N
    compute_type: str = "auto"  # auto, float32, float16, bfloat16, int8
    model_dir: str | None = None  # model cache; None = MEDIAKIT_MODEL_DIR or ~/.cache/mediakit
    vad: bool | None = None  # server default for the vad field; None = decoder's default (off unless batched)
    batch_size: int = 0  # > 0: batched mode by default, and up to this many windows of any requests decoded at once
    tmp_dir: str | None = None  # where uploads are spooled; None = the system's temp dir
    retry_after: int = 5  # seconds a 429 or 503 asks the client to wait
    access_log: bool = True  # one line per request on the mediakit.server.access logger
    root_path: str = ""  # path prefix when served behind a reverse proxy under a sub-path
    disabled_plugins: tuple[str, ...] = ()  # plugins not loaded (as --disable-plugin)
    # The jobs API (mediakit/server/jobs):
    data_dir: str | None = None  # job database and results; None = a temporary folder removed at exit
    allow_dir: tuple[str, ...] = ()  # folders whose files a job may name by path; () = uploads only
    keep_days: float = 7.0  # finished jobs and their files are removed after this many days; 0 = kept

    @property
    def default_model(self) -> str:
        return self.models[0]

    @property
    def max_upload_bytes(self) -> int | None:
        return None if self.max_upload_mb <= 0 else int(self.max_upload_mb * 1024 * 1024)

    @property
    def is_loopback(self) -> bool:
        return self.host in ("127.0.0.1", "localhost", "::1") or self.host.startswith("127.")


def api_key_from_env() -> str | None:
    return os.environ.get("MEDIAKIT_API_KEY") or None
