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
