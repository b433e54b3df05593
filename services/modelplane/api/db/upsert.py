"""Dialect-aware statements for the two databases the control plane runs on: which one a session talks to,
and ``INSERT ... ON CONFLICT``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession


def dialect_of(session: AsyncSession) -> str:
    """``postgresql`` or ``sqlite``: the database of the session's engine (Postgres when it has none)."""
    return session.bind.dialect.name if session.bind is not None else "postgresql"


def is_postgres(session: AsyncSession) -> bool:
    return dialect_of(session) == "postgresql"


def insert_for(session: AsyncSession, table: Table | Any) -> Any:
    """An ``insert()`` of the session's dialect, which has ``on_conflict_do_nothing/update``."""
    module = sqlite if dialect_of(session) == "sqlite" else postgresql
    return module.insert(table)
