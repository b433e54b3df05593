"""Deterministic names, label values and ids of everything the operator creates.

The same parent at the same generation always maps to the same child names and run ids: a reconcile
that is retried, raced by another pass, or re-run after the operator was killed applies the same names
again (server-side apply then makes it a no-op) instead of creating duplicates. Pure functions.
"""

from __future__ import annotations

import hashlib
import re

CHILD_NAME_MAX = 52
"""Longest child name: 63 (a label value and pod hostname) less room for ``-<index>`` and generated suffixes."""
LABEL_VALUE_MAX = 63
_INVALID = re.compile(r"[^a-z0-9-]+")
_LABEL_VALUE = re.compile(r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$")


def short_hash(*parts: object, length: int = 8) -> str:
    """The first ``length`` hex digits of sha256 over the parts joined by ``/``."""
    return hashlib.sha256("/".join(str(p) for p in parts).encode()).hexdigest()[:length]


def child_name(parent: str, *suffix: str, max_length: int = CHILD_NAME_MAX) -> str:
    """``<parent>-<suffix...>``, a DNS-1035 label of at most ``max_length`` characters.

    Dots become dashes; a parent that would not fit is cut and a hash of the full name keeps it unique;
    a name that would start with a digit gets an ``mp-`` prefix (Services need a leading letter).
    """
    tail = "-".join(s for s in suffix if s)
    base = _INVALID.sub("-", parent.lower()).strip("-") or "x"
    if not base[0].isalpha():
        base = f"mp-{base}"
    full = f"{base}-{tail}" if tail else base
    if len(full) <= max_length:
        return full
    keep = max_length - len(tail) - 10  # "-" + 8 hex + "-"
    if keep < 1:
        raise ValueError(f"suffix {tail!r} leaves no room in a {max_length}-character name")
    return f"{base[:keep].rstrip('-')}-{short_hash(parent)}-{tail}".replace("--", "-")


def label_value(value: str) -> str:
    """``value`` when it is a valid label value, else a valid value cut to fit plus a hash of the whole."""
    if len(value) <= LABEL_VALUE_MAX and _LABEL_VALUE.match(value):
        return value
    cut = re.sub(r"[^A-Za-z0-9_.-]", "-", value)[: LABEL_VALUE_MAX - 9].strip("-_.")
    return f"{cut}-{short_hash(value)}" if cut else short_hash(value)


def run_id(uid: str, spec_key: str | int, trial: int | str) -> str:
    """The control-plane run id of one trial: ``sha256("<uid>/<spec key>/<trial>")[:32]``.

    ``spec_key`` identifies what is trained (the TrainingRun's uid and training-relevant spec, see
    ``training.builders.spec_key``); a sweep's parent run uses ``trial="sweep"``.
    """
    return short_hash(uid, spec_key, trial, length=32)
