"""Write the chart's values reference (a Markdown table) from values.schema.json and values.yaml.

    python helm/values_reference.py            rewrite the table in docs/install.md
    python helm/values_reference.py --check    exit 1 when docs/install.md is out of date

The table sits between the ``<!-- values-reference:start -->`` and ``<!-- values-reference:end -->`` markers
of docs/install.md: one row per leaf key (its path, type, default from values.yaml, and the schema's
description and constraints). The schema is the single source: a key without a description fails here.
Standard library plus PyYAML only, so it runs from any environment that can run the tests.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
CHART = HERE / "modelplane"
DOC = HERE.parent / "docs" / "install.md"
START = "<!-- values-reference:start -->"
END = "<!-- values-reference:end -->"
CONSTRAINTS = ("enum", "minimum", "maximum", "exclusiveMinimum", "pattern", "minLength", "maxLength")


def _type(node: Mapping[str, Any]) -> str:
    kind = node.get("type", "any")
    return " or ".join(kind) if isinstance(kind, list) else str(kind)


def _constraints(node: Mapping[str, Any]) -> str:
    parts = []
    for key in CONSTRAINTS:
        if key in node:
            value = node[key]
            if key == "enum":
                parts.append("one of " + ", ".join(f"`{v}`" for v in value))
            elif key == "pattern":
                parts.append(f"matches `{value}`")
            else:
                parts.append(f"{key} {value}")
    return "; ".join(parts)


def _default(values: Any) -> str:
    if values is None:
        return ""
    text = json.dumps(values, separators=(", ", ": "))
    return f"`{text}`" if len(text) <= 60 else "see values.yaml"


def rows(schema: Mapping[str, Any], values: Any, path: str = "") -> Iterator[tuple[str, str, str, str]]:
    """``(path, type, default, description)`` of every documented key, depth first in schema order."""
    for key, node in (schema.get("properties") or {}).items():
        here = f"{path}.{key}" if path else key
        if key == "global":
            continue
        value = values.get(key) if isinstance(values, Mapping) else None
        description = node.get("description", "")
        if node.get("type") == "object" and node.get("properties"):
            if description:
                yield here, "object", "", description
            yield from rows(node, value, here)
            continue
        if not description:
            raise ValueError(f"values.schema.json: {here} has no description")
        constraints = _constraints(node)
        text = f"{description} ({constraints})" if constraints else description
        yield here, _type(node), _default(value), text.replace("|", "\\|")


def table() -> str:
    schema = json.loads((CHART / "values.schema.json").read_text(encoding="utf-8"))
    values = yaml.safe_load((CHART / "values.yaml").read_text(encoding="utf-8"))
    lines = ["| key | type | default | description |", "| --- | --- | --- | --- |"]
    lines += [f"| `{p}` | {t} | {d} | {desc} |" for p, t, d, desc in rows(schema, values)]
    return "\n".join(lines)


def render_doc(text: str) -> str:
    """``text`` with the table between the markers replaced by the current one."""
    before, start, rest = text.partition(START)
    _, end, after = rest.partition(END)
    if not start or not end:
        raise ValueError(f"{DOC}: the {START} / {END} markers are missing")
    return f"{before}{START}\n{table()}\n{END}{after}"


def main(argv: list[str]) -> int:
    current = DOC.read_text(encoding="utf-8")
    wanted = render_doc(current)
    if "--check" in argv:
        if current != wanted:
            print(f"{DOC} is out of date with values.schema.json: run python helm/values_reference.py", file=sys.stderr)
            return 1
        return 0
    if current != wanted:
        DOC.write_text(wanted, encoding="utf-8")
        print(f"wrote {DOC}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
