"""The FastAPI application: OpenAI's audio routes, models, health, readiness, metrics and offline docs."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response, StreamingResponse
from fastapi.staticfiles import StaticFiles

from ..errors import MediakitError
from ..pipeline import writer_registry
from .auth import require_key
from .engine import Cancelled, Engine, NotReady, QueueFull, Work
from .errors import APIError, error_body, from_mediakit, install, internal, not_ready, queue_full
from .jobs import install as install_jobs
from .forms import EXTRA_FIELDS, OPENAI_FORMATS, AudioRequest, parse_request
from .metrics import Metrics
from .responses import delta_event, done_event, respond, sse
from .settings import DEFAULT_ALIASES, ServerSettings
from .uploads import UploadedForm, drain, receive_form

log = logging.getLogger(__name__)
access_log = logging.getLogger("mediakit.server.access")

#: How often a waiting request checks whether its client is still there (seconds).
DISCONNECT_POLL = 0.25
STARTED = int(time.time())

DESCRIPTION = f"""OpenAI-compatible speech to text with mediakit (every installed model and writer plugin).

Send the audio as multipart field `file` with OpenAI's fields. mediakit's own options are extra form
fields: {', '.join(f'`{name}`' for name in EXTRA_FIELDS)}. Errors are always
`{{"error": {{"message", "type", "param", "code"}}}}`. See docs/server.md.
"""


def _docs_assets() -> Path | None:
    """Swagger UI's files from the fastapi-offline package (no CDN), when it is installed."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    folder = Path(fastapi_offline.__file__).parent / "static"
    return folder if (folder / "swagger-ui-bundle.js").exists() else None


def create_app(settings: ServerSettings, *, engine: Engine | None = None) -> FastAPI:
    """The app for ``settings``. Without ``engine`` it makes one and loads the models at startup
    (on a thread: ``/health`` answers and other routes say 503 until they are loaded)."""
    own_engine = engine is None
    engine = engine or Engine(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        if own_engine and not engine.ready:
            engine.start_loading(app.state.on_load_error)
        try:
            yield
        finally:
            if own_engine:
                engine.close()
            shutil.rmtree(app.state.upload_dir, ignore_errors=True)

    app = FastAPI(
        title="mediakit",
        description=DESCRIPTION,
        version=_version(),
        docs_url=None,
        redoc_url=None,
        lifespan=lifespan,
        root_path=settings.root_path,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.metrics = Metrics()
    app.state.on_load_error = None  # the CLI sets this to stop the server when a model cannot load
    if settings.tmp_dir:
        os.makedirs(settings.tmp_dir, exist_ok=True)
    app.state.upload_dir = tempfile.mkdtemp(prefix="mediakit-uploads-", dir=settings.tmp_dir)
    install(app)
    app.add_middleware(_AccessMiddleware)  # type: ignore[arg-type]
    _add_docs(app)
    _add_operations(app)
    _add_models(app)
    _add_audio(app)
    install_jobs(app)  # the jobs API and the web page at / (mediakit/server/jobs, mediakit/server/web)
    return app


def _version() -> str:
    from .. import __version__

    return __version__


# -- access log and request metrics ---------------------------------------------------------------------
class _AccessMiddleware:
    """One log line and one counter per request, whatever answered it."""

    def __init__(self, app: Any):
        self.app = app

    async def __call__(self, scope: dict, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        metrics: Metrics = scope["app"].state.metrics
        settings: ServerSettings = scope["app"].state.settings
        started = time.perf_counter()
        status = {"code": 500}

        async def sending(message: dict) -> None:
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        metrics.started()
        try:
            await self.app(scope, receive, sending)
        finally:
            route = getattr(scope.get("route"), "path", None) or "other"
            code = scope.get("mediakit.status", status["code"])
            metrics.finished(scope["method"], route, code)
            if settings.access_log:
                client = scope.get("client") or ("-", 0)
                access_log.info(
                    '%s:%s "%s %s" %s %.3fs%s', client[0], client[1], scope["method"], scope["path"], code,
                    time.perf_counter() - started, scope.get("mediakit.note", ""),
                )  # fmt: skip


# -- docs -----------------------------------------------------------------------------------------------
def _add_docs(app: FastAPI) -> None:
    assets = _docs_assets()
    if assets is not None:
        app.mount("/docs-assets", StaticFiles(directory=str(assets)), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "")
        if assets is None:
            return HTMLResponse(
                "<h1>mediakit API</h1><p>Interactive docs need the fastapi-offline package "
                f"(<code>pip install 'mediakit[server]'</code>). The schema is at <a href='{root}/openapi.json'>"
                "/openapi.json</a>.</p>"
            )
        return get_swagger_ui_html(
            openapi_url=f"{root}{app.openapi_url}",
            title="mediakit API",
            swagger_js_url=f"{root}/docs-assets/swagger-ui-bundle.js",
            swagger_css_url=f"{root}/docs-assets/swagger-ui.css",
            swagger_favicon_url=f"{root}/docs-assets/favicon.png",
        )


# -- health, readiness, metrics -------------------------------------------------------------------------
def _add_operations(app: FastAPI) -> None:
    @app.get("/health", tags=["operations"], summary="Alive (answers while models load and while workers are busy)")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/ready", tags=["operations"], summary="Every model loaded (503 until then)")
    async def ready(request: Request) -> JSONResponse:
        engine: Engine = request.app.state.engine
        settings: ServerSettings = request.app.state.settings
        if not engine.ready:
            raise not_ready(settings.retry_after, engine.load_error or "the models are still loading")
        return JSONResponse({"status": "ready", "models": list(engine.model_names)})

    @app.get("/metrics", tags=["operations"], summary="Prometheus metrics")
    async def metrics(request: Request) -> PlainTextResponse:
        text = request.app.state.metrics.render(request.app.state.engine)
        return PlainTextResponse(text, media_type="text/plain; version=0.0.4; charset=utf-8")


# -- models ---------------------------------------------------------------------------------------------
def _model_entry(name: str) -> dict[str, Any]:
    return {"id": name, "object": "model", "created": STARTED, "owned_by": "mediakit"}


def _add_models(app: FastAPI) -> None:
    @app.get("/v1/models", tags=["models"], dependencies=[Depends(require_key)], summary="List the served models")
    async def list_models(request: Request) -> dict[str, Any]:
        engine: Engine = request.app.state.engine
        names = list(engine.model_names) + [a for a in DEFAULT_ALIASES if a not in engine.model_names]
        return {"object": "list", "data": [_model_entry(n) for n in names]}

    @app.get("/v1/models/{model:path}", tags=["models"], dependencies=[Depends(require_key)], summary="One model")
    async def get_model(model: str, request: Request) -> dict[str, Any]:
        engine: Engine = request.app.state.engine
        if model not in engine.model_names and model not in DEFAULT_ALIASES:
            raise APIError(404, f"The model '{model}' does not exist; served: {', '.join(engine.model_names)}",
                           param="model", code="model_not_found")
        return _model_entry(model)


# -- audio ----------------------------------------------------------------------------------------------
FORM_DOC = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "Any media ffmpeg reads."},
                        "model": {"type": "string", "default": "whisper-1",
                                  "description": "A served model; whisper-1 is the default model."},
                        "language": {"type": "string", "description": "ISO-639-1 code or name; default: detect."},
                        "prompt": {"type": "string"},
                        "response_format": {"type": "string", "default": "json",
                                            "description": "json, text, srt, vtt, verbose_json, or any writer plugin's name (tsv, txt, ...)."},
                        "temperature": {"type": "number", "default": 0},
                        "timestamp_granularities[]": {"type": "array", "items": {"type": "string", "enum": ["word", "segment"]}},
                        "stream": {"type": "boolean", "default": False},
                        **{name: {"type": "string", "description": "mediakit option (see docs/server.md)"}
                           for name in EXTRA_FIELDS},
                    },
                }
            }
        },
    }
}


def _add_audio(app: FastAPI) -> None:
    auth = [Depends(require_key)]

    @app.post("/v1/audio/transcriptions", tags=["audio"], dependencies=auth, openapi_extra=FORM_DOC,
              summary="Transcribe audio (OpenAI's request and response shapes)")
    async def transcriptions(request: Request) -> Response:
        return await _audio(request, "transcribe")

    @app.post("/v1/audio/translations", tags=["audio"], dependencies=auth, openapi_extra=FORM_DOC,
              summary="Translate audio to English text")
    async def translations(request: Request) -> Response:
        return await _audio(request, "translate")


def _formats(engine: Engine) -> tuple[str, ...]:
    pm = engine.models[engine.settings.default_model].pm
    return tuple(writer_registry(pm).names)


async def _audio(request: Request, task: str) -> Response:
    app = request.app
    engine: Engine = app.state.engine
    settings: ServerSettings = app.state.settings
    if not engine.ready:
        await drain(request)
        raise not_ready(settings.retry_after, engine.load_error or "the models are still loading")
    form = await receive_form(request, app.state.upload_dir, settings.max_upload_bytes)
    owned = True  # the temporary file is removed here unless a stream takes it over
    try:
        parsed = parse_request(form, task, _formats(engine), settings.vad, settings.batch_size)
        model = engine.resolve_model(parsed.model)
        work = Work(form.path or "", model, parsed.decode, parsed.demux, parsed.decoder)
        stages = engine.stages(work)
        request.scope["mediakit.note"] = f" model={model} format={parsed.response_format} bytes={form.size}"
        if parsed.stream:
            response = _stream(request, engine, work, stages, form, parsed)
            owned = False
            return response
        try:
            future = engine.submit(work, stages)
        except QueueFull as err:
            raise queue_full(err.waiting, settings.retry_after) from None
        result = await _wait(request, future, work, form)
        if result is None:
            request.scope["mediakit.status"] = 499  # the client closed the connection (nginx's code)
            return Response(status_code=499)
        request.scope["mediakit.note"] += f" audio={result.audio_seconds:.1f}s run={result.run_seconds:.2f}s"
        return respond(result.transcript, parsed, engine.models[model].pm)
    except NotReady as err:
        raise not_ready(settings.retry_after, str(err)) from None
    finally:
        if owned:
            form.cleanup()


async def _wait(request: Request, future: "asyncio.Future", work: Work, form: UploadedForm) -> Any:
    """The job's result, or None when the client went away (the job is told to stop)."""
    future.add_done_callback(_retrieve)
    while True:
        done, _ = await asyncio.wait({future}, timeout=DISCONNECT_POLL)
        if done:
            return _result(future, form)
        if await request.is_disconnected():
            work.cancel.set()
            request.app.state.metrics.cancelled += 1
            log.info("client went away; cancelling %s", work.source)
            return None


def _retrieve(future: "asyncio.Future") -> None:
    if not future.cancelled():
        future.exception()  # marks it retrieved: an abandoned job's error is not worth a warning


def _result(future: "asyncio.Future", form: UploadedForm) -> Any:
    try:
        return future.result()
    except MediakitError as err:
        error = from_mediakit(err)
        if form.path:  # the client knows its file by its own name, not by our temporary's
            error.message = error.message.replace(form.path, form.filename or "file")
        raise error from err
    except Cancelled as err:
        raise internal(f"cancelled: {err}") from err


def _stream(request: Request, engine: Engine, work: Work, stages: Any, form: UploadedForm, parsed: AudioRequest) -> Response:
    """``stream=true``: a ``transcript.text.delta`` event per segment, then ``transcript.text.done``."""
    loop = asyncio.get_running_loop()
    segments: asyncio.Queue = asyncio.Queue()
    work.on_segment = lambda event: loop.call_soon_threadsafe(segments.put_nowait, event)
    try:
        future = engine.submit(work, stages)
    except QueueFull as err:
        form.cleanup()
        raise queue_full(err.waiting, engine.settings.retry_after) from None
    except BaseException:
        form.cleanup()
        raise
    future.add_done_callback(_retrieve)
    named = UploadedForm(path=form.path, filename=form.filename)  # for messages, after the file is gone

    async def events() -> AsyncIterator[bytes]:
        try:
            while True:
                getter = asyncio.ensure_future(segments.get())
                done, _ = await asyncio.wait({getter, future}, timeout=DISCONNECT_POLL, return_when=asyncio.FIRST_COMPLETED)
                if getter in done:
                    yield delta_event(getter.result().text)
                    continue
                getter.cancel()
                if future in done:
                    while not segments.empty():
                        yield delta_event(segments.get_nowait().text)
                    try:
                        result = _result(future, named)
                    except APIError as err:
                        yield sse(err.body())
                        return
                    except Exception as err:  # a bug: still an error event the client can read
                        log.exception("stream failed")
                        yield sse(error_body(f"internal error: {type(err).__name__}: {err}", "server_error"))
                        return
                    yield done_event(result.transcript)
                    return
                if await request.is_disconnected():
                    return
        finally:
            if not future.done():
                work.cancel.set()
                request.app.state.metrics.cancelled += 1
                log.info("stream client went away; cancelling %s", work.source)
            form.cleanup()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(events(), media_type="text/event-stream", headers=headers)
