"""A read-only engine for the viewer, enforced by the database, not by the code that uses it.

SQLite: the file is opened with `mode=ro` (plus `query_only`), so not even a migration can write.
PostgreSQL: every transaction starts with SET TRANSACTION READ ONLY and connections are rolled back.
Kept here rather than in db/readonly.py (which serves `query` single statements) so the viewer owns its
pooled engine; both rely on the same database-side guarantees.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.pool import QueuePool


class ManifestMissing(FileNotFoundError):
    pass


def readonly_engine(url: str) -> Engine:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        path = Path(u.database or "")
        if not u.database or not path.is_file():
            raise ManifestMissing(f"no manifest at {path} (build one first, or pass --db)")
        uri = f"{path.resolve().as_uri()}?mode=ro"

        def connect() -> sqlite3.Connection:
            con = sqlite3.connect(uri, uri=True, check_same_thread=False, timeout=30)
            con.execute("PRAGMA query_only = ON")
            return con

        # a small pool of read-only connections shared by the server's threads
        return create_engine("sqlite://", creator=connect, poolclass=QueuePool, pool_size=4, max_overflow=4)
    if backend == "postgresql":
        engine = create_engine(u.set(drivername="postgresql+psycopg"), pool_pre_ping=True)

        @event.listens_for(engine, "begin")
        def _read_only(conn) -> None:  # first statement of every transaction
            conn.exec_driver_sql("SET TRANSACTION READ ONLY")

        return engine
    raise ValueError(f"the viewer supports SQLite and PostgreSQL manifests, not {backend!r}")


def check_manifest(engine: Engine, url: str) -> None:
    """Fail early, with one sentence, when the database is not an mmabench manifest (or not reachable)."""
    from sqlalchemy import text
    from sqlalchemy.exc import SQLAlchemyError

    try:
        with engine.connect() as con:
            con.execute(text("SELECT 1 FROM items_flat LIMIT 1")).all()
            con.execute(text("SELECT 1 FROM predictions_flat LIMIT 1")).all()
    except SQLAlchemyError as e:
        msg = str(getattr(e, "orig", e)).splitlines()[0]
        raise ManifestMissing(f"{make_url(url).render_as_string()} is not a readable mmabench manifest ({msg})") from e
    try:  # the runs page reads the columns of migration 0007; the viewer never migrates (read-only)
        with engine.connect() as con:
            con.execute(text("SELECT answer, follows_video, follows_audio FROM predictions LIMIT 1")).all()
    except SQLAlchemyError as e:
        raise ManifestMissing(
            f"{make_url(url).render_as_string()} has an older schema: run `mmabench db repair` on it once to migrate"
        ) from e
