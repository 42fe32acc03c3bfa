"""A transcript in OpenAI's response shapes, in any writer plugin's format, and as SSE events."""

from __future__ import annotations

import io
import json
import math
from typing import Any

import pluggy
from fastapi.responses import JSONResponse, PlainTextResponse, Response

from ..config import WriterOptions
from ..pipeline import writer_registry
from ..records import Transcript
from .forms import AudioRequest

#: Content types of the formats OpenAI serves as text, and of the usual writer formats.
CONTENT_TYPES = {
    "text": "text/plain; charset=utf-8",
    "srt": "application/x-subrip; charset=utf-8",
    "vtt": "text/vtt; charset=utf-8",
    "json": "application/json",
}


def language_name(code: str) -> str:
    """OpenAI writes the full lowercase name (``english``) where Whisper has the code (``en``)."""
    try:
        from mediakit_whisper.tokenizer import LANGUAGES
    except ImportError:  # a model plugin without Whisper's table: the code is the best we have
        return code
    return LANGUAGES.get(code, code)


def usage(duration: float) -> dict[str, Any]:
    return {"type": "duration", "seconds": int(math.ceil(duration))}


def json_body(transcript: Transcript) -> dict[str, Any]:
    return {"text": transcript.text.strip(), "usage": usage(transcript.duration)}


def verbose_body(transcript: Transcript, request: AudioRequest) -> dict[str, Any]:
    body: dict[str, Any] = {
        "task": request.task,
        "language": "english" if request.task == "translate" else language_name(transcript.language),
        "duration": round(transcript.duration, 3),
        "text": transcript.text.strip(),
    }
    if request.segments:
        body["segments"] = [
            {
                "id": s.id,
                "seek": s.seek,
                "start": s.start,
                "end": s.end,
                "text": s.text,
                "tokens": list(s.tokens),
                "temperature": s.temperature,
                "avg_logprob": s.avg_logprob,
                "compression_ratio": s.compression_ratio,
                "no_speech_prob": s.no_speech_prob,
            }
            for s in transcript.segments
        ]
    if request.words:
        body["words"] = [
            {"word": w.word.strip(), "start": w.start, "end": w.end}
            for s in transcript.segments
            for w in (s.words or ())
        ]
    body["usage"] = usage(transcript.duration)
    return body


def render_writer(pm: pluggy.PluginManager, name: str, options: WriterOptions, transcript: Transcript) -> str:
    writer = writer_registry(pm).get(name).factory(options)
    stream = io.StringIO()
    writer.write(transcript, stream)
    return stream.getvalue()


def respond(transcript: Transcript, request: AudioRequest, pm: pluggy.PluginManager) -> Response:
    """The response for ``request.response_format``: OpenAI's shapes first, then writer plugins."""
    fmt = request.response_format
    if fmt == "json":
        return JSONResponse(json_body(transcript))
    if fmt == "verbose_json":
        return JSONResponse(verbose_body(transcript, request))
    if fmt == "text":
        return PlainTextResponse(transcript.text.strip() + "\n", media_type=CONTENT_TYPES["text"])
    text = render_writer(pm, fmt, request.writer, transcript)
    return Response(text, media_type=CONTENT_TYPES.get(fmt, "text/plain; charset=utf-8"))


def sse(data: dict[str, Any]) -> bytes:
    """One Server-Sent Event: ``data: {json}`` and a blank line."""
    return b"data: " + json.dumps(data, ensure_ascii=False).encode() + b"\n\n"


def delta_event(text: str) -> bytes:
    return sse({"type": "transcript.text.delta", "delta": text})


def done_event(transcript: Transcript) -> bytes:
    return sse({"type": "transcript.text.done", "text": transcript.text.strip(), "usage": usage(transcript.duration)})
