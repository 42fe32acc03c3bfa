"""Multipart uploads streamed to a temporary file under a size limit; never held whole in memory.

The body is parsed as it arrives (python-multipart's push parser): the ``file`` part goes straight to
a file in the server's upload folder, text fields are kept (bounded in size and number). Past the
limit the rest of the body is read and thrown away, so the client gets its 413 instead of a broken
connection (which the official clients would retry). The caller removes the file with
:meth:`UploadedForm.cleanup`, whatever happened; on any error here it is already removed.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
from dataclasses import dataclass, field

from fastapi import Request
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header

from .errors import APIError, bad_request

log = logging.getLogger(__name__)

FILE_FIELD = "file"
MAX_FIELDS = 1000
MAX_FIELD_BYTES = 1 << 20
#: Set in the ASGI scope once the body is being read (so an error handler does not read it again).
BODY_READ = "mediakit.body_read"  # a prompt is a few hundred bytes; nothing but the file needs more


@dataclass
class UploadedForm:
    """The text fields of one multipart request, in order, and where its file was written."""

    fields: list[tuple[str, str]] = field(default_factory=list)
    path: str | None = None  # the temporary file; None when the request had no file part
    filename: str | None = None  # as the client named it
    content_type: str | None = None
    size: int = 0  # bytes of the file

    def getlist(self, name: str) -> list[str]:
        return [v for k, v in self.fields if k == name]

    def names(self) -> list[str]:
        return list(dict.fromkeys(k for k, _ in self.fields))

    def cleanup(self) -> None:
        """Remove the temporary file (again is fine)."""
        path, self.path = self.path, None
        if path is not None:
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass
            except OSError:
                log.warning("could not remove upload %s", path, exc_info=True)


class _Collector:
    """python-multipart callbacks: headers of each part, then its data to a field buffer or the file."""

    def __init__(self, form: UploadedForm, directory: str):
        self.form = form
        self.directory = directory
        self.header_field = bytearray()
        self.header_value = bytearray()
        self.headers: dict[str, bytes] = {}
        self.name: str | None = None
        self.value = bytearray()
        self.file = None
        self.error: APIError | None = None

    def callbacks(self) -> dict:
        return {
            "on_part_begin": self.part_begin,
            "on_header_field": lambda d, s, e: self.header_field.extend(d[s:e]),
            "on_header_value": lambda d, s, e: self.header_value.extend(d[s:e]),
            "on_header_end": self.header_end,
            "on_headers_finished": self.headers_finished,
            "on_part_data": self.part_data,
            "on_part_end": self.part_end,
        }

    def part_begin(self) -> None:
        self.headers, self.name, self.value = {}, None, bytearray()

    def header_end(self) -> None:
        self.headers[bytes(self.header_field).decode("latin-1").lower()] = bytes(self.header_value)
        self.header_field.clear()
        self.header_value.clear()

    def headers_finished(self) -> None:
        _, params = parse_options_header(self.headers.get("content-disposition", b""))
        name = params.get(b"name")
        if name is None:
            raise _Stop(bad_request("a multipart part has no name (Content-Disposition: form-data; name=...)"))
        self.name = name.decode("utf-8", "replace")
        filename = params.get(b"filename")
        if filename is None:
            if len(self.form.fields) >= MAX_FIELDS:
                raise _Stop(bad_request(f"more than {MAX_FIELDS} form fields"))
            return
        if self.name != FILE_FIELD:
            raise _Stop(bad_request(f"unknown file field {self.name!r}; the audio goes in 'file'", param=self.name))
        if self.file is not None or self.form.path is not None:
            raise _Stop(bad_request("more than one 'file' part; send one file per request", param=FILE_FIELD))
        self.form.filename = filename.decode("utf-8", "replace")
        self.form.content_type = self.headers.get("content-type", b"").decode("latin-1") or None
        fd, path = tempfile.mkstemp(prefix="upload-", suffix=_suffix(self.form.filename), dir=self.directory)
        self.form.path = path
        self.file = os.fdopen(fd, "wb")

    def part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is not None:
            self.file.write(data[start:end])
            self.form.size += end - start
            return
        self.value.extend(data[start:end])
        if len(self.value) > MAX_FIELD_BYTES:
            raise _Stop(bad_request(f"form field {self.name!r} is longer than {MAX_FIELD_BYTES} bytes", param=self.name))

    def part_end(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        elif self.name is not None:
            self.form.fields.append((self.name, self.value.decode("utf-8", "replace")))

    def close(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None


class _Stop(Exception):
    def __init__(self, error: APIError):
        self.error = error


def _suffix(filename: str | None) -> str:
    """The upload's extension, when it is a plain one (ffmpeg looks at the content, but some formats help)."""
    ext = os.path.splitext(filename or "")[1]
    return ext.lower() if re.fullmatch(r"\.[A-Za-z0-9]{1,10}", ext) else ""


async def receive_form(request: Request, directory: str, max_bytes: int | None) -> UploadedForm:
    """Read a ``multipart/form-data`` body: fields in memory, the file to ``directory``.

    Raises :class:`APIError`: 400 for a body that is not multipart or is malformed, 413 past ``max_bytes``.
    """
    kind, params = parse_options_header(request.headers.get("content-type"))
    if request.scope.get(BODY_READ):
        raise bad_request("the request body was already read")
    if kind != b"multipart/form-data" or b"boundary" not in params:
        await drain(request)
        raise bad_request(
            f"expected a multipart/form-data body with a 'file' part, got Content-Type {request.headers.get('content-type')!r}"
        )
    request.scope[BODY_READ] = True
    form = UploadedForm()
    collector = _Collector(form, directory)
    parser = MultipartParser(params[b"boundary"], collector.callbacks())
    received = 0
    error: APIError | None = None
    try:
        declared = int(request.headers.get("content-length") or 0)
    except ValueError:
        declared = 0
    if max_bytes is not None and declared > max_bytes:
        error = too_large(max_bytes, declared)
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if error is not None:
                continue  # read and dropped: the client gets its answer, not a reset connection
            if max_bytes is not None and received > max_bytes:
                error = too_large(max_bytes, received)
                collector.close()
                form.cleanup()
                continue
            try:
                parser.write(chunk)
            except _Stop as stop:
                error = stop.error
            except MultipartParseError as err:
                error = bad_request(f"malformed multipart body: {err}")
        if error is None:
            parser.finalize()
    except BaseException:
        collector.close()
        form.cleanup()
        raise
    collector.close()
    if error is not None:
        form.cleanup()
        if error.status == 413:
            error = too_large(max_bytes or 0, received)
        raise error
    return form


def too_large(limit: int, size: int) -> APIError:
    return APIError(
        413,
        f"Maximum content size limit ({limit}) exceeded ({size} bytes read)",
        code="request_too_large",
    )


async def drain(request: Request, limit: int = 1 << 30) -> None:
    """Read a request body nobody will use, so the client is not cut off mid-upload before it reads
    its answer (up to ``limit`` bytes; past that the connection is simply closed)."""
    if request.scope.get(BODY_READ) or request.method not in ("POST", "PUT", "PATCH"):
        return
    request.scope[BODY_READ] = True
    seen = 0
    try:
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limit:
                break
    except RuntimeError:  # starlette's "Stream consumed": a handler read the body already
        return
