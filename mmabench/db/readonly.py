"""The read-only query path behind `mmabench query`: enforcement is the database's, not a regex.

SQLite: opened with mode=ro plus query_only; sqlite3 executes exactly one statement.
PostgreSQL: a READ ONLY transaction that is always rolled back, sent through the extended protocol
(`prepare=True`), which carries one statement, so `COMMIT; DROP …` cannot slip past it.
SQL goes to the driver untouched (no bind-parameter parsing of ':' or '%').
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

from sqlalchemy.engine import make_url


class ReadOnlyViolation(PermissionError):
    pass


class QueryError(ValueError):
    pass


_WRITE_HINTS = ("readonly database", "read-only transaction", "attempt to write", "query_only")


def _classify(e: Exception) -> Exception:
    msg = str(e).strip()
    if any(h in msg.lower() for h in _WRITE_HINTS) or getattr(e, "sqlstate", None) == "25006":
        return ReadOnlyViolation(f"refused: `mmabench query` is read-only and this statement would write ({msg})")
    return QueryError(msg)


def run_readonly(url: str, sql: str) -> tuple[list[str], list[tuple]]:
    u = make_url(url)
    backend = u.get_backend_name()
    if backend == "sqlite":
        path = Path(u.database or "")
        if not path.exists():
            raise QueryError(f"no manifest at {path} (build one first, or pass --db)")
        con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
        try:
            con.execute("PRAGMA query_only = ON")
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description or ()]
            return cols, [tuple(r) for r in cur.fetchall()] if cols else []
        except sqlite3.Error as e:
            raise _classify(e) from e
        finally:
            con.close()
    if backend == "postgresql":
        import psycopg

        dsn = u.set(drivername="postgresql").render_as_string(hide_password=False)
        try:
            with psycopg.connect(dsn) as con:
                con.read_only = True
                try:
                    with con.cursor() as cur:
                        cur.execute(sql, prepare=True)
                        cols = [d.name for d in cur.description or ()]
                        return cols, [tuple(r) for r in cur.fetchall()] if cols else []
                finally:
                    con.rollback()
        except psycopg.Error as e:
            raise _classify(e) from e
    raise QueryError(f"read-only queries support SQLite and PostgreSQL, not {backend!r}")
