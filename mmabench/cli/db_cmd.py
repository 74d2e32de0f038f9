"""`mmabench db …`: manifest administration (the read-only role `query` uses)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape

from mmabench.cli.app import DbOpt, HomeOpt, _fail, app, out

db_app = typer.Typer(help="Manifest administration: the read-only role for `query`.", no_args_is_help=True)
app.add_typer(db_app, name="db")


@db_app.command("init-readonly-role")
def init_readonly_role(
    role: str = typer.Option("mmabench_reader", "--role", help="Name of the SELECT-only role to create or tighten."),
    password: Optional[str] = typer.Option(
        None,
        "--password",
        envvar="MMABENCH_READONLY_PASSWORD",
        help="Set the role's login password (else log in by .pgpass, trust or peer rules).",
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """PostgreSQL: create (or tighten) the role `mmabench query` connects as: LOGIN, CONNECT + USAGE + SELECT on
    the manifest's tables and views (and on tables later migrations add), no superuser or server-file roles.
    Run it with the manifest owner's URL (--db / MMABENCH_DB)."""
    from mmabench.db.manifest import Manifest
    from mmabench.db.roles import RoleError, init_readonly_role

    with Manifest(db, home) as m:
        try:
            names = init_readonly_role(m.engine, role, password)
        except RoleError as e:
            _fail(escape(str(e)), 2)
    out.print(f"role {role}: SELECT on {len(names)} tables and views ({', '.join(names)}); `mmabench query` uses it")


@db_app.command("repair")
def repair(home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt) -> None:
    """Finish a schema that a run killed during its first migration left half-made (tables without a recorded
    revision): creates what is missing and records the revision; deletes nothing. A sound schema is left as is."""
    from mmabench.config import db_url
    from mmabench.db.manifest import make_engine
    from mmabench.db.migrate import SchemaError
    from mmabench.db.migrate import repair as repair_schema

    engine = make_engine(db_url(db, home))
    try:
        done = repair_schema(engine)
    except SchemaError as e:
        _fail(escape(str(e)), 1)
    finally:
        engine.dispose()
    out.print(f"repaired: {', '.join(done)}" if done else "the schema is sound: nothing to repair")
