"""The web page at ``/``: plain HTML, CSS and JavaScript shipped in the package (no CDN, no build
step), talking to the jobs API. See docs/server.md, "Jobs and the web page"."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def add_page(app: FastAPI) -> None:
    app.mount("/mediakit/web", StaticFiles(directory=str(STATIC)), name="mediakit-web")

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", media_type="text/html; charset=utf-8",
                            headers={"Cache-Control": "no-cache"})
