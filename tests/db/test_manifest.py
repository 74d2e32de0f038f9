import pytest
from sqlalchemy import inspect, select, text

from mmabench.db.manifest import Manifest
from mmabench.db.migrate import head_revision
from mmabench.db.models import BuildRow, ClipRow
from mmabench.db.readonly import QueryError, ReadOnlyViolation, run_readonly


def _clip(i: int, status="ok") -> dict:
    return dict(
        id=f"{i:016x}", source="t", source_ref=f"r{i}", label="Dog", status=status, provenance={"i": i}, attempts=1
    )


def test_migrations_create_tables_and_view(db_url):
    with Manifest(db_url) as m:
        insp = inspect(m.engine)
        assert {
            "builds",
            "clips",
            "variants",
            "items",
            "runs",
            "predictions",
            "tags",
            "decisions",
            "alembic_version",
        } <= set(insp.get_table_names())
        assert {"items_flat", "predictions_flat"} <= set(insp.get_view_names())
    with Manifest(db_url) as m:  # re-open: already at head, nothing re-run
        with m.engine.connect() as c:
            assert c.execute(text("select version_num from alembic_version")).scalar() == head_revision() == "0007"


def test_upsert_inserts_once_and_updates_only_named_columns(db_url):
    with Manifest(db_url) as m:
        m.upsert(ClipRow, [_clip(1), _clip(2)])
        m.upsert(ClipRow, [_clip(1, status="error")])  # do nothing on conflict
        assert [c.status.value for c in m.clips()] == ["ok", "ok"]
        m.upsert(ClipRow, [_clip(1, status="error")], update=["status"])
        assert {c.id: c.status.value for c in m.clips()}[f"{1:016x}"] == "error"
        assert len(m.clips(status="ok")) == 1


def test_query_is_read_only_and_changes_nothing(db_url):
    with Manifest(db_url) as m:
        m.upsert(ClipRow, [_clip(1)])
        m.session().close()
    cols, rows = run_readonly(db_url, "SELECT id, label FROM clips")
    assert cols == ["id", "label"] and rows == [(f"{1:016x}", "Dog")]
    for bad in (
        "DELETE FROM clips",
        "DROP TABLE clips",
        "INSERT INTO builds(name) VALUES ('x')",
        "UPDATE clips SET label = 'Cat'",
    ):
        with pytest.raises(ReadOnlyViolation):
            run_readonly(db_url, bad)
    for smuggled in ("SELECT 1; DELETE FROM clips", "COMMIT; DELETE FROM clips"):
        with pytest.raises((ReadOnlyViolation, QueryError)):
            run_readonly(db_url, smuggled)
    with pytest.raises(QueryError):
        run_readonly(db_url, "SELECT nope FROM nowhere")
    assert run_readonly(db_url, "SELECT count(*), min(label) FROM clips")[1] == [(1, "Dog")]
    # literal ':' and '%' reach the database untouched
    assert run_readonly(db_url, "SELECT 'a:b' || '%'")[1] == [("a:b%",)]


def test_query_on_missing_sqlite_file_is_a_clear_error(tmp_path):
    with pytest.raises(QueryError, match="no manifest"):
        run_readonly(f"sqlite:///{tmp_path / 'none.db'}", "SELECT 1")
    assert not (tmp_path / "none.db").exists()


def test_build_row_json_roundtrip(db_url):
    with Manifest(db_url) as m:
        with m.session() as s, s.begin():
            s.add(
                BuildRow(
                    name="b", config={"seed": 3, "nested": [1, 2]}, config_hash="h", seed=3, versions={}, timings={}
                )
            )
        with m.session() as s:
            assert s.scalars(select(BuildRow.config)).one() == {"seed": 3, "nested": [1, 2]}
