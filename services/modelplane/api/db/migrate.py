"""Alembic migrations of the metadata store, run from code: ``python -m modelplane.api.db.migrate upgrade``.

The Helm chart's pre-install/pre-upgrade Job and the embedded mode call :func:`upgrade`; the tests call
both directions on Postgres and SQLite.
"""

from __future__ import annotations

import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy.engine import make_url

MIGRATIONS = Path(__file__).resolve().parent / "migrations"


def sync_url(url: str) -> str:
    """The synchronous driver URL for an async one (migrations run synchronously)."""
    parsed = make_url(url)
    if parsed.drivername == "sqlite+aiosqlite":
        parsed = parsed.set(drivername="sqlite+pysqlite")
    elif parsed.drivername in ("postgresql", "postgresql+asyncpg"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


def alembic_config(url: str) -> Config:
    """An Alembic configuration pointing at ModelPlane's migrations and ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", sync_url(url).replace("%", "%%"))
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Migrate the database at ``url`` down to ``revision``."""
    command.downgrade(alembic_config(url), revision)


def main(argv: list[str]) -> int:
    """``python -m modelplane.api.db.migrate upgrade|downgrade [REVISION]`` with the URL from settings."""
    from modelplane.api.settings import Settings

    if not argv or argv[0] not in ("upgrade", "downgrade"):
        print("usage: python -m modelplane.api.db.migrate upgrade|downgrade [REVISION]", file=sys.stderr)
        return 2
    url = Settings().db.url.get_secret_value()
    if argv[0] == "upgrade":
        upgrade(url, argv[1] if len(argv) > 1 else "head")
    else:
        downgrade(url, argv[1] if len(argv) > 1 else "base")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
