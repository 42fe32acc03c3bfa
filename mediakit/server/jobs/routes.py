"""The jobs API under ``/mediakit/v1/jobs``: submit, list, status, progress (poll or SSE), results,
cancel, delete. Every route takes the server's API key, answers errors in OpenAI's shape, and
sends its files through the engine's bounded queue (see :mod:`.runner`)."""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import mimetypes
import shutil
from typing import Any, AsyncIterator

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse

from ...pipeline import expand_formats, writer_registry
from ..auth import require_key
from ..errors import APIError, bad_request
from .options import DEFAULT_FORMATS, build, collect_fields
from .paths import PathRefused, resolve_allowed
from .runner import JobRunner
from .store import TERMINAL, JobRow
from .uploads import receive_job_form
from .views import job_view

log = logging.getLogger(__name__)

PREFIX = "/mediakit/v1"
KEEPALIVE = 15.0  # seconds between SSE comments while nothing changes


def key_or_query(request: Request) -> None:
    """The server's key check; a GET for media or a result may also carry it as ``?api_key=``
    (a browser's <video> and <track> cannot send headers)."""
    given = request.query_params.get("api_key")
    expected = request.app.state.settings.api_key
    if given is not None and request.method == "GET" and expected:
        if not hmac.compare_digest(given.encode(), expected.encode()):
            raise APIError(401, "Incorrect API key provided.", code="invalid_api_key")
        return
    require_key(request)


def not_found(job_id: str) -> APIError:
    return APIError(404, f"no job {job_id!r} (finished jobs are removed after --keep_days)", param="job_id",
                    code="job_not_found")


def add_routes(app: FastAPI, runner: JobRunner) -> None:
    store = runner.store
    auth = [Depends(key_or_query)]
    tags = ["jobs"]

    def get_job(job_id: str) -> JobRow:
        job = store.get(job_id) if job_id.isalnum() else None
        if job is None:
            raise not_found(job_id)
        return job

    def view(job: JobRow, request: Request) -> dict[str, Any]:
        return job_view(job, runner.live, request.scope.get("root_path", "") + PREFIX)

    @app.post(f"{PREFIX}/jobs", tags=tags, dependencies=auth, status_code=202,
              summary="Submit files (multipart 'file' parts, or 'path' fields under --allow_dir) with transcribe's options")
    async def submit(request: Request) -> JSONResponse:
        settings = request.app.state.settings
        staging = store.staging_dir()
        try:
            form = await receive_job_form(request, staging, settings.max_upload_bytes)
            options, formats = collect_fields(form.fields)
            build(options, settings.vad)  # a bad option is a 400 now, not a failed job later
            runner.engine.resolve_model(options.get("model"))
            chosen = expand_formats(tuple(formats) or DEFAULT_FORMATS, writer_registry(runner.pm))
            files: list[tuple[str, str, bool]] = [(name, path, True) for name, path in form.files]
            for raw, value in form.fields:
                if raw.split("[", 1)[0] == "path":
                    try:
                        files.append((value, str(resolve_allowed(value, runner.allow_dirs)), False))
                    except PathRefused as err:
                        raise APIError(403 if runner.allow_dirs else 400, str(err), param="path", code="path_refused") from None
            if not files:
                raise bad_request("no files: send 'file' parts (uploads) or 'path' fields", param="file", code="missing_file")
            durations = await asyncio.to_thread(lambda: [runner.probe_duration(path) for _, path, _ in files])
            job = await asyncio.to_thread(
                store.create, options, chosen, [(n, p, u, d) for (n, p, u), d in zip(files, durations)], staging)
        except BaseException:
            shutil.rmtree(staging, ignore_errors=True)
            raise
        runner.notify()
        body = view(job, request)
        return JSONResponse(body, status_code=202, headers={"Location": body["url"]})

    @app.get(f"{PREFIX}/jobs", tags=tags, dependencies=auth, summary="Jobs, newest first")
    async def list_jobs(request: Request, limit: int = 50, offset: int = 0) -> dict[str, Any]:
        limit = max(1, min(limit, 500))
        jobs = store.list(limit, max(0, offset))
        return {"object": "list", "data": [view(j, request) for j in jobs]}

    @app.get(f"{PREFIX}/jobs/{{job_id}}", tags=tags, dependencies=auth, summary="One job: status and progress")
    async def get(job_id: str, request: Request) -> dict[str, Any]:
        return view(get_job(job_id), request)

    @app.get(f"{PREFIX}/jobs/{{job_id}}/events", tags=tags, dependencies=auth,
             summary="Server-Sent Events: the job each time it changes, then 'done'")
    async def events(job_id: str, request: Request) -> StreamingResponse:
        get_job(job_id)

        async def stream() -> AsyncIterator[bytes]:
            last = None
            while True:
                job = store.get(job_id)
                if job is None:
                    yield _event("error", {"error": {"message": f"job {job_id} was deleted", "type": "invalid_request_error",
                                                     "param": None, "code": "job_not_found"}})
                    return
                body = view(job, request)
                payload = json.dumps(body, ensure_ascii=False)
                if payload != last:
                    yield _event("job", payload)
                    last = payload
                else:
                    yield b": keep-alive\n\n"
                if job.status in TERMINAL:
                    yield _event("done", {"id": job.id, "status": job.status})
                    return
                await runner.wait_change(KEEPALIVE)
                if await request.is_disconnected():
                    return

        return StreamingResponse(stream(), media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post(f"{PREFIX}/jobs/{{job_id}}/cancel", tags=tags, dependencies=auth, summary="Cancel what is not finished")
    async def cancel(job_id: str, request: Request) -> dict[str, Any]:
        get_job(job_id)
        runner.cancel(job_id)
        return view(get_job(job_id), request)

    @app.delete(f"{PREFIX}/jobs/{{job_id}}", tags=tags, dependencies=auth, summary="Cancel and remove a job and its files")
    async def delete(job_id: str) -> dict[str, Any]:
        get_job(job_id)
        runner.cancel(job_id)
        await asyncio.to_thread(store.delete, job_id)
        runner.notify()
        return {"id": job_id, "object": "mediakit.job", "deleted": True}

    async def result_of(job: JobRow, index: int, fmt: str) -> FileResponse:
        if not 0 <= index < len(job.files):
            raise APIError(404, f"job {job.id} has no file {index} (it has {len(job.files)})", param="index")
        row = job.files[index]
        if row.status != "done":
            detail = f": {row.error}" if row.error else ""
            raise APIError(409, f"job {job.id} file {index} ({row.name}) is {row.status}{detail}; results exist once it is done",
                           code=f"job_{row.status}")
        path = await asyncio.to_thread(runner.result, job, row, fmt)
        stem = row.name.rsplit(".", 1)[0] if "." in row.name else row.name
        return FileResponse(path, media_type=_media_type(fmt), filename=f"{stem}.{fmt}", content_disposition_type="inline")

    @app.get(f"{PREFIX}/jobs/{{job_id}}/files/{{index}}/result.{{fmt}}", tags=tags, dependencies=auth,
             summary="A file's result in any writer format (txt, vtt, srt, tsv, json, ...)")
    async def file_result(job_id: str, index: int, fmt: str) -> FileResponse:
        return await result_of(get_job(job_id), index, fmt)

    @app.get(f"{PREFIX}/jobs/{{job_id}}/result.{{fmt}}", tags=tags, dependencies=auth,
             summary="The result of a one-file job in any writer format")
    async def job_result(job_id: str, fmt: str) -> FileResponse:
        job = get_job(job_id)
        if len(job.files) != 1:
            raise bad_request(f"job {job_id} has {len(job.files)} files; ask for files/<index>/result.{fmt}", param="index")
        return await result_of(job, 0, fmt)

    @app.get(f"{PREFIX}/jobs/{{job_id}}/files/{{index}}/media", tags=tags, dependencies=auth,
             summary="A file's media as submitted (for a player; byte ranges work)")
    async def media(job_id: str, index: int) -> FileResponse:
        job = get_job(job_id)
        if not 0 <= index < len(job.files):
            raise APIError(404, f"job {job_id} has no file {index}", param="index")
        row = job.files[index]
        kind = mimetypes.guess_type(row.name)[0] or "application/octet-stream"
        return FileResponse(row.media, media_type=kind)

    @app.get(f"{PREFIX}/info", tags=tags, dependencies=auth, summary="Models, formats and defaults (for the web page)")
    async def info(request: Request) -> dict[str, Any]:
        settings = request.app.state.settings
        return {
            "models": list(settings.models),
            "default_model": settings.default_model,
            "ready": runner.engine.ready,
            "formats": list(writer_registry(runner.pm).names),
            "default_formats": list(DEFAULT_FORMATS),
            "vad": settings.vad,
            "allow_dir": bool(runner.allow_dirs),
            "max_upload_bytes": settings.max_upload_bytes,
            "key_required": bool(settings.api_key),
            "languages": _languages(),
        }


def _languages() -> dict[str, str]:
    try:
        from mediakit_whisper.tokenizer import LANGUAGES
    except ImportError:  # the whisper plugin is not installed: the page offers detection only
        return {}
    return dict(LANGUAGES)


def _event(name: str, data: Any) -> bytes:
    payload = data if isinstance(data, str) else json.dumps(data, ensure_ascii=False)
    return f"event: {name}\ndata: {payload}\n\n".encode()


def _media_type(fmt: str) -> str:
    return {
        "json": "application/json",
        "vtt": "text/vtt; charset=utf-8",
        "srt": "application/x-subrip; charset=utf-8",
    }.get(fmt, "text/plain; charset=utf-8")
