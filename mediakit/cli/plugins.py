"""``mediakit plugins list``: every plugin, its distribution, stages, hooks and status."""

from __future__ import annotations

import json
from typing import Annotated

import typer

from .common import get_host

plugins_app = typer.Typer(help="Inspect installed plugins.", no_args_is_help=True)


@plugins_app.command("list")
def list_plugins(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """List every plugin: name, distribution, version, stages and hooks, and status (ok, failed, disabled, unavailable)."""
    host = get_host()
    rows = [p.to_dict() for p in host.plugins]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    headers = ("NAME", "DISTRIBUTION", "VERSION", "STAGES", "STATUS")
    table = [headers] + [
        (
            str(r["name"]),
            str(r["distribution"] or "-"),
            str(r["version"] or "-"),
            ",".join(r["stages"]) or "-",  # type: ignore[arg-type]
            str(r["status"]) if r["status"] == "ok" else f"{r['status']}: {r['reason']}",
        )
        for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(headers) - 1)]
    for row in table:
        typer.echo("  ".join(cell.ljust(w) for cell, w in zip(row[:-1], widths)) + "  " + row[-1])
    for r in rows:
        if r["hooks"]:
            typer.echo(f"  {r['name']}: {', '.join(r['hooks'])}")  # type: ignore[arg-type]


def register(app: typer.Typer) -> None:
    app.add_typer(plugins_app, name="plugins")
