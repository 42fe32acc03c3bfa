"""The jobs API: long media and batches over HTTP, with live progress and state that survives a restart.

:func:`install` adds it to the server's app (``create_app`` calls it): a :class:`~.store.JobStore`
under ``settings.data_dir``, a :class:`~.runner.JobRunner` feeding the app's engine, and the routes
under ``/mediakit/v1/jobs``. See docs/server.md, "Jobs and the web page".
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import tempfile
from typing import Any, AsyncIterator

from fastapi import FastAPI

from ...plugins import load_plugins

log = logging.getLogger(__name__)


def install(app: FastAPI) -> None:
    """Add the jobs routes and the web page to ``app``; the runner starts and stops with the app."""
    from ..web import add_page
    from .routes import add_routes
    from .runner import JobRunner
    from .store import JobStore

    settings = app.state.settings
    data_dir = getattr(settings, "data_dir", None)
    temporary = data_dir is None
    if temporary:  # an app made without a data folder (tests, embedding): jobs last as long as it does
        data_dir = tempfile.mkdtemp(prefix="mediakit-jobs-")
    store = JobStore(data_dir)
    runner = JobRunner(
        store,
        app.state.engine,
        load_plugins(settings.disabled_plugins).pm,
        keep_days=float(getattr(settings, "keep_days", 0.0) or 0.0),
        slots=max(1, settings.workers),
        default_vad=settings.vad,
        allow_dirs=tuple(getattr(settings, "allow_dir", ()) or ()),
    )
    app.state.jobs = runner
    add_routes(app, runner)
    add_page(app)
    outer = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(application: Any) -> AsyncIterator[Any]:
        async with outer(application) as state:
            await runner.start()
            try:
                yield state
            finally:
                await runner.stop()
                store.close()
                if temporary:
                    shutil.rmtree(data_dir, ignore_errors=True)

    app.router.lifespan_context = lifespan
