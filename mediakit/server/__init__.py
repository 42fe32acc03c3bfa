"""``mediakit serve``: OpenAI's audio API over mediakit's pipeline (needs the ``server`` extra).

Nothing here is imported by ``mediakit`` or its CLI until ``serve`` runs; FastAPI is imported only
inside this package. Modules, and the internal interface other server features (the jobs API) build on:

- :mod:`.settings` -- ``ServerSettings``, a frozen dataclass of every option (host, port, models,
  api_key, max_upload_mb, max_queue, workers, threads, tmp_dir, ...).
- :mod:`.app` -- ``create_app(settings, *, engine=None) -> FastAPI``. Without an engine it makes
  one and loads the models on a thread at startup. ``app.state`` holds ``settings``, ``engine``,
  ``metrics`` and ``upload_dir`` (the per-server folder of temporary uploads).
- :mod:`.engine` -- ``Engine``: the loaded models (``engine.models[name]`` is a
  :class:`mediakit.api.LoadedModel`) and the bounded queue in front of the worker threads.
  ``engine.resolve_model(name)`` maps ``whisper-1``/None to the default model (404 for an unknown
  one); ``engine.stages(work)`` checks a :class:`Work`'s options (ConfigError); and
  ``engine.submit(work, stages) -> asyncio.Future[Result]`` admits it or raises ``QueueFull``
  (``NotReady`` while loading). ``Work(source, model, decode, demux, decoder, on_segment, cancel)``:
  ``on_segment(SegmentEvent)`` is called on the worker thread per decoded segment; setting
  ``cancel`` (a threading.Event) stops the work within one 30 s window (it raises ``Cancelled``).
  The result raises ``InputError`` for media that cannot be read.
- :mod:`.errors` -- ``APIError(status, message, type=, param=, code=, headers=)`` answered as
  ``{"error": {"message", "type", "param", "code"}}``; ``from_mediakit(err)`` maps mediakit's
  errors (InputError/ConfigError 400, unknown model 404, ...); ``install(app)`` sets the handlers.
- :mod:`.auth` -- ``require_key``: the FastAPI dependency for ``Authorization: Bearer <key>``.
- :mod:`.uploads` -- ``receive_form(request, directory, max_bytes) -> UploadedForm``: the body
  streamed to a temporary file (413 past the limit); call ``form.cleanup()`` when done.
- :mod:`.forms` -- ``parse_request(form, task, formats)``: OpenAI's fields and mediakit's extras.
- :mod:`.responses` -- json / verbose_json / text / any writer plugin's format; SSE events.
- :mod:`.batching` -- ``SharedBatcher(size)``: with ``--batch_size`` the engine hands every decoder that
  takes one (``with_batcher``) this batcher, bound to its request's cancel flag; it decodes the windows
  of concurrent requests together on one thread (see docs/server.md, "Shared batches").
- :mod:`.metrics` -- Prometheus text for ``/metrics``. :mod:`.run` -- ``serve(settings)`` on uvicorn.
"""
