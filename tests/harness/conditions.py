"""Status conditions of Kubernetes objects as plain dicts (what the API server, kmock or a client returns).

Where it sits: every operator test reads conditions through :func:`condition` and waits on
:func:`has_condition`; neither cares which server the object came from.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def condition(obj: dict[str, Any] | None, type_: str) -> dict[str, Any]:
    """The condition of type ``type_`` in ``obj``'s status (a copy); ``{}`` when there is none."""
    for item in ((obj or {}).get("status") or {}).get("conditions") or []:
        if item.get("type") == type_:
            return dict(item)
    return {}


def has_condition(type_: str, status: str, reason: str | None = None) -> Callable[[dict[str, Any]], bool]:
    """A predicate: ``obj`` has condition ``type_`` with ``status`` (and ``reason``, when given)."""

    def check(obj: dict[str, Any]) -> bool:
        found = condition(obj, type_)
        return found.get("status") == status and (reason is None or found.get("reason") == reason)

    return check
