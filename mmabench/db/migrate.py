"""Schema migrations that are atomic and safe to race, and the repair of a schema an older crash left half-made.

All pending revisions run in ONE transaction that holds the manifest's migration lock, and the revision is
re-read after the lock is taken, so racing first runs migrate once and the others find the schema at head.
SQLite: BEGIN EXCLUSIVE on a connection whose driver emits no BEGIN/COMMIT of its own (pysqlite would
otherwise autocommit each CREATE); DDL is transactional there, so a kill leaves no schema or all of it.
PostgreSQL: pg_advisory_xact_lock, released with the transaction.
"""

from __future__ import annotations

import re
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator, Optional

from alembic import command
from alembic.config import Config as AlembicConfig
from alembic.operations import Operations
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event, inspect, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool

from mmabench.db.errors import SchemaError as SchemaError  # re-exported: callers import it from here
from mmabench.db.models import Base

MIGRATIONS = Path(__file__).parent / "migrations"
LOCK_KEY = 0x6D6D6162  # "mmab": the advisory lock every mmabench migration of one database takes
_VIEW = re.compile(r"^\s*CREATE\s+(?:OR\s+REPLACE\s+)?VIEW\s+(\w+)", re.I)


def alembic_config() -> AlembicConfig:
    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    return cfg


def head_revision() -> Optional[str]:
    return ScriptDirectory.from_config(alembic_config()).get_current_head()


def current_revision(conn: Connection) -> Optional[str]:
    return MigrationContext.configure(conn).get_current_revision()


@contextmanager
def locked(engine: Engine) -> Iterator[Connection]:
    """One transaction holding the migration lock; committed on success, rolled back on any error."""
    if engine.dialect.name != "sqlite":
        with engine.begin() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": LOCK_KEY})
            yield conn
        return
    eng = create_engine(engine.url, poolclass=NullPool, connect_args={"timeout": 60})

    @event.listens_for(eng, "connect")
    def _connect(dbapi_conn, _):
        dbapi_conn.isolation_level = None  # we say BEGIN and COMMIT; the driver says nothing
        dbapi_conn.execute("PRAGMA journal_mode=WAL")
        dbapi_conn.execute("PRAGMA foreign_keys=ON")

    @event.listens_for(eng, "begin")
    def _begin(conn):
        conn.exec_driver_sql("BEGIN EXCLUSIVE")

    try:
        with eng.begin() as conn:
            yield conn
    finally:
        eng.dispose()


def _where(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


def _half_made(engine: Engine, found: list[str]) -> SchemaError:
    return SchemaError(
        f"the manifest at {_where(engine)} has a half-made schema ({', '.join(found)}), left by a run killed "
        f"while creating it; run `mmabench db repair` to finish it (keeps all data)"
    )


def migrate(engine: Engine) -> None:
    head = head_revision()
    with engine.connect() as conn:
        if current_revision(conn) == head:
            return
    with locked(engine) as conn:
        current = current_revision(conn)  # again, under the lock: a racer may have migrated meanwhile
        if current == head:
            return
        if current is None:
            found = sorted(set(inspect(conn).get_table_names()) & set(Base.metadata.tables))
            if found:
                raise _half_made(engine, [f"tables {', '.join(found)} without a recorded revision"])
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        try:
            command.upgrade(cfg, "head")
        except DBAPIError as e:
            if "already exists" in str(e):
                raise _half_made(engine, [f"revision {current} recorded, later objects present"]) from e
            raise


def repair(engine: Engine) -> list[str]:
    """Bring a half-made schema to head without deleting anything; returns what was done (empty: nothing to do).

    A schema that migrates normally is just migrated. For a half-made one the pending migrations run again with
    their CREATE TABLE / CREATE INDEX / CREATE VIEW skipped where the object already exists (so what is created
    is exactly what the migration would create), and the revision is recorded."""
    try:
        with engine.connect() as conn:
            before = current_revision(conn)
        migrate(engine)
        return [] if before == head_revision() else [f"migrated {before or 'an empty database'} to {head_revision()}"]
    except SchemaError:
        pass
    done: list[str] = []
    script = ScriptDirectory.from_config(alembic_config())
    with locked(engine) as conn:
        ctx = MigrationContext.configure(conn, opts={"render_as_batch": True})
        current = ctx.get_current_revision()
        order = list(reversed(list(script.walk_revisions("base", "heads"))))
        ids = [r.revision for r in order]
        pending = order[ids.index(current) + 1 :] if current in ids else order
        _skip_existing(ctx, conn, done)
        with Operations.context(ctx):
            for rev in pending:
                try:
                    rev.module.upgrade()
                except DBAPIError as e:
                    first = str(e.orig).strip().splitlines()[0] if e.orig else str(e)
                    raise SchemaError(f"cannot repair revision {rev.revision} automatically: {first}") from e
        cfg = alembic_config()
        cfg.attributes["connection"] = conn
        command.stamp(cfg, "head")
        done.append(f"recorded revision {head_revision()}")
    return done


def _skip_existing(ctx: MigrationContext, conn: Connection, done: list[str]) -> None:
    """Make this context's table, index and view creation skip objects that exist (this context only)."""
    impl = ctx.impl
    create_table, create_index, execute = impl.create_table, impl.create_index, impl.execute

    def table(t, **kw):
        if not inspect(conn).has_table(t.name):
            create_table(t, **kw)
            done.append(f"table {t.name}")

    def index(ix, **kw):
        if ix.name not in {i["name"] for i in inspect(conn).get_indexes(ix.table.name)}:
            create_index(ix, **kw)
            done.append(f"index {ix.name}")

    def sql(statement, execution_options=None):
        view = _VIEW.match(str(statement))
        if view and view.group(1) in inspect(conn).get_view_names():
            return
        execute(statement, execution_options=execution_options)
        if view:
            done.append(f"view {view.group(1)}")

    impl.create_table = table  # type: ignore[method-assign, assignment]
    impl.create_index = index  # type: ignore[method-assign, assignment]
    impl.execute = sql  # type: ignore[method-assign]
