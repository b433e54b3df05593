"""Files a job fetches: written and hashed in one pass, or hashed where they lie (sha256 hex, size in bytes).

Where it sits: under the sources of the ingest job (:mod:`.ingest.source`) and the validation job
(:mod:`.model.source`), which turn these into their own records (a Dataset's source file, a model artifact).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path

CHUNK = 1024 * 1024


def write_hashed(path: Path, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Write ``chunks`` to ``path``; the sha256 and size of what was written."""
    digest = hashlib.sha256()
    size = 0
    with path.open("wb") as file:
        for chunk in chunks:
            digest.update(chunk)
            size += len(chunk)
            file.write(chunk)
    return digest.hexdigest(), size


def hash_file(path: Path) -> tuple[str, int]:
    """The sha256 and size of the file at ``path``, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as file:
        for chunk in iter(lambda: file.read(CHUNK), b""):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size
