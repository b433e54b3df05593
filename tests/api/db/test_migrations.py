"""Alembic migrations: up, down and up again on a fresh PostgreSQL database and on SQLite, and the migrated
schema equals the ORM models (no drift between ``models.py`` files and ``migrations/versions``)."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine, inspect

from modelplane.api.db.migrate import downgrade, sync_url, upgrade
from modelplane.api.db.models import metadata

pytestmark = pytest.mark.db


def tables(url: str) -> set[str]:
    engine = create_engine(sync_url(url))
    try:
        return set(inspect(engine).get_table_names())
    finally:
        engine.dispose()


def drift(url: str) -> list[object]:
    engine = create_engine(sync_url(url))
    try:
        with engine.connect() as connection:
            return list(compare_metadata(MigrationContext.configure(connection, opts={"compare_type": True}), metadata))
    finally:
        engine.dispose()


def test_upgrade_downgrade_upgrade(empty_database):
    upgrade(empty_database)
    assert set(metadata.tables) <= tables(empty_database)
    downgrade(empty_database, "base")
    assert tables(empty_database) <= {"alembic_version"}
    upgrade(empty_database)
    assert set(metadata.tables) <= tables(empty_database)


def test_migrated_schema_matches_the_models(empty_database):
    upgrade(empty_database)
    assert drift(empty_database) == []
