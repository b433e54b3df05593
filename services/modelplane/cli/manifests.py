"""Reading resource manifests from files and directories, as ``kubectl apply -f`` does.

Used by ``modelplane validate`` (and ``apply`` once the local runtime lands): YAML or JSON files, several
documents per file, directories walked in name order, ``List`` objects flattened.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

SUFFIXES = (".yaml", ".yml", ".json")


class ManifestError(ValueError):
    """A file that is not a readable manifest."""


@dataclass(frozen=True)
class Manifest:
    """One object and where it came from."""

    source: str
    index: int
    body: dict[str, Any]

    @property
    def display(self) -> str:
        kind = self.body.get("kind", "<no kind>")
        name = (self.body.get("metadata") or {}).get("name", "<no name>")
        return f"{kind}/{name}"


def manifest_files(path: Path) -> list[Path]:
    """The manifest files at ``path``: the file itself, or the YAML/JSON files under a directory."""
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.is_file() and p.suffix in SUFFIXES)
    if not path.exists():
        raise ManifestError(f"{path}: no such file or directory")
    return [path]


def read_manifests(path: Path) -> Iterator[Manifest]:
    """Every object in the file(s) at ``path``; :class:`ManifestError` on unreadable input."""
    for file in manifest_files(path):
        text = file.read_text(encoding="utf-8")
        try:
            documents = [json.loads(text)] if file.suffix == ".json" else list(yaml.safe_load_all(text))
        except (yaml.YAMLError, json.JSONDecodeError) as error:
            raise ManifestError(f"{file}: not valid {'JSON' if file.suffix == '.json' else 'YAML'}: {error}") from error
        index = 0
        for document in documents:
            if document is None:
                continue
            if not isinstance(document, dict):
                raise ManifestError(f"{file}: document {index + 1} is a {type(document).__name__}, not an object")
            items = document.get("items") if str(document.get("kind", "")).endswith("List") else None
            for body in items if isinstance(items, list) else [document]:
                yield Manifest(str(file), index, body)
                index += 1
