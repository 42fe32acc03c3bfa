"""``mediakit serve``: an OpenAI-compatible transcription server (needs ``mediakit[server]``)."""

from __future__ import annotations

import gc
import os
from typing import Annotated, Optional

import typer

from ..errors import ConfigError
from .common import disabled_plugins
from .transcribe import _opt

SERVER = "Server"
LIMITS = "Limits and workers"
MODEL = "Model"
JOBS = "Jobs and the web page"


def serve(
    model: Annotated[list[str], _opt("--model", "-m", help="Model name or path to serve; repeat (or comma-separate) for several. The first is the default and answers to whisper-1.", rich_help_panel=MODEL)] = ["base"],  # noqa: B006
    host: Annotated[str, _opt("--host", help="Address to bind; anything but loopback needs --api_key.", rich_help_panel=SERVER)] = "127.0.0.1",
    port: Annotated[int, _opt("--port", help="TCP port.", rich_help_panel=SERVER)] = 8000,
    api_key: Annotated[Optional[str], _opt("--api_key", help="Bearer key every /v1 route requires [default: $MEDIAKIT_API_KEY].", rich_help_panel=SERVER, show_default=False)] = None,
    allow_no_key: Annotated[bool, _opt("--allow_no_key", help="Bind a non-loopback host without a key, on purpose.", rich_help_panel=SERVER)] = False,
    root_path: Annotated[str, _opt("--root_path", help="Path prefix when a reverse proxy serves it under a sub-path.", rich_help_panel=SERVER)] = "",
    access_log: Annotated[bool, _opt("--access_log/--no_access_log", help="One log line per request.", rich_help_panel=SERVER)] = True,
    max_upload_mb: Annotated[float, _opt("--max_upload_mb", help="Larger uploads get 413; 0 = no limit.", rich_help_panel=LIMITS)] = 1024.0,
    max_queue: Annotated[int, _opt("--max_queue", help="Requests that may wait for a worker; more get 429 with Retry-After.", rich_help_panel=LIMITS)] = 16,
    workers: Annotated[Optional[int], _opt("--workers", help="Inference threads sharing the loaded models [default: 1, or N with --batch_size N].", rich_help_panel=LIMITS, show_default=False)] = None,
    batch_size: Annotated[int, _opt("--batch_size", help="Decode up to N speech windows of any concurrent requests at once (requests use batched mode unless they send batch_size=0 or a prompt); 0 = each request alone.", rich_help_panel=LIMITS)] = 0,
    retry_after: Annotated[int, _opt("--retry_after", help="Seconds a 429 or 503 asks clients to wait.", rich_help_panel=LIMITS)] = 5,
    tmp_dir: Annotated[Optional[str], _opt("--tmp_dir", help="Where uploads are spooled [default: the system's temp dir].", rich_help_panel=LIMITS)] = None,
    threads: Annotated[int, _opt("--threads", help="CPU threads for torch; 0 = torch's default.", rich_help_panel=MODEL)] = 0,
    device: Annotated[str, _opt("--device", help="auto, cpu, cuda, cuda:N.", rich_help_panel=MODEL)] = "auto",
    compute_type: Annotated[str, _opt("--compute_type", help="auto (exact: float32 on the CPU), float32, mixed, float16, bfloat16 or int8.", rich_help_panel=MODEL)] = "auto",
    model_dir: Annotated[Optional[str], _opt("--model_dir", help="Model cache [default: $MEDIAKIT_MODEL_DIR or ~/.cache/mediakit].", rich_help_panel=MODEL)] = None,
    data_dir: Annotated[Optional[str], _opt("--data_dir", help="Jobs API: job database and results [default: $MEDIAKIT_DATA_DIR or ~/.local/share/mediakit/server].", rich_help_panel=JOBS, show_default=False)] = None,
    allow_dir: Annotated[Optional[list[str]], _opt("--allow_dir", help="Jobs API: a folder whose files jobs may name by path (repeatable); default: uploads only.", rich_help_panel=JOBS, show_default=False)] = None,
    keep_days: Annotated[float, _opt("--keep_days", help="Jobs API: remove finished jobs and their files after this many days; 0 = keep.", rich_help_panel=JOBS)] = 7.0,
    vad: Annotated[Optional[bool], _opt("--vad/--no-vad", help="Server default for the vad field (requests may override it).", rich_help_panel=MODEL, show_default=False)] = None,
) -> None:
    """Serve OpenAI's audio API (/v1/audio/transcriptions, /translations, /v1/models) with mediakit."""
    try:
        from ..server.run import serve as run
        from ..server.settings import ServerSettings, api_key_from_env
    except ModuleNotFoundError as err:
        raise ConfigError(f"mediakit serve needs the server extra ({err.name} is missing): pip install 'mediakit[server]'") from err
    if batch_size < 0:
        raise ConfigError(f"--batch_size must not be negative, got {batch_size}")
    gc.enable()  # main() starts without the collector; a server runs for days
    names = tuple(dict.fromkeys(part.strip() for item in model for part in item.split(",") if part.strip()))
    settings = ServerSettings(
        host=host,
        port=port,
        models=names,
        api_key=api_key or api_key_from_env(),
        allow_no_key=allow_no_key,
        max_upload_mb=max_upload_mb,
        max_queue=max_queue,
        workers=workers if workers is not None else max(1, batch_size),
        batch_size=batch_size,
        threads=threads,
        device=device,
        compute_type=compute_type,
        model_dir=model_dir or os.environ.get("MEDIAKIT_MODEL_DIR"),
        vad=vad,
        tmp_dir=tmp_dir,
        retry_after=retry_after,
        access_log=access_log,
        root_path=root_path,
        disabled_plugins=disabled_plugins(),
        data_dir=data_dir or os.environ.get("MEDIAKIT_DATA_DIR") or os.path.expanduser("~/.local/share/mediakit/server"),
        allow_dir=tuple(os.path.abspath(d) for d in allow_dir or ()),
        keep_days=keep_days,
    )
    run(settings)


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
