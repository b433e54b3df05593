"""Group-qualified kopf resource selectors for the five kinds.

Always ``(group, version, plural)``: a bare plural such as ``inferenceservices`` also matches KServe's
kind, and kopf then serves neither. Derived from the API types so the strings live in one place.
"""

from __future__ import annotations

from typing import NamedTuple

from modelplane.apis.v1alpha1 import KINDS
from modelplane.apis.v1alpha1.base import CustomResource


class Selector(NamedTuple):
    """Positional arguments of ``kopf.on.*`` for one kind: ``kopf.on.create(*selector_of(Dataset))``."""

    group: str
    version: str
    plural: str


def selector_of(kind: type[CustomResource]) -> Selector:
    """The fully qualified selector of a kind."""
    info = kind.kind_info
    return Selector(info.group, info.version, info.plural)


SELECTORS: dict[str, Selector] = {kind.kind_info.kind: selector_of(kind) for kind in KINDS}
"""Kind name → selector, for every kind."""
