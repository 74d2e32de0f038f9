"""Attacks on `mmabench query`, on SQLite and a real PostgreSQL: every one is refused with one line, no manifest
row, table, role or large object changes, no file appears, and other sessions live on.

Each backend's list goes through the CLI (all fences); the database fences are also attacked on their own,
bypassing the statement check, so neither layer relies on the other."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import tempfile
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import create_engine, inspect, text
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, ItemRow, VariantRow
from mmabench.db.readonly import QueryError, ReadOnlyViolation, open_postgres, open_sqlite, run_readonly

runner = CliRunner()


def _populate(url: str) -> None:
    with Manifest(url) as m:
        m.upsert(BuildRow, [dict(name="default", config={}, config_hash="h", seed=0, versions={}, timings={})])
        m.upsert(
            ClipRow, [dict(id=f"{i:016x}", source="t", source_ref=f"r{i}", label="Dog", status="ok") for i in (1, 2)]
        )
        m.upsert(VariantRow, [dict(id="v" * 16, condition="aligned", video_clip_id=f"{1:016x}", recipe={})])
        m.upsert(ItemRow, [dict(id="i" * 16, build="default", variant_id="v" * 16, split="conflict", answer="Dog")])


def snapshot(url: str) -> str:
    """A checksum of every table's rows, the schema, and (PostgreSQL) roles, extensions and large objects."""
    engine = create_engine(url)
    parts: list = []
    with engine.connect() as c:
        insp = inspect(c)
        for t in sorted(insp.get_table_names()):
            cols = [col["name"] for col in insp.get_columns(t)]
            rows = sorted(repr(tuple(r)) for r in c.execute(text(f'SELECT * FROM "{t}"')))
            parts.append((t, cols, rows))
        parts.append(sorted(insp.get_view_names()))
        if engine.dialect.name == "postgresql":
            for q in (
                "SELECT rolname, rolsuper, rolcanlogin FROM pg_roles ORDER BY 1",
                "SELECT extname FROM pg_extension ORDER BY 1",
                "SELECT count(*) FROM pg_largeobject_metadata",
                "SELECT grantee, table_name, privilege_type FROM information_schema.role_table_grants ORDER BY 1, 2, 3",
            ):
                parts.append(c.execute(text(q)).all())
        else:
            parts.append(c.execute(text("SELECT type, name, sql FROM sqlite_master ORDER BY 1, 2")).all())
    engine.dispose()
    return hashlib.sha256(repr(parts).encode()).hexdigest()


def files(*roots: Path) -> set[Path]:
    return {p for r in roots for p in r.rglob("*")}


@pytest.fixture
def target():
    """Where attacks try to write: a folder the database server could write to, so absence means refusal."""
    d = Path(tempfile.mkdtemp(prefix="mmabench-attack-"))
    d.chmod(0o777)
    yield d
    for p in d.iterdir():
        p.unlink()
    d.rmdir()


def _cli(args: list[str]) -> tuple[int, str]:
    res = runner.invoke(app, ["query", "--timeout", "1", *args])
    return res.exit_code, res.output


def assert_refused(code: int, output: str, sql: str) -> None:
    assert code != 0, f"ran: {sql!r}\n{output}"
    assert len(output.strip().splitlines()) == 1, f"not one line for {sql!r}:\n{output}"
    assert output.startswith("error: "), output


# --- SQLite ------------------------------------------------------------------------------------------------
SQLITE_ATTACKS = [
    "ATTACH DATABASE '{t}/attached.db' AS evil",
    "VACUUM INTO '{t}/vacuumed.db'",
    "VACUUM",
    "PRAGMA journal_mode=DELETE",
    "PRAGMA writable_schema=1",
    "PRAGMA user_version=7",
    "PRAGMA query_only=0",
    "SELECT load_extension('{t}/evil')",
    "DELETE FROM clips",
    "INSERT INTO builds(name) VALUES ('evil')",
    "UPDATE clips SET label = 'Cat'",
    "DROP TABLE items",
    "CREATE TABLE evil(x)",
    "CREATE TEMP TABLE evil(x)",
    "CREATE VIEW evil AS SELECT 1",
    "CREATE TRIGGER evil AFTER INSERT ON clips BEGIN DELETE FROM clips; END",
    "ALTER TABLE clips ADD COLUMN evil INTEGER",
    "REINDEX",
    "ANALYZE",
    "BEGIN; DELETE FROM clips",
    "SELECT 1; DELETE FROM clips",
    "COMMIT; DROP TABLE items",
    "WITH x AS (SELECT 1) DELETE FROM clips",
    "INSERT INTO clips(id) SELECT 'x' RETURNING id",
    "REPLACE INTO builds(name) VALUES ('evil')",
    "DETACH DATABASE main",
    "SAVEPOINT s",
    "EXPLAIN DELETE FROM clips",
    "SELECT writefile('{t}/written', 'x')",
    "WITH RECURSIVE c(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM c) SELECT count(*) FROM c",  # timeout
]


@pytest.fixture
def sqlite_manifest(tmp_path):
    home = tmp_path / "ws"
    url = f"sqlite:///{home / 'manifest.db'}"
    _populate(url)
    return home, url


def test_sqlite_attacks_are_refused_and_change_nothing(sqlite_manifest, target):
    home, url = sqlite_manifest
    assert len(SQLITE_ATTACKS) >= 25
    before, seen = snapshot(url), files(home, target)
    for attack in SQLITE_ATTACKS:
        sql = attack.format(t=target)
        assert_refused(*_cli(["--db", url, sql]), sql)
        assert files(home, target) == seen, f"{sql!r} created files"
    assert snapshot(url) == before
    assert _cli(["--db", url, "SELECT count(*) FROM clips"])[0] == 0


@pytest.mark.parametrize(
    "sql",
    [
        "ATTACH DATABASE '{t}/attached.db' AS evil",
        "VACUUM INTO '{t}/vacuumed.db'",
        "PRAGMA journal_mode=DELETE",
        "PRAGMA writable_schema=1",
        "SELECT load_extension('{t}/evil')",
        "DELETE FROM clips",
        "INSERT INTO builds(name) VALUES ('evil')",
        "DROP TABLE items",
        "CREATE TEMP TABLE evil(x)",
        "SELECT 1; DELETE FROM clips",
    ],
)
def test_sqlite_connection_refuses_on_its_own(sqlite_manifest, target, sql):
    """The second fence without the first: the connection `query` opens cannot write or create files."""
    home, url = sqlite_manifest
    before, seen = snapshot(url), files(home, target)
    con = open_sqlite(home / "manifest.db")
    with pytest.raises((sqlite3.DatabaseError, sqlite3.ProgrammingError)):
        con.execute(sql.format(t=target))
    con.close()
    assert files(home, target) == seen
    assert snapshot(url) == before


def test_sqlite_reads_create_no_wal_files_and_see_a_live_writers_commits(sqlite_manifest):
    home, url = sqlite_manifest
    names = {p.name for p in home.iterdir()}
    assert "manifest.db-wal" not in names  # the Manifest closed cleanly: all checkpointed
    assert run_readonly(url, "SELECT count(*) FROM clips")[1] == [(2,)]
    assert {p.name for p in home.iterdir()} == names  # immutable: no -wal / -shm left behind
    writer = sqlite3.connect(home / "manifest.db", isolation_level=None)
    writer.execute("PRAGMA wal_autocheckpoint=0")  # the commit stays in the -wal, as during a build
    writer.execute("INSERT INTO clips(id, label) VALUES ('live', 'Cat')")
    with_wal = {p.name for p in home.iterdir()}
    assert "manifest.db-wal" in with_wal
    assert run_readonly(url, "SELECT count(*) FROM clips")[1] == [(3,)]
    assert {p.name for p in home.iterdir()} == with_wal
    writer.close()


# --- PostgreSQL --------------------------------------------------------------------------------------------
PG_ATTACKS = [
    "COPY (SELECT 1) TO PROGRAM 'touch {t}/program'",
    "COPY clips TO '{t}/clips.csv'",
    "COPY clips FROM '/etc/hostname'",
    "SELECT pg_read_file('/etc/passwd')",
    "SELECT pg_read_binary_file('/etc/passwd')",
    "SELECT pg_ls_dir('/')",
    "SELECT pg_terminate_backend({pid})",
    "SELECT pg_cancel_backend({pid})",
    "SELECT set_config('role', 'postgres', false)",
    "SELECT lo_import('/etc/passwd')",
    "SELECT lo_export(lo_from_bytea(0, 'x'), '{t}/lo')",
    "SELECT dblink_exec('{dsn}', 'DELETE FROM clips')",
    "SELECT * FROM dblink('{dsn}', 'SELECT pg_read_file(''/etc/passwd'')') AS t(x text)",
    "CREATE TABLE evil(x int)",
    "INSERT INTO builds(name) VALUES ('evil')",
    "UPDATE clips SET label = 'Cat'",
    "DELETE FROM clips",
    "DROP TABLE items CASCADE",
    "TRUNCATE clips CASCADE",
    "ALTER TABLE clips ADD COLUMN evil int",
    "COMMIT; DROP TABLE items CASCADE",
    "SELECT 1; DELETE FROM clips",
    "WITH x AS (DELETE FROM clips RETURNING *) SELECT count(*) FROM x",
    "SELECT pg_sleep(100)",  # timeout
    "SET ROLE postgres",
    "SET SESSION AUTHORIZATION postgres",
    "DO $$ BEGIN DELETE FROM clips; END $$",
    "EXPLAIN ANALYZE DELETE FROM clips",
    "SELECT * INTO evil FROM clips",
    "SELECT * FROM clips FOR UPDATE",
    "GRANT ALL ON clips TO PUBLIC",
    "SELECT pg_reload_conf()",
    "SELECT rolpassword FROM pg_authid",
    "CREATE TEMP TABLE evil AS SELECT 1",
    "VACUUM clips",
    "PREPARE p AS DELETE FROM clips",
    "SELECT pg_stat_reset()",
    "ALTER SYSTEM SET statement_timeout = 0",
]


@pytest.fixture
def pg_manifest(pg_url):
    _populate(pg_url)
    admin = psycopg.connect(pg_url.replace("postgresql+psycopg://", "postgresql://"), autocommit=True)
    admin.execute("CREATE EXTENSION IF NOT EXISTS dblink")
    yield pg_url, admin
    admin.close()


def _fill(attack: str, target: Path, url: str, admin) -> str:
    u = admin.info
    dsn = f"host={u.host} port={u.port} dbname={u.dbname} user=postgres"
    return attack.format(t=target, pid=admin.info.backend_pid, dsn=dsn)


def test_pg_attacks_are_refused_and_change_nothing(pg_manifest, target, tmp_path):
    url, admin = pg_manifest
    assert len(PG_ATTACKS) >= 25
    before, seen = snapshot(url), files(target, tmp_path)
    for attack in PG_ATTACKS:
        sql = _fill(attack, target, url, admin)
        assert_refused(*_cli(["--db", url, sql]), sql)
        assert files(target, tmp_path) == seen, f"{sql!r} created files"
        assert admin.execute("SELECT 1").fetchone() == (1,), f"{sql!r} killed another session"
    assert snapshot(url) == before
    assert _cli(["--db", url, "SELECT count(*) FROM clips"])[0] == 0


@pytest.mark.parametrize(
    "attack",
    [
        "COPY (SELECT 1) TO PROGRAM 'touch {t}/program'",
        "COPY clips TO '{t}/clips.csv'",
        "SELECT pg_read_file('/etc/passwd')",
        "SELECT pg_terminate_backend({pid})",
        "SELECT set_config('role', 'postgres', false)",
        "SELECT lo_import('/etc/passwd')",
        "SELECT dblink_exec('{dsn}', 'DELETE FROM clips')",
        "DELETE FROM clips",
        "DROP TABLE items CASCADE",
        "COMMIT; DROP TABLE items CASCADE",
        "WITH x AS (DELETE FROM clips RETURNING *) SELECT count(*) FROM x",
        "SELECT * INTO evil FROM clips",
        "SET ROLE postgres",
        "DO $$ BEGIN DELETE FROM clips; END $$",
        "EXPLAIN ANALYZE DELETE FROM clips",
        "SELECT pg_sleep(100)",
    ],
)
def test_pg_session_refuses_on_its_own(pg_manifest, target, attack):
    """The role and the read-only transaction without the statement check: the database itself refuses."""
    url, admin = pg_manifest
    before = snapshot(url)
    sql = _fill(attack, target, url, admin)
    con = open_postgres(url, timeout=1)
    with pytest.raises(psycopg.Error):
        try:
            con.execute(sql.encode(), prepare=True)
        finally:
            con.rollback()
            con.close()
    assert not list(target.iterdir())
    assert admin.execute("SELECT 1").fetchone() == (1,)
    assert snapshot(url) == before


def test_pg_query_never_runs_as_a_role_that_can_write(pg_manifest):
    url, admin = pg_manifest
    base = url.replace("postgresql+psycopg://", "postgresql://")
    with pytest.raises(ReadOnlyViolation, match="superuser"):  # the owner's own URL given as the read-only one
        run_readonly(url, "SELECT 1", readonly_url=base)
    admin.execute("CREATE ROLE sloppy LOGIN")
    admin.execute("GRANT SELECT, INSERT ON clips TO sloppy")
    with pytest.raises(ReadOnlyViolation, match="may write clips"):
        run_readonly(url, "SELECT 1", role="sloppy")
    admin.execute("REVOKE ALL ON clips FROM sloppy")
    admin.execute("GRANT pg_read_server_files TO sloppy")
    with pytest.raises(ReadOnlyViolation, match="member of pg_read_server_files"):
        run_readonly(url, "SELECT 1", role="sloppy")
    admin.execute("REVOKE pg_read_server_files FROM sloppy")
    admin.execute("DROP OWNED BY sloppy")
    admin.execute("DROP ROLE sloppy")


def test_pg_query_without_the_role_refuses_and_names_the_command(pg_manifest):
    url, _ = pg_manifest
    code, output = _cli(["--db", url, "--role", "nobody_here", "SELECT count(*) FROM clips"])
    assert_refused(code, output, "missing role")
    assert "mmabench db init-readonly-role --role nobody_here" in output
    with pytest.raises(QueryError, match="does not exist"):
        run_readonly(url, "SELECT current_user", role="nobody_here")


def test_init_readonly_role_grants_select_and_query_runs_as_it(pg_manifest, monkeypatch):
    url, admin = pg_manifest
    res = runner.invoke(app, ["db", "init-readonly-role", "--role", "reader_two", "--db", url])
    assert res.exit_code == 0, res.output
    assert "items_flat" in res.output and "alembic_version" not in res.output
    assert run_readonly(url, "SELECT current_user, count(*) FROM clips GROUP BY 1", role="reader_two")[1] == [
        ("reader_two", 2)
    ]
    flags = admin.execute("SELECT rolsuper, rolcanlogin FROM pg_roles WHERE rolname = 'reader_two'").fetchone()
    assert flags == (False, True)
    # tables a later migration adds are readable too (default privileges), without re-running the command
    admin.execute("CREATE TABLE later(x int)")
    assert run_readonly(url, "SELECT count(*) FROM later", role="reader_two")[1] == [(0,)]
    monkeypatch.setenv(
        "MMABENCH_READONLY_DB", url.replace("postgresql+psycopg://postgres@", "postgresql://reader_two@")
    )
    out = runner.invoke(app, ["query", "--db", url, "--format", "json", "SELECT current_user AS u"])
    assert out.exit_code == 0 and '"u": "reader_two"' in out.output
    admin.execute("DROP TABLE later")


def test_init_readonly_role_on_sqlite_is_a_clear_error(tmp_path):
    res = runner.invoke(app, ["db", "init-readonly-role", "--db", str(tmp_path / "m.db")])
    assert res.exit_code == 2 and len(res.output.strip().splitlines()) == 1 and "PostgreSQL" in res.output


def test_explain_and_canned_queries_pass_the_allow_list(sqlite_manifest, pg_manifest):
    for url in (sqlite_manifest[1], pg_manifest[0]):
        assert run_readonly(url, "EXPLAIN SELECT * FROM items_flat")[1]
        assert run_readonly(url, "VALUES (1), (2)")[1] == [(1,), (2,)]
        shipped = Path(__file__).resolve().parents[2] / "mmabench" / "db" / "queries"
        for q in sorted(shipped.glob("*.sql")):
            run_readonly(url, q.read_text())
    assert os.path.exists(sqlite_manifest[0] / "manifest.db")


@pytest.mark.parametrize(
    "url",
    [
        "postgresql+psycopg://owner:s%40cr%2Fet@db.example:6543/manifest?sslmode=require&application_name=x",
        "postgresql://owner@127.0.0.1/m",
        "postgresql+psycopg://[::1]:5433/m",
        "postgresql://h/m?host=/var/run/postgresql",
    ],
)
def test_reader_dsn_reads_urls_as_sqlalchemy_does(url):
    """readonly.py parses URLs itself (SQLAlchemy is a third of `mmabench query`'s start-up): same result."""
    from sqlalchemy.engine import make_url

    from mmabench.db.readonly import reader_dsn

    want, got = make_url(url), make_url(reader_dsn(url, role="reader_x"))
    assert (got.drivername, got.username, got.password) == ("postgresql", "reader_x", None)
    assert (got.host, got.port, got.database, dict(got.query)) == (
        want.host,
        want.port,
        want.database,
        dict(want.query),
    )
    given = make_url(reader_dsn(url, readonly_url=url.replace("owner", "ro")))
    assert given.username == make_url(url.replace("owner", "ro")).username and given.password == want.password


def test_sqlite_paths_read_as_sqlalchemy_does(tmp_path):
    from sqlalchemy.engine import make_url

    db = tmp_path / "dir with space" / "m.db"
    db.parent.mkdir()
    db.write_bytes(b"")
    for url in (f"sqlite:///{db}", f"sqlite:///{db}?mode=ro"):
        assert Path(make_url(url).database) == db
        assert run_readonly(url, "SELECT 1") == (["1"], [(1,)])  # found the file (else "no manifest at …")
