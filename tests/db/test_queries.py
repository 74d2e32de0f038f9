"""The shipped run_accuracy query: a hand-computed table, and the same numbers as the five-table join it replaced."""

import json
import random
from decimal import Decimal
from pathlib import Path

from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.bulk import write_predictions
from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from tests.db import predgen

SHIPPED = Path(__file__).resolve().parents[2] / "mmabench" / "db" / "queries" / "run_accuracy.sql"
# run_accuracy.sql as it was (through predictions_flat: predictions, runs, items, variants, clips x2)
OLD_JOIN = """
SELECT run_id, model, condition, prompt_modality, count(*) AS n,
       round(100.0 * avg(CASE WHEN correct THEN 1 ELSE 0 END), 1) AS accuracy,
       round(100.0 * avg(CASE WHEN abstained THEN 1 ELSE 0 END), 1) AS abstention,
       round(100.0 * avg(CASE WHEN parse_status = 'unparsed' THEN 1 ELSE 0 END), 1) AS unparsed
FROM predictions_flat
WHERE error IS NULL
GROUP BY run_id, model, condition, prompt_modality
ORDER BY run_id, condition, prompt_modality
"""


def _plain(rows: list[tuple]) -> list[tuple]:
    return [tuple(float(v) if isinstance(v, Decimal) else v for v in r) for r in rows]  # PG's round() is numeric


def _answer(run_id: str, item: dict, parsed, status: str = "exact", error=None) -> dict:
    return dict(
        run_id=run_id, item_id=item["id"], fingerprint="f", response="x", parsed=parsed, parse_status=status,
        correct=None if error else parsed == item["answer"], abstained=None if error else parsed == predgen.NONE,
        sent={}, error=error, attempts=1,
    ) | predgen.scored(item, parsed)  # fmt: skip


def test_run_accuracy_by_hand(db_url):
    with Manifest(db_url) as m:
        items = {(i["id"][1:-1], i["prompt_modality"]): i for i in predgen.items(m.upsert, 13)}
        aligned = [v for v in range(13) if v % 6 == 0]  # variants 0, 6, 12

        def it(v: int, mod: str) -> dict:
            return items[(f"{v:014x}", mod)]

        predgen.run(m.upsert, "r1", model="alpha")
        predgen.run(m.upsert, "r2", model="beta")
        a0, a6, a12 = aligned
        rows = [
            _answer("r1", it(a0, "visual"), it(a0, "visual")["answer"]),  # right
            _answer("r1", it(a6, "visual"), None, "unparsed"),
            _answer("r1", it(a12, "visual"), it(a12, "visual")["answer"]),  # right
            _answer("r1", it(a0, "audio"), predgen.NONE),  # abstained (wrong: the audio is there)
            _answer("r1", it(a6, "audio"), it(a6, "audio")["answer"]),  # right
            _answer("r1", it(1, "visual"), None, "error", error="HTTP 500"),  # not scored: no av_swap/visual row
            _answer("r1", it(1, "audio"), it(1, "audio")["answer"]),  # right
            _answer("r2", it(a0, "visual"), "Nothing like it"),  # wrong
        ]
        with m.session() as s, s.begin():
            write_predictions(s, rows)
    want = [
        ("r1", "alpha", "aligned", "audio", 2, 50.0, 50.0, 0.0),
        ("r1", "alpha", "aligned", "visual", 3, 66.7, 0.0, 33.3),
        ("r1", "alpha", "av_swap", "audio", 1, 100.0, 0.0, 0.0),
        ("r2", "beta", "aligned", "visual", 1, 0.0, 0.0, 0.0),
    ]
    cols, got = run_readonly(db_url, SHIPPED.read_text())
    assert cols == ["run_id", "model", "condition", "prompt_modality", "n", "accuracy", "abstention", "unparsed"]
    assert _plain(got) == want
    assert _plain(run_readonly(db_url, OLD_JOIN)[1]) == want
    # and through the command line, as the read-only role on PostgreSQL
    res = CliRunner().invoke(app, ["query", "--file", "run_accuracy", "--db", db_url, "--format", "json"])
    assert res.exit_code == 0, res.output
    assert [tuple(float(v) if k in cols[5:] else v for k, v in r.items()) for r in json.loads(res.output)] == want


def test_run_accuracy_equals_the_old_join_on_a_generated_manifest(db_url):
    rnd = random.Random(7)
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 300, seed=7)
        for k in range(3):
            run_id = predgen.run(m.upsert, f"run{k}", model=f"model-{k % 2}")
            chosen = rnd.sample(items, 500)  # runs of different sizes and coverage
            with m.session() as s, s.begin():
                write_predictions(s, [predgen.prediction(run_id, i, rnd) for i in chosen])
    new = run_readonly(db_url, SHIPPED.read_text())
    old = run_readonly(db_url, OLD_JOIN)
    assert new == old and len(new[1]) == 3 * 12
    assert sum(r[4] for r in new[1]) > 1300  # most of the 1500 answers scored (errors are ~5%)


def test_run_accuracy_walks_one_index_and_joins_only_runs(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    Manifest(url).close()
    plan = " | ".join(str(r[-1]) for r in run_readonly(url, "EXPLAIN QUERY PLAN " + SHIPPED.read_text())[1])
    assert "ix_predictions_cell" in plan and "items" not in plan and "variants" not in plan, plan
