"""Run the app on uvicorn: what ``mediakit serve`` calls once its options are parsed."""

from __future__ import annotations

import logging
import sys

from ..errors import ConfigError, MediakitError, StageError
from .app import create_app
from .settings import ServerSettings

log = logging.getLogger("mediakit.server")


def check(settings: ServerSettings) -> None:
    """Refuse settings that are unsafe or cannot work, with the option to change."""
    if not settings.models:
        raise ConfigError("no model to serve; give --model NAME")
    if not settings.is_loopback and not settings.api_key and not settings.allow_no_key:
        raise ConfigError(
            f"--host {settings.host} accepts connections from other machines, and no API key is set: "
            "give --api_key (or MEDIAKIT_API_KEY), or --allow_no_key to serve without one on purpose"
        )
    if settings.workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {settings.workers}")
    if settings.max_queue < 0:
        raise ConfigError(f"--max_queue must not be negative, got {settings.max_queue}")
    if not 0 < settings.port < 65536:
        raise ConfigError(f"--port must be 1-65535, got {settings.port}")


def _log_to_stderr() -> None:
    logger = logging.getLogger("mediakit.server")
    if any(getattr(h, "_mediakit_server", False) for h in logger.handlers):
        return
    handler = logging.StreamHandler(sys.stderr)
    handler._mediakit_server = True  # type: ignore[attr-defined]
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def serve(settings: ServerSettings) -> None:
    """Serve until interrupted; raises a MediakitError when the models cannot load."""
    import uvicorn

    check(settings)
    _log_to_stderr()
    app = create_app(settings)
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        access_log=False,  # mediakit.server.access logs one line per request, with its status and timing
        log_level="info",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    failures: list[BaseException] = []

    def on_load_error(err: BaseException) -> None:
        failures.append(err)
        server.should_exit = True

    app.state.on_load_error = on_load_error
    engine = app.state.engine
    log.info("loading %s (the server answers 503 until they are loaded)", ", ".join(settings.models))
    server.run()
    if failures:
        err = failures[0]
        if isinstance(err, MediakitError):
            raise err
        raise StageError(f"cannot load model: {type(err).__name__}: {err}") from err
    if not engine.ready and engine.load_error:
        raise StageError(f"cannot load model: {engine.load_error}")
