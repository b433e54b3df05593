"""The metadata store: declarative base, async engine and sessions, Alembic migrations."""
