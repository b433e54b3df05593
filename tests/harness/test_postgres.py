"""The PostgreSQL and SQLite fixtures give real, working databases."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
import sqlalchemy

from harness.postgres import PostgresServer

pytestmark = pytest.mark.db


def _roundtrip(url: str) -> list[tuple[int, str]]:
    table = f"harness_probe_{uuid.uuid4().hex[:8]}"  # the session database is shared between tests
    engine = sqlalchemy.create_engine(url)
    try:
        with engine.begin() as conn:
            conn.execute(sqlalchemy.text(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, name TEXT NOT NULL)"))
            conn.execute(
                sqlalchemy.text(f"INSERT INTO {table} (id, name) VALUES (:id, :name)"),
                [{"id": 1, "name": "iris"}, {"id": 2, "name": "mnist"}],
            )
        with engine.connect() as conn:
            rows = conn.execute(sqlalchemy.text(f"SELECT id, name FROM {table} ORDER BY id")).all()
            return [(int(row[0]), str(row[1])) for row in rows]
    finally:
        engine.dispose()


def test_postgres_database_roundtrip(postgres_database: str) -> None:
    assert postgres_database.startswith("postgresql+psycopg://")
    assert _roundtrip(postgres_database) == [(1, "iris"), (2, "mnist")]
    engine = sqlalchemy.create_engine(postgres_database)
    try:
        with engine.connect() as conn:
            version = conn.execute(sqlalchemy.text("SELECT version()")).scalar_one()
            dbname = conn.execute(sqlalchemy.text("SELECT current_database()")).scalar_one()
            encoding = conn.execute(sqlalchemy.text("SHOW server_encoding")).scalar_one()
    finally:
        engine.dispose()
    assert "PostgreSQL" in version
    assert dbname.startswith("modelplane_test_")
    assert encoding == "UTF8"


def test_postgres_server_can_make_more_databases(postgres_server: PostgresServer) -> None:
    if postgres_server.kind == "tempcluster":
        assert postgres_server.host == "127.0.0.1"
        assert postgres_server.data_dir is not None
        assert postgres_server.data_dir.is_dir()
    name = postgres_server.create_database()
    try:
        if postgres_server.password is None:
            expected = (
                f"postgresql+psycopg://{postgres_server.user}@{postgres_server.host}:{postgres_server.port}/{name}"
            )
            assert postgres_server.url(name) == expected
        assert postgres_server.url(name, driver="").startswith("postgresql://")
        assert _roundtrip(postgres_server.url(name)) == [(1, "iris"), (2, "mnist")]
    finally:
        postgres_server.drop_database(name)
    with postgres_server.connect() as conn:
        cur = conn.execute("SELECT count(*) FROM pg_database WHERE datname = %s", (name,))
        row = cur.fetchone()
    assert row is not None
    assert row[0] == 0


def test_sqlite_url_roundtrip(sqlite_url: str, tmp_path: Path) -> None:
    assert sqlite_url == f"sqlite+pysqlite:///{tmp_path / 'modelplane.db'}"
    assert _roundtrip(sqlite_url) == [(1, "iris"), (2, "mnist")]
    assert (tmp_path / "modelplane.db").is_file()
    engine = sqlalchemy.create_engine(sqlite_url)
    try:
        with engine.connect() as conn:
            version = conn.execute(sqlalchemy.text("SELECT sqlite_version()")).scalar_one()
    finally:
        engine.dispose()
    assert version.count(".") == 2
