"""The namespace path parameter shared by every namespaced route: a Kubernetes namespace name."""

from __future__ import annotations

from typing import Annotated

from fastapi import Path

Namespace = Annotated[
    str,
    Path(
        min_length=1,
        max_length=63,
        pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$",
        description="Kubernetes namespace the object belongs to.",
    ),
]
