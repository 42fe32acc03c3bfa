"""A job's multipart body: many ``file`` parts streamed to the job's staging folder, text fields kept.

The server's upload limit (``--max_upload_mb``, the OpenAI routes' limit) applies to each file, with
the same 413 answer (:func:`mediakit.server.uploads.too_large`); past it the rest of the body is
read and dropped so the client gets its answer rather than a reset connection.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from ..errors import APIError, bad_request
from ..uploads import too_large

MAX_FIELDS = 1000
MAX_FIELD_BYTES = 1 << 20
MAX_FILES = 1000


@dataclass
class JobForm:
    fields: list[tuple[str, str]] = field(default_factory=list)
    files: list[tuple[str, str]] = field(default_factory=list)  # (client's file name, path in staging)


class _Stop(Exception):
    def __init__(self, error: APIError):
        self.error = error


async def receive_job_form(request: Request, staging: Path, max_file_bytes: int | None) -> JobForm:
    kind, params = parse_options_header(request.headers.get("content-type"))
    if kind != b"multipart/form-data" or b"boundary" not in params:
        async for _ in request.stream():
            pass
        raise bad_request("expected a multipart/form-data body with 'file' parts (or 'path' fields)")
    form = JobForm()
    state: dict = {"headers": {}, "hf": bytearray(), "hv": bytearray(), "name": None, "value": bytearray(),
                   "file": None, "size": 0}

    def part_begin() -> None:
        state.update(headers={}, name=None, value=bytearray(), file=None, size=0)

    def header_end() -> None:
        state["headers"][bytes(state["hf"]).decode("latin-1").lower()] = bytes(state["hv"])
        state["hf"].clear()
        state["hv"].clear()

    def headers_finished() -> None:
        _, disposition = parse_options_header(state["headers"].get("content-disposition", b""))
        name = disposition.get(b"name")
        if name is None:
            raise _Stop(bad_request("a multipart part has no name"))
        state["name"] = name.decode("utf-8", "replace")
        filename = disposition.get(b"filename")
        if filename is None:
            if len(form.fields) >= MAX_FIELDS:
                raise _Stop(bad_request(f"more than {MAX_FIELDS} form fields"))
            return
        if state["name"].split("[", 1)[0] != "file":
            raise _Stop(bad_request(f"unknown file field {state['name']!r}; files go in 'file' parts", param=state["name"]))
        if len(form.files) >= MAX_FILES:
            raise _Stop(bad_request(f"more than {MAX_FILES} files in one job"))
        client_name = os.path.basename(filename.decode("utf-8", "replace").replace("\\", "/")) or "upload"
        path = staging / f"{len(form.files)}{_suffix(client_name)}"
        form.files.append((client_name, str(path)))
        state["file"] = open(path, "wb")

    def part_data(data: bytes, start: int, end: int) -> None:
        if state["file"] is not None:
            state["size"] += end - start
            if max_file_bytes is not None and state["size"] > max_file_bytes:
                raise _Stop(too_large(max_file_bytes, state["size"]))
            state["file"].write(data[start:end])
            return
        state["value"].extend(data[start:end])
        if len(state["value"]) > MAX_FIELD_BYTES:
            raise _Stop(bad_request(f"form field {state['name']!r} is longer than {MAX_FIELD_BYTES} bytes"))

    def part_end() -> None:
        if state["file"] is not None:
            state["file"].close()
            state["file"] = None
        elif state["name"] is not None:
            form.fields.append((state["name"], state["value"].decode("utf-8", "replace")))

    parser = MultipartParser(params[b"boundary"], {
        "on_part_begin": part_begin,
        "on_header_field": lambda d, s, e: state["hf"].extend(d[s:e]),
        "on_header_value": lambda d, s, e: state["hv"].extend(d[s:e]),
        "on_header_end": header_end,
        "on_headers_finished": headers_finished,
        "on_part_data": part_data,
        "on_part_end": part_end,
    })
    error: APIError | None = None
    try:
        async for chunk in request.stream():
            if error is not None:
                continue
            try:
                parser.write(chunk)
            except _Stop as stop:
                error = stop.error
            except MultipartParseError as err:
                error = bad_request(f"malformed multipart body: {err}")
        if error is None:
            parser.finalize()
    finally:
        if state["file"] is not None:
            state["file"].close()
    if error is not None:
        raise error
    return form


def _suffix(filename: str) -> str:
    ext = os.path.splitext(filename)[1]
    return ext.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", ext) else ""
