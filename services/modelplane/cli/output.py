"""How the CLI prints objects: kubectl-like tables, ``-o json|yaml|name|wide``, and one error style."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from enum import StrEnum
from typing import Any

import typer
import yaml
from rich.console import Console

from modelplane.cli.kinds import KindName, cell, columns

out = Console(soft_wrap=True)
err = Console(stderr=True, soft_wrap=True)


class Output(StrEnum):
    TABLE = "table"
    WIDE = "wide"
    JSON = "json"
    YAML = "yaml"
    NAME = "name"


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print ``error: message`` on stderr; raise the returned exit."""
    err.print(f"[red]error:[/red] {message}", highlight=False)
    return typer.Exit(code)


def dump(value: Any, output: Output) -> None:
    """Machine-readable output on stdout (no colour, no wrapping)."""
    if output is Output.JSON:
        typer.echo(json.dumps(value, indent=2, sort_keys=False, default=str))
    else:
        typer.echo(yaml.safe_dump(value, sort_keys=False, default_flow_style=False), nl=False)


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """A plain table like kubectl's: upper-case headers, columns padded, never wrapped (pipes well)."""
    cells = [[h.upper() for h in headers], *[[str(c) for c in row] for row in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    for row in cells:
        typer.echo("   ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())


def objects(kind: KindName, items: Sequence[Mapping[str, Any]], output: Output, *, all_namespaces: bool) -> None:
    """``get``'s output for one kind."""
    if output in (Output.JSON, Output.YAML):
        dump(
            {"apiVersion": "v1", "kind": "List", "items": list(items)} if len(items) != 1 else dict(items[0]),
            output,
        )
        return
    if output is Output.NAME:
        for item in items:
            typer.echo(f"{kind.resource}/{item['metadata']['name']}")
        return
    cols = columns(kind, wide=output is Output.WIDE)
    headers = (["Namespace"] if all_namespaces else []) + ["Name"] + [c.name for c in cols]
    rows = [
        ([item["metadata"].get("namespace", "")] if all_namespaces else [])
        + [item["metadata"]["name"]]
        + [cell(item, c) for c in cols]
        for item in items
    ]
    table(headers, rows)
