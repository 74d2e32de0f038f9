"""The PostgreSQL role `mmabench query` connects as: LOGIN, SELECT on the manifest's tables and views, nothing else.

Created (or tightened) by the manifest's owner with `mmabench db init-readonly-role`. Default privileges grant
SELECT on tables the owner creates later (new migrations), so the role keeps up without being re-run.
"""

from __future__ import annotations

import re
from typing import Optional

from sqlalchemy import Engine, inspect, text

from mmabench.db.readonly import DANGEROUS_ROLES, DEFAULT_ROLE

_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
_FLAGS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


class RoleError(ValueError):
    pass


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(value: str) -> str:
    if "\x00" in value:
        raise RoleError("a password cannot contain a NUL byte")
    return "'" + value.replace("'", "''") + "'"  # standard_conforming_strings is on since PostgreSQL 9.1


def init_readonly_role(engine: Engine, role: str = DEFAULT_ROLE, password: Optional[str] = None) -> list[str]:
    """Create or tighten `role` and grant it SELECT on the manifest; returns the tables and views granted."""
    if engine.dialect.name != "postgresql":
        raise RoleError("read-only roles are a PostgreSQL feature; on SQLite `query` opens the file read-only")
    if not _NAME.fullmatch(role):
        raise RoleError(f"role name {role!r}: use lower-case letters, digits and '_' (at most 63)")
    r = _ident(role)
    with engine.begin() as c:
        # CREATE ROLE is cluster-wide: a concurrent creator of the same name is fine
        c.exec_driver_sql(
            f"DO $$ BEGIN CREATE ROLE {r} {_FLAGS}; "
            "EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
        )
        bad = c.execute(
            text(
                "SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls OR NOT rolcanlogin "
                "FROM pg_roles WHERE rolname = :r"
            ),
            {"r": role},
        ).scalar()
        if bad:
            c.exec_driver_sql(f"ALTER ROLE {r} {_FLAGS}")
        if password is not None:
            c.exec_driver_sql(f"ALTER ROLE {r} PASSWORD {_literal(password)}")
        for d in DANGEROUS_ROLES:
            member = c.execute(
                text(
                    "SELECT EXISTS (SELECT 1 FROM pg_auth_members m JOIN pg_roles a ON a.oid = m.roleid "
                    "JOIN pg_roles b ON b.oid = m.member WHERE a.rolname = :d AND b.rolname = :r)"
                ),
                {"d": d, "r": role},
            ).scalar()
            if member:
                c.exec_driver_sql(f"REVOKE {_ident(d)} FROM {r}")
        db, schema = c.execute(text("SELECT current_database(), current_schema()")).one()
        c.exec_driver_sql(f"GRANT CONNECT ON DATABASE {_ident(db)} TO {r}")
        c.exec_driver_sql(f"GRANT USAGE ON SCHEMA {_ident(schema)} TO {r}")
        insp = inspect(c)
        names = sorted(set(insp.get_table_names(schema=schema)) | set(insp.get_view_names(schema=schema)))
        names = [n for n in names if n != "alembic_version"]
        for n in names:
            c.exec_driver_sql(f"GRANT SELECT ON {_ident(schema)}.{_ident(n)} TO {r}")
        c.exec_driver_sql(f"ALTER DEFAULT PRIVILEGES IN SCHEMA {_ident(schema)} GRANT SELECT ON TABLES TO {r}")
    return names
