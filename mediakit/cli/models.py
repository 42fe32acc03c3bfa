"""``mediakit models list``: every model name the plugins know, whether and where it is on this machine."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import Annotated

import typer

from .common import get_host

models_app = typer.Typer(help="Inspect the models the installed plugins provide.", no_args_is_help=True)


def _size(size: int | None, available: bool) -> str:
    if size is None:
        return "-"
    text = f"{size / 1e6:,.0f} MB" if size < 1e9 else f"{size / 1e9:.1f} GB"
    return text if available else "~" + text


def _languages(multilingual: bool | None) -> str:
    return "-" if multilingual is None else "multilingual" if multilingual else "English-only"


@models_app.command("list")
def list_models(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every known model: name, available here or downloaded on first use, size, languages, location.

    The mediakit cache searched is $MEDIAKIT_MODEL_DIR, else ~/.cache/mediakit.
    """
    infos = [info for batch in get_host().pm.hook.mediakit_list_models() for info in batch or ()]
    if as_json:
        typer.echo(json.dumps([asdict(info) for info in infos], indent=2))
        return
    headers = ("NAME", "AVAILABLE", "SIZE", "LANGUAGES", "PLUGIN", "LOCATION")
    rows = [headers] + [
        (
            info.name,
            "yes" if info.available else "no",
            _size(info.size_bytes, info.available),
            _languages(info.multilingual),
            info.plugin,
            info.location or (info.description or "-"),
        )
        for info in infos
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(headers) - 1)]
    for row in rows:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1])


def register(app: typer.Typer) -> None:
    app.add_typer(models_app, name="models")
