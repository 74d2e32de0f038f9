"""`query`: read-only SQL over the manifest."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from mmabench.cli.app import (
    DbOpt,
    HomeOpt,
    OutFormat,
    _fail,
    app,
    err,
    out,
)


@app.command()
def query(
    sql: Optional[str] = typer.Argument(
        None,
        help='One SQL statement (read-only), e.g. "SELECT condition, '
        'prompt_modality, count(*) FROM items_flat GROUP BY 1, 2".',
    ),
    file: Optional[Path] = typer.Option(
        None,
        "--file",
        "-f",
        help="Read the statement from a .sql file, or name a shipped one (see --list), e.g. --file run_accuracy.",
    ),
    list_queries: bool = typer.Option(False, "--list", help="List the canned queries shipped with mmabench."),
    fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table, csv or json."),
    timeout: float = typer.Option(30.0, "--timeout", help="Stop the statement after this many seconds."),
    role: str = typer.Option(
        "mmabench_reader",
        "--role",
        envvar="MMABENCH_READONLY_ROLE",
        help="PostgreSQL: the SELECT-only role to connect as (see `mmabench db init-readonly-role`).",
    ),
    readonly_url: Optional[str] = typer.Option(
        None,
        "--readonly-url",
        envvar="MMABENCH_READONLY_DB",
        help="PostgreSQL: a URL that logs in as a SELECT-only role (instead of --db's server with --role).",
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """Run one read-only SQL statement (SELECT, WITH … SELECT, VALUES, EXPLAIN) on the manifest. On PostgreSQL it
    runs as a SELECT-only role in a read-only transaction; SQLite is opened read-only. Writes are refused and
    change nothing. Tables: builds, clips, variants, items; view: items_flat."""
    from mmabench.config import db_url
    from mmabench.db.readonly import QueryError, ReadOnlyViolation, run_readonly

    shipped = Path(__file__).resolve().parents[1] / "db" / "queries"
    if list_queries:
        for q in sorted(shipped.glob("*.sql")):
            out.print(f"{q.stem:<28} {q.read_text().splitlines()[0].lstrip('- ')}")
        return
    if file:
        named = shipped / f"{file.name.removesuffix('.sql')}.sql"
        sql = file.read_text() if file.is_file() else named.read_text() if named.is_file() else None
        if sql is None:
            _fail(f"no SQL file {file} (and no shipped query of that name; see --list)", 2)
    if not sql:
        _fail("give a SQL statement or --file")
    try:
        cols, rows = run_readonly(db_url(db, home), sql, role=role, readonly_url=readonly_url, timeout=timeout)
    except ReadOnlyViolation as e:
        _fail(escape(str(e)), 3)
    except QueryError as e:
        _fail(escape(f"query failed: {e}"), 2)
    if fmt is OutFormat.csv:
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    elif fmt is OutFormat.json:
        print(json.dumps([dict(zip(cols, r)) for r in rows], default=str, indent=1))
    else:
        t = Table(*map(escape, cols))
        for r in rows:
            t.add_row(*("" if v is None else escape(str(v)) for v in r))
        out.print(t)
        err.print(f"{len(rows)} row(s)")
