"""The read-only query path behind `mmabench query`: three fences, each enough on its own for writes.

1. statement.py: one SELECT / WITH … SELECT / VALUES / plain EXPLAIN, parsed by sqlglot.
2. The connection cannot write:
   SQLite: opened `mode=ro` (plus `immutable=1` when no -wal file exists, so no -wal/-shm is created), PRAGMA
   query_only, and an authorizer that allows only reads and function calls (no ATTACH, so VACUUM INTO and
   ATTACH create no file; no PRAGMA; no load_extension).
   PostgreSQL: connects AS a role that can only SELECT the manifest (`mmabench db init-readonly-role`), never as
   the manifest's owner; a role that is superuser, may write a table or holds a server-file/program/signal role
   is refused before the statement runs.
3. The transaction: PostgreSQL READ ONLY (default_transaction_read_only too), always rolled back, one statement
   through the extended protocol (`prepare=True`), statement_timeout; SQLite executes one statement, and a
   progress handler stops it at the timeout.
SQL goes to the driver untouched (no bind-parameter parsing of ':' or '%').
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Optional
from urllib.parse import quote, unquote

from mmabench.db.statement import StatementRefused, check_read_only

DEFAULT_ROLE = "mmabench_reader"
DEFAULT_TIMEOUT = 30.0
# predefined roles that read or write server files, run programs or signal other sessions
DANGEROUS_ROLES = (
    "pg_read_server_files",
    "pg_write_server_files",
    "pg_execute_server_program",
    "pg_signal_backend",
    "pg_write_all_data",
    "pg_monitor",
)


class ReadOnlyViolation(PermissionError):
    pass


class QueryError(ValueError):
    pass


_WRITE_HINTS = ("readonly database", "read-only transaction", "attempt to write", "query_only", "not authorized")


def _classify(e: Exception, timeout: float) -> Exception:
    msg = (str(e).strip().splitlines() or [type(e).__name__])[0]
    state = getattr(e, "sqlstate", None)
    if state == "57014" or msg == "interrupted":
        return QueryError(f"the statement ran past the {timeout:g} s timeout (--timeout) and was stopped")
    if any(h in msg.lower() for h in _WRITE_HINTS) or state in ("25006", "42501", "2F003"):
        return ReadOnlyViolation(f"refused: `mmabench query` is read-only and the database refused this ({msg})")
    return QueryError(msg)


def run_readonly(
    url: str,
    sql: str,
    *,
    role: str = DEFAULT_ROLE,
    readonly_url: Optional[str] = None,
    timeout: float = DEFAULT_TIMEOUT,
) -> tuple[list[str], list[tuple]]:
    """Run one read-only statement on the manifest at `url`; PostgreSQL runs it as `role` (or `readonly_url`)."""
    backend = _parts(url)[0].split("+")[0]
    if backend not in ("sqlite", "postgresql"):
        raise QueryError(f"read-only queries support SQLite and PostgreSQL, not {backend!r}")
    try:
        check_read_only(sql, "sqlite" if backend == "sqlite" else "postgres")
    except StatementRefused as e:
        raise ReadOnlyViolation(f"refused: `mmabench query` runs one read-only statement; {e}") from e
    if backend == "sqlite":
        path = Path(unquote(_parts(url)[2].split("?")[0]))
        if not path.is_file():
            raise QueryError(f"no manifest at {path} (build one first, or pass --db)")
        con = open_sqlite(path, timeout)
        try:
            cur = con.execute(sql)
            cols = [d[0] for d in cur.description or ()]
            return cols, [tuple(r) for r in cur.fetchall()] if cols else []
        except sqlite3.Error as e:
            raise _classify(e, timeout) from e
        finally:
            con.close()
    import psycopg

    pg = open_postgres(url, role=role, readonly_url=readonly_url, timeout=timeout)
    try:
        with pg.cursor() as cur:
            cur.execute(sql.encode(), prepare=True)  # bytes: a str that is not a LiteralString fails the typing
            cols = [d.name for d in cur.description or ()]
            return cols, [tuple(r) for r in cur.fetchall()] if cols else []
    except psycopg.Error as e:
        raise _classify(e, timeout) from e
    finally:
        pg.rollback()
        pg.close()


# --- SQLite ----------------------------------------------------------------------------------------------
_ALLOWED = {sqlite3.SQLITE_SELECT, sqlite3.SQLITE_READ, sqlite3.SQLITE_RECURSIVE}
_DENIED_FUNCTIONS = {"load_extension", "fts3_tokenizer"}


def _authorize(action: int, arg1: Any, arg2: Any, _db: Any, _source: Any) -> int:
    if action in _ALLOWED:
        return sqlite3.SQLITE_OK
    if action == sqlite3.SQLITE_FUNCTION and str(arg2).lower() not in _DENIED_FUNCTIONS:
        return sqlite3.SQLITE_OK
    return sqlite3.SQLITE_DENY  # writes, DDL, ATTACH/DETACH (also what VACUUM INTO does), PRAGMA, transactions


def open_sqlite(path: Path, timeout: float = DEFAULT_TIMEOUT) -> sqlite3.Connection:
    """A connection that can only read `path` and creates no file beside it.

    `immutable=1` takes no locks and creates no -wal/-shm, but it does not read a -wal file, so commits a WAL
    writer has not checkpointed yet would be invisible. When a -wal exists (a build is running, or one was
    killed) the file is opened plain `mode=ro`, which reads it through the -shm that exists beside it."""
    wal = path.with_name(path.name + "-wal")
    mode = "ro" if wal.exists() else "ro&immutable=1"
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode={mode}", uri=True, isolation_level=None)
    con.execute("PRAGMA query_only = ON")
    con.set_authorizer(_authorize)
    deadline = time.monotonic() + timeout
    con.set_progress_handler(lambda: int(time.monotonic() > deadline), 10_000)
    return con


# --- PostgreSQL ------------------------------------------------------------------------------------------
def reader_dsn(url: str, role: str = DEFAULT_ROLE, readonly_url: Optional[str] = None) -> str:
    """The manifest's server and database with the reader role as user (no password: .pgpass, PGPASSWORD or
    trust supply it), or the read-only URL the user gave."""
    if readonly_url:
        return "postgresql://" + "/".join(_parts(readonly_url)[1:])
    _, netloc, rest = _parts(url)
    return f"postgresql://{quote(role, safe='')}@{netloc.rpartition('@')[2]}/{rest}"


def _parts(url: str) -> tuple[str, str, str]:
    """scheme, user@host:port, database?query of a database URL: what SQLAlchemy's make_url would give here,
    without importing SQLAlchemy (a third of `mmabench query`'s start-up)."""
    scheme, sep, after = url.partition("://")
    if not sep:
        raise QueryError(f"not a database URL: {url!r}")
    netloc, _, rest = after.partition("/")
    return scheme, netloc, rest


def open_postgres(
    url: str, *, role: str = DEFAULT_ROLE, readonly_url: Optional[str] = None, timeout: float = DEFAULT_TIMEOUT
):
    """A READ ONLY session as the reader role, refused if that role could write or touch the server."""
    import psycopg

    dsn = reader_dsn(url, role, readonly_url)
    user = unquote(_parts(dsn)[1].rpartition("@")[0].partition(":")[0]) or role
    ms = max(1, int(timeout * 1000))
    opts = f"-c default_transaction_read_only=on -c statement_timeout={ms} -c lock_timeout={ms}"
    try:
        con = psycopg.connect(dsn, options=opts + f" -c idle_in_transaction_session_timeout={ms}")
    except psycopg.OperationalError as e:
        first = (str(e).strip().splitlines() or ["?"])[-1]
        if f'role "{user}" does not exist' in str(e):
            raise QueryError(
                f'the read-only role "{user}" does not exist on this server; create it with '
                f"`mmabench db init-readonly-role --role {user}` (as the manifest's owner), or pass --readonly-url"
            ) from e
        raise QueryError(f"cannot connect as the read-only role {user!r}: {first}") from e
    con.read_only = True
    try:
        problems = _privileges(con)
    except psycopg.Error as e:
        con.close()
        raise QueryError(f"cannot check the read-only role {user!r}: {e}") from e
    if problems:
        con.close()
        raise ReadOnlyViolation(
            f"refused: the role {user!r} that `query` connects as can write or reach the server ({problems}); "
            f"use a role with SELECT only (`mmabench db init-readonly-role`)"
        )
    return con


_PRIVILEGES_SQL = """
SELECT r.rolsuper, r.rolcreaterole, r.rolcreatedb, r.rolreplication, r.rolbypassrls,
  array(SELECT d FROM unnest(%(dangerous)s::text[]) d
        WHERE EXISTS (SELECT 1 FROM pg_roles x WHERE x.rolname = d) AND pg_has_role(r.oid, d, 'MEMBER')),
  array(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND n.nspname NOT IN ('pg_catalog', 'information_schema')
          AND n.nspname NOT LIKE 'pg_toast%%'
          AND (has_table_privilege(c.oid, 'INSERT') OR has_table_privilege(c.oid, 'UPDATE')
               OR has_table_privilege(c.oid, 'DELETE') OR has_table_privilege(c.oid, 'TRUNCATE'))
        ORDER BY 1)
FROM pg_roles r WHERE r.rolname = current_user
"""


def _privileges(con) -> str:
    """What the session's role may do beyond reading, as words; empty when it is a plain reader."""
    row = con.execute(_PRIVILEGES_SQL, {"dangerous": list(DANGEROUS_ROLES)}).fetchone()
    if row is None:
        return "role not found"
    flags = ("superuser", "createrole", "createdb", "replication", "bypassrls")
    found = [f for f, on in zip(flags, row[:5]) if on]
    found += [f"member of {r}" for r in row[5]]
    if row[6]:
        found.append("may write " + ", ".join(row[6][:5]) + (" …" if len(row[6]) > 5 else ""))
    return "; ".join(found)
