"""Report metrics from SQL counts (eval/aggregate.py): a hand-computed table on both backends, identical numbers to
the row path (score_rows over predictions_flat) on a generated manifest, and the count-drawn CI against the row
bootstrap."""

from __future__ import annotations

import math
import random
import re
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import pytest
from sqlalchemy import Connection, text

from mmabench.db.bulk import write_predictions
from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, ItemRow, RunRow, VariantRow
from mmabench.eval import aggregate
from mmabench.eval.report import RunScores, load_scores, markdown
from mmabench.eval.scoring import Cell, binomial_ci, bootstrap_ci, score_rows
from tests.db import predgen

NONE = predgen.NONE
nan = float("nan")


# --- helpers shared with tests/db/test_migrate.py ------------------------------------------------------------
def row_path(con: Connection, run_id: str) -> list[Cell]:
    """The report before the aggregates: every row of predictions_flat through score_rows."""
    sql = (
        "SELECT condition, prompt_modality, answer, parsed, parse_status, correct, abstained, visual_class, "
        "audio_class FROM predictions_flat WHERE run_id = :r"
    )
    return score_rows([dict(r._mapping) for r in con.execute(text(sql), {"r": run_id})])


def comparable(cells: list[Cell]) -> list[dict[str, Any]]:
    """Every field but the CI, NaN made equal to itself."""
    out = []
    for c in cells:
        d = asdict(replace(c, ci=(0.0, 0.0)))
        out.append({k: "nan" if isinstance(v, float) and math.isnan(v) else v for k, v in d.items()})
    return out


# --- a hand-computed table (benchmark.md §5: micro accuracy, macro over classes, abstention, unparsed) ------
def _by_hand_manifest(m: Manifest) -> None:
    m.upsert(BuildRow, [dict(name="default", config={}, config_hash="h", seed=0, versions={}, timings={})])
    labels = {"cat": "Cat", "dog": "Dog", "speech": "Speech"}
    m.upsert(ClipRow, [dict(id=f"c-{k}", source="t", source_ref=k, label=v, status="ok", provenance={}) for k, v in labels.items()])  # fmt: skip
    # variant -> (condition, video clip, audio clip)
    variants = {
        "a1": ("aligned", "cat", "cat"), "a2": ("aligned", "dog", "dog"), "a3": ("aligned", "dog", "dog"),
        "s1": ("av_swap", "cat", "dog"), "s2": ("av_swap", "speech", "cat"), "r1": ("audio_removed", "cat", None),
    }  # fmt: skip
    m.upsert(VariantRow, [
        dict(id=f"v-{v}", condition=c, op=c, op_version=1, video_clip_id=f"c-{vc}",
             audio_clip_id=f"c-{ac}" if ac else None, recipe={}, tool_versions={})
        for v, (c, vc, ac) in variants.items()
    ])  # fmt: skip
    m.upsert(ItemRow, [
        dict(id=f"i-{v}{mod[0]}", build="default", variant_id=f"v-{v}", split="full", condition=c,
             prompt_modality=mod, prompt="?", options=[*labels.values(), NONE],
             answer=labels[vc] if mod == "visual" else labels[ac] if ac else NONE,
             abstain_expected=mod == "audio" and not ac, template_version=1)
        for v, (c, vc, ac) in variants.items() for mod in ("visual", "audio")
    ])  # fmt: skip
    for run in ("r1", "r2"):
        m.upsert(RunRow, [dict(id=run, model=run, adapter="t", options={}, build="default", split="full", template_version=1, package_version="0", seed=0, status="finished", counts={}, timings={})])  # fmt: skip
    answers = {  # i-<variant><v|a>: parsed (or "error" / "unparsed")
        "r1": {
            "i-a1v": "Cat", "i-a2v": "Cat", "i-a3v": "Dog",  # right, wrong, right
            "i-a1a": NONE, "i-a2a": "unparsed", "i-a3a": "error",  # abstained (wrong), unparsed, error
            "i-s1a": "Cat", "i-s2a": "Cat",  # truth Dog: names the video's class / truth Cat: the audio's
            "i-s1v": "Cat", "i-s2v": "Dog",  # truth Cat: names the video's class / truth Speech: neither
            "i-r1a": NONE, "i-r1v": "error",  # abstains where the audio is gone; a cell of errors only
        },
        "r2": {"i-a1v": "Dog"},
    }  # fmt: skip
    truth = {f"i-{v}{mod[0]}": labels[vc] if mod == "visual" else labels[ac] if ac else NONE
             for v, (_, vc, ac) in variants.items() for mod in ("visual", "audio")}  # fmt: skip
    rows = []
    for run, given in answers.items():
        for item, parsed in given.items():
            v, mod = item[2:-1], "visual" if item.endswith("v") else "audio"
            cond, vc, ac = variants[v]
            err = parsed == "error"
            p = None if parsed in ("error", "unparsed") else parsed
            rows.append(
                dict(run_id=run, item_id=item, fingerprint=f"{run}{item}", response=parsed, parsed=p,
                     parse_status="error" if err else "unparsed" if parsed == "unparsed" else "exact",
                     correct=None if err else p == truth[item], abstained=None if err else p == NONE,
                     sent={}, error="HTTP 500" if err else None, attempts=1,
                     # what the runner stores it with: the item's cell and answer, the clips it names
                     condition=cond, prompt_modality=mod, answer=truth[item],
                     follows_video=p == labels[vc], follows_audio=p == (labels[ac] if ac else None))
            )  # fmt: skip
    with m.session() as s, s.begin():
        write_predictions(s, rows)


# (condition, modality): n, accuracy, macro, abstention, unparsed, errors, follows video / audio, per class
BY_HAND = {
    "r1": {
        ("aligned", "audio"): (2, 0.0, 0.0, 50.0, 50.0, 1, None, None, {"Cat": 0.0, "Dog": 0.0}),
        ("aligned", "visual"): (3, 200 / 3, 75.0, 0.0, 0.0, 0, None, None, {"Cat": 100.0, "Dog": 50.0}),
        ("audio_removed", "audio"): (1, 100.0, 100.0, 100.0, 0.0, 0, None, None, {NONE: 100.0}),
        ("audio_removed", "visual"): (0, nan, nan, nan, nan, 1, None, None, {}),
        ("av_swap", "audio"): (2, 50.0, 50.0, 0.0, 0.0, 0, 50.0, 50.0, {"Cat": 100.0, "Dog": 0.0}),
        ("av_swap", "visual"): (2, 50.0, 50.0, 0.0, 0.0, 0, 50.0, 0.0, {"Cat": 100.0, "Speech": 0.0}),
    },
    "r2": {("aligned", "visual"): (1, 0.0, 0.0, 0.0, 0.0, 0, None, None, {"Cat": 0.0})},
}


def test_report_metrics_by_hand(db_url):
    with Manifest(db_url) as m:
        _by_hand_manifest(m)
        with m.engine.connect() as con:
            got = aggregate.run_cells(con)
            assert [comparable(got[r]) for r in ("r1", "r2")] == [comparable(row_path(con, r)) for r in ("r1", "r2")]
        scores = {s.run.id: s for s in load_scores(m)}
    for run, want in BY_HAND.items():
        assert [(c.condition, c.modality) for c in got[run]] == sorted(want)
        for c in got[run]:
            n, acc, macro, abst, unp, errors, fv, fa, per_class = want[(c.condition, c.modality)]
            assert (c.n, c.errors, c.follows_video, c.follows_audio, c.per_class) == (n, errors, fv, fa, per_class)
            for value, expected in ((c.accuracy, acc), (c.macro, macro), (c.abstention, abst), (c.unparsed, unp)):
                assert value == pytest.approx(expected, nan_ok=True)
        assert comparable(scores[run].cells) == comparable(got[run])  # what `mmabench report` shows
    cell = {(c.condition, c.modality): c for c in got["r1"]}
    assert cell[("audio_removed", "audio")].ci == (100.0, 100.0)  # every draw of 1 of 1 right is 100%
    assert all(math.isnan(x) for x in cell[("audio_removed", "visual")].ci)  # nothing scored, no interval


def _generated(m: Manifest, runs: int = 3) -> list[str]:
    rnd = random.Random(11)
    items = predgen.items(m.upsert, 300, seed=11)
    ids = []
    for k in range(runs):
        run_id = predgen.run(m.upsert, f"run{k}", model=f"model-{k}")
        with m.session() as s, s.begin():
            write_predictions(s, [predgen.prediction(run_id, i, rnd) for i in rnd.sample(items, 450)])
        ids.append(run_id)
    return ids


def test_aggregates_equal_the_row_path_on_a_generated_manifest(db_url):
    """Every metric but the CI identical to the digit (same float operations), and the report's Markdown the same
    apart from the CI column."""
    with Manifest(db_url) as m:
        ids = _generated(m)
        with m.engine.connect() as con:
            new = aggregate.run_cells(con)
            old = {r: row_path(con, r) for r in ids}
            only = aggregate.run_cells(con, [ids[1]])
        scores = load_scores(m)
    assert set(new) == set(ids) and list(only) == [ids[1]]
    for r in ids:
        assert comparable(new[r]) == comparable(old[r]) and len(new[r]) == 12
        assert sum(c.errors for c in new[r]) > 0 and any(c.follows_video for c in new[r])
    assert comparable(only[ids[1]]) == comparable(old[ids[1]])
    ci = re.compile(r"\| \d+\.\d–\d+\.\d \|")
    before = markdown([RunScores(s.run, old[s.run.id], s.demo) for s in scores], {})
    after = markdown(scores, {})
    assert ci.sub("| CI |", before) == ci.sub("| CI |", after) and len(ci.findall(after)) == 36


def test_report_reads_the_indexes_and_no_other_table(tmp_path):
    url = f"sqlite:///{tmp_path / 'm.db'}"
    with Manifest(url) as m, m.engine.connect() as con:
        for sql in (aggregate.SCORED, aggregate.ERRORS):
            plan = " | ".join(str(r[-1]) for r in con.execute(text("EXPLAIN QUERY PLAN " + sql.format(runs=""))))
            index = "ix_predictions_cell" if sql is aggregate.SCORED else "ix_predictions_errors"
            assert f"INDEX {index}" in plan and "items" not in plan and "AUTOINDEX" not in plan.upper(), plan


# --- the CI drawn from the counts vs the row bootstrap ------------------------------------------------------
def _exact_quantile(n: int, k: int, q: float) -> float:
    """The q-quantile (in %) of Binomial(n, k/n) / n, and how far the CDF is from q at the lattice points
    around it (the margin that keeps a Monte Carlo estimate on that point)."""
    p, cdf = k / n, 0.0
    for x in range(n + 1):
        cdf += math.comb(n, x) * p**x * (1 - p) ** (n - x)
        if cdf >= q:
            return 100 * x / n
    return 100.0


@pytest.mark.parametrize("n, k, draws", [(40, 4, 20_000), (400, 120, 20_000), (1000, 950, 5_000)])
def test_count_ci_is_the_row_bootstrap_distribution(n, k, draws):
    """Both are Monte Carlo estimates of the 2.5/97.5% quantiles of Binomial(n, k/n)/n. The SE of one estimate is
    sqrt(q(1-q)/B) / density = 2.67 sigma / sqrt(B) (normal shape; sigma = sd of the mean), i.e. 0.043 pp for
    n=400, p=0.3, B=20k; the quantile of a lattice distribution can also land anywhere within one step (100/n pp)
    when the CDF sits near q. Tolerance: one step + 6 SE of the difference — a wrong distribution (another n or
    p, a normal shortcut on the skewed n=40 case) misses by more; Monte Carlo noise does not reach it."""
    values = np.array([1.0] * k + [0.0] * (n - k))
    rows = bootstrap_ci(values, n_boot=draws, seed=1)
    counts = binomial_ci(k, n, n_boot=draws, seed=2)
    sigma = 100 * math.sqrt(k / n * (1 - k / n) / n)
    tol = 100 / n + 6 * math.sqrt(2) * 2.67 * sigma / math.sqrt(draws)
    exact = (_exact_quantile(n, k, 0.025), _exact_quantile(n, k, 0.975))
    for a, b, e in zip(rows, counts, exact):
        assert abs(a - b) <= tol and abs(a - e) <= tol and abs(b - e) <= tol, (rows, counts, exact, tol)
    if n == 40:  # CDF(0)=0.015, CDF(1)=0.08; CDF(7)=0.96, CDF(8)=0.99: 9+ SE from q, so both land on the lattice
        assert rows == counts == exact == (2.5, 20.0)


def test_count_ci_seed_semantics():
    assert binomial_ci(30_000, 100_000, seed=5) == binomial_ci(30_000, 100_000, seed=5)
    assert binomial_ci(30_000, 100_000, seed=5) != binomial_ci(30_000, 100_000, seed=6)
    assert binomial_ci(10, 10) == (100.0, 100.0) == bootstrap_ci(np.ones(10))
    assert binomial_ci(0, 10) == (0.0, 0.0)
    assert all(math.isnan(x) for x in binomial_ci(0, 0))
