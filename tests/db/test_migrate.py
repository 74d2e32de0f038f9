"""Migrations under races and kills, and the repair of a half-made schema, on SQLite and a real PostgreSQL."""

from __future__ import annotations

import os
import random
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, inspect, select, text
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.manifest import Manifest, upsert
from mmabench.db.migrate import SchemaError, alembic_config, head_revision
from mmabench.db.models import BuildRow, RunRow
from mmabench.db.readonly import run_readonly
from mmabench.eval import aggregate
from tests.db import predgen
from tests.db.test_queries import OLD_JOIN, SHIPPED
from tests.eval.test_aggregate import comparable, row_path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT)}
SCHEMA = {"builds", "clips", "variants", "items", "runs", "predictions", "tags", "decisions", "alembic_version"}

RACER = """
import sys, time
from pathlib import Path
from mmabench.config import BuildConfig
from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import _register_build, apply_items
url, gate, me = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
(gate / f"ready-{me}").touch()
while not (gate / "go").exists():
    time.sleep(0.001)
with Manifest(url) as m:  # what a first build does: check the config, then write it with its items
    cfg = BuildConfig()
    apply_items(m, cfg.name, {"config": _register_build(m, cfg, False)})
print("ok")
"""

# Runs the real migration with a pause after every DDL/DML statement it sends, and says "step" each time,
# so the test can SIGKILL it between any two statements.
STEPPER = """
import sys, time
from alembic.ddl.impl import DefaultImpl
_exec = DefaultImpl._exec
def paced(self, *a, **k):
    r = _exec(self, *a, **k)
    print("step", flush=True)
    time.sleep(0.05)
    return r
DefaultImpl._exec = paced
from mmabench.db.manifest import Manifest
Manifest(sys.argv[1]).close()
print("done", flush=True)
"""


def _tables(url: str) -> set[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return set(inspect(c).get_table_names()) | set(inspect(c).get_view_names())
    finally:
        engine.dispose()


def _revisions(url: str) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return [r[0] for r in c.execute(text("SELECT version_num FROM alembic_version"))]
    finally:
        engine.dispose()


def test_eight_racing_first_builds_all_succeed_with_one_schema_and_one_build_row(db_url, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, db_url, str(gate), str(i)],
            env=ENV,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(8)
    ]
    deadline = time.monotonic() + 180
    while len(list(gate.glob("ready-*"))) < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
    (gate / "go").touch()  # all eight imported and waiting: they open the empty manifest together
    results = [(p.wait(timeout=180), *p.communicate()) for p in procs]
    assert [r[0] for r in results] == [0] * 8, "\n".join(r[2] for r in results if r[0])
    assert _revisions(db_url) == [head_revision()]
    assert SCHEMA <= _tables(db_url)
    with Manifest(db_url) as m, m.session() as s:
        assert s.scalars(select(BuildRow.name)).all() == ["default"]


def _kill_after(url: str, steps: int) -> None:
    p = subprocess.Popen([sys.executable, "-c", STEPPER, url], env=ENV, stdout=subprocess.PIPE, text=True)
    assert p.stdout is not None
    for _ in range(steps):
        assert p.stdout.readline() == "step\n"
    p.kill()
    p.wait(timeout=30)


def _steps(url: str) -> int:
    out = subprocess.run([sys.executable, "-c", STEPPER, url], env=ENV, capture_output=True, text=True, check=True)
    return out.stdout.count("step")


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_a_kill_during_the_first_migration_leaves_no_schema_and_the_next_open_works(backend, tmp_path, request):
    probe = f"sqlite:///{tmp_path / 'probe.db'}" if backend == "sqlite" else request.getfixturevalue("pg_url")
    total = _steps(probe)  # statements the whole migration sends (tables, indexes, views, revision rows)
    assert total >= 15
    points = [1, 4, total // 2, total - 1, total] if backend == "sqlite" else [2, total // 2, total]
    for k in points:
        url = f"sqlite:///{tmp_path / f'k{k}.db'}" if backend == "sqlite" else _fresh_pg(request, k)
        _kill_after(url, k)
        assert _tables(url) == set(), f"kill after statement {k} of {total} left a partial schema"
        with Manifest(url):
            pass
        assert _revisions(url) == [head_revision()] and SCHEMA <= _tables(url)


def _fresh_pg(request, k: int) -> str:
    import psycopg

    base = request.getfixturevalue("pg_url")
    name = f"{base.rsplit('/', 1)[1]}_k{k}"
    admin = base.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    request.addfinalizer(lambda: _drop(admin, name))
    return base.rsplit("/", 1)[0] + "/" + name


def _drop(admin: str, name: str) -> None:
    import psycopg

    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _half_made_by_an_old_crash(url: str) -> None:
    """What the old autocommitted migration left when killed: the first 0001 tables (builds, clips with one
    index), a row, no revision. Made with 0001's own DDL, then cut back to that prefix."""
    from alembic.operations import Operations
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    first = ScriptDirectory.from_config(alembic_config()).get_revision("0001")
    engine = create_engine(url)
    with engine.begin() as c:
        with Operations.context(MigrationContext.configure(c)):
            first.module.upgrade()
        for stmt in ("DROP VIEW items_flat", "DROP TABLE items", "DROP TABLE variants", "DROP INDEX ix_clips_status"):
            c.execute(text(stmt))
        c.execute(
            text(
                "INSERT INTO clips (id, source, source_ref, label, status, provenance, attempts) "
                "VALUES ('cccccccccccccccc', 't', 'r', 'Dog', 'ok', '{}', 1)"
            )
        )
    engine.dispose()


def test_half_made_schema_is_named_and_repaired_without_losing_data(db_url):
    _half_made_by_an_old_crash(db_url)
    with pytest.raises(SchemaError, match="half-made schema .*`mmabench db repair`"):
        Manifest(db_url)
    res = CliRunner().invoke(app, ["db", "repair", "--db", db_url])
    assert res.exit_code == 0, res.output
    assert "table variants" in res.output and "view items_flat" in res.output and "ix_clips_status" in res.output
    assert "ix_clips_label" not in res.output  # it existed: kept, not re-made
    with Manifest(db_url) as m:
        assert [c.id for c in m.clips()] == ["c" * 16]
    assert _revisions(db_url) == [head_revision()] and SCHEMA | {"items_flat", "predictions_flat"} <= _tables(db_url)
    again = CliRunner().invoke(app, ["db", "repair", "--db", db_url])
    assert again.exit_code == 0 and "nothing to repair" in again.output


def test_half_made_later_revision_is_detected_and_repaired(db_url):
    """Revision 0001 recorded and one table of 0002 present: the upgrade's 'already exists' becomes the message."""
    from alembic import command

    engine = create_engine(db_url)
    with engine.begin() as c:
        cfg = alembic_config()
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0001")
        RunRow.__table__.create(c)
    engine.dispose()
    with pytest.raises(SchemaError, match="revision 0001 recorded"):
        Manifest(db_url)
    assert _revisions(db_url) == ["0001"]  # the failed upgrade changed nothing
    assert CliRunner().invoke(app, ["db", "repair", "--db", db_url]).exit_code == 0
    with Manifest(db_url):
        pass
    assert _revisions(db_url) == [head_revision()] and "predictions_flat" in _tables(db_url)


def test_half_made_schema_is_one_line_from_the_command_line(tmp_path):
    db = tmp_path / "m.db"
    _half_made_by_an_old_crash(f"sqlite:///{db}")
    res = subprocess.run(
        [sys.executable, "-m", "mmabench", "eval", "--model", "random", "--db", str(db)],
        env=ENV,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert res.returncode == 1
    assert res.stderr.strip().count("\n") == 0 and "mmabench db repair" in res.stderr, res.stderr


def test_predictions_of_an_older_manifest_get_their_cells_on_upgrade(db_url):
    """0006 backfills condition and prompt_modality on existing predictions: run_accuracy, which reads them, then
    gives the numbers the old five-table join gives."""
    from alembic import command

    engine = create_engine(db_url)
    with engine.begin() as c:
        cfg = alembic_config()
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0005")

    def put(model, rows):
        with Session(engine) as s, s.begin():
            upsert(s, model.__table__, rows)

    rnd = random.Random(5)
    items = predgen.items(put, 60)
    predgen.run(put, "old1")
    cols = [
        "run_id", "item_id", "fingerprint", "response", "parsed", "parse_status", "correct", "abstained", "error",
        "sent", "attempts",
    ]  # fmt: skip
    rows = [predgen.prediction("old1", i, rnd) | {"sent": "{}"} for i in items]
    with engine.begin() as c:
        for r in rows:  # the 0005 schema: no cell columns, and no trigger yet to fill them
            c.execute(text(f"INSERT INTO predictions ({', '.join(cols)}) VALUES (:{', :'.join(cols)})"), r)
    engine.dispose()
    Manifest(db_url).close()  # migrates to head
    assert _revisions(db_url) == [head_revision()]
    empty = run_readonly(db_url, "SELECT count(*) FROM predictions WHERE condition IS NULL OR prompt_modality IS NULL")
    assert empty[1] == [(0,)]
    new, old = run_readonly(db_url, SHIPPED.read_text()), run_readonly(db_url, OLD_JOIN)
    assert new == old and len(new[1]) == 12
    # 0007 backfills the answer and follows flags: the report's counts give the row path's numbers
    with Manifest(db_url) as m, m.engine.connect() as con:
        assert comparable(aggregate.run_cells(con)["old1"]) == comparable(row_path(con, "old1"))
