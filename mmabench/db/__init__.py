"""Manifest database: SQLAlchemy 2 models, engine factory, Alembic migrations, upserts, read-only queries."""

from mmabench.db.manifest import Manifest

__all__ = ["Manifest"]
