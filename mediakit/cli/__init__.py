"""The ``mediakit`` command line: a thin layer over :mod:`mediakit.api` and the pipeline.

One error boundary: a :class:`~mediakit.errors.MediakitError` becomes ``Error: ...`` on stderr and
exit status 1; Ctrl-C exits 130; usage errors exit 2; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import gc
from typing import Annotated, Any, Optional

import typer
from typer.core import TyperGroup

from .. import __version__
from ..errors import MediakitError
from .common import err, set_disabled_by_option, setup_logging


class _Boundary(TyperGroup):
    def invoke(self, ctx: typer.Context) -> Any:
        try:
            return super().invoke(ctx)
        except MediakitError as error:
            err("Error: " + " ".join(str(error).split()))
            ctx.exit(1)
        except KeyboardInterrupt:
            err("Interrupted.")
            ctx.exit(130)


app = typer.Typer(
    name="mediakit",
    cls=_Boundary,
    help="Speech to text for any media file, built from plugins.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"mediakit {__version__}")
        typer.echo(_ffmpeg_in_use())
        raise typer.Exit()


def _ffmpeg_in_use() -> str:
    """The ffmpeg the built-in demuxer would run now (``MEDIAKIT_FFMPEG``, PATH, bundled), for ``--version``."""
    try:
        from mediakit_ffmpeg.binary import FfmpegNotFound, locate_ffmpeg
    except ImportError:  # pragma: no cover - a build without the built-in plugins
        return "ffmpeg: the built-in ffmpeg plugin is not installed"
    try:
        return locate_ffmpeg(None).describe()
    except FfmpegNotFound as error:
        return f"ffmpeg: none usable ({error})"


@app.callback()
def _root(
    verbose: Annotated[int, typer.Option("-v", "--verbose", count=True, help="More log output: -v info, -vv debug.")] = 0,
    disable_plugin: Annotated[
        Optional[list[str]],
        typer.Option("--disable-plugin", help="Do not load this plugin (repeatable; also MEDIAKIT_DISABLE_PLUGINS=a,b)."),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version and exit.")
    ] = False,
) -> None:
    """Speech to text for any media file, built from plugins."""
    setup_logging(verbose)
    set_disabled_by_option(tuple(disable_plugin or ()))


def _register_commands() -> None:
    import importlib

    for name in ("transcribe", "plugins", "models", "media", "serve"):
        try:
            module = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            continue
        module.register(app)


_register_commands()


def main() -> None:
    # Importing torch and building the model make a few hundred thousand objects and no garbage
    # worth collecting; the collector's passes over them took 0.2-0.3 s of each start. `transcribe`
    # turns it back on once the model has loaded (common.collect_from_here); the other commands are
    # short and run without it.
    gc.disable()
    try:
        app()
    finally:
        # The work is done. Freezing the collector spares the interpreter's exit a walk over every
        # object torch created, which took 0.5-0.7 s of each command.
        gc.freeze()
