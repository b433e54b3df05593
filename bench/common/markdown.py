"""The generated sections of ``docs/benchmarks.md``: each benchmark owns the text between its two markers.

Where it sits: a benchmark's ``report.py`` renders its section (``BEGIN`` ... ``END`` lines included) and
its ``run.py`` hands it to :func:`write_section`, which replaces that section and leaves the rest of the
file (prose, the other benchmarks' sections) as it is.
"""

from __future__ import annotations

import re
from pathlib import Path


def write_section(path: Path, text: str, begin: str, end: str, heading: str | None = None) -> None:
    """Replace the section between ``begin`` and ``end`` in ``path``; append it (under ``heading``) if there is none.

    ``begin`` is matched up to its first `` (``, so that the note after it may change between versions.
    """
    old = path.read_text() if path.exists() else "# Benchmarks\n"
    pattern = re.compile(re.escape(begin.split(" (", maxsplit=1)[0]) + r".*?" + re.escape(end) + r"\n?", re.DOTALL)
    if pattern.search(old):
        new = pattern.sub(lambda _: text, old, count=1)
    else:
        new = old.rstrip("\n") + "\n\n" + (f"{heading}\n\n" if heading else "") + text
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new)
