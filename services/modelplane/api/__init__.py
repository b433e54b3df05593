"""The ModelPlane control plane: metadata store, model registry, artifacts, lineage, audit and auth.

A FastAPI application (``app.create_app``) over SQLAlchemy 2 (async; Postgres in production, SQLite in
the embedded mode) and an artifact store (S3 or a local directory). Each domain is a package with its
router, schemas, ORM models, repository (builds statements, never commits) and service (owns the
transaction and the audit record).
"""
