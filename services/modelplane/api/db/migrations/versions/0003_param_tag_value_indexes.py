"""param and tag value indexes: partial (key, value) indexes on run_params and run_tags

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# Values up to 256 characters (modelplane.api.runs.models.INDEXED_VALUE_LENGTH): a btree entry holds
# at most ~2.7 kB on Postgres, a value up to 8,000 characters.
SHORT_VALUE = "length(value) <= 256"


def upgrade() -> None:
    for table in ("run_params", "run_tags"):
        op.create_index(
            f"ix_{table}_key_value",
            table,
            ["key", "value"],
            unique=False,
            postgresql_where=sa.text(SHORT_VALUE),
            sqlite_where=sa.text(SHORT_VALUE),
        )


def downgrade() -> None:
    for table in ("run_tags", "run_params"):
        op.drop_index(f"ix_{table}_key_value", table_name=table)
