"""Manifest database: SQLAlchemy 2 models, engine factory, Alembic migrations, upserts, read-only queries."""

from typing import Any

__all__ = ["Manifest"]


def __getattr__(name: str) -> Any:
    # lazy: `mmabench query` reads through db.readonly and must not pay for Alembic and the ORM at start-up
    if name == "Manifest":
        from mmabench.db.manifest import Manifest

        return Manifest
    raise AttributeError(f"module 'mmabench.db' has no attribute {name!r}")
