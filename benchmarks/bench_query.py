"""Manifest speed on SQLite and PostgreSQL: per-condition accuracy (`mmabench query --file run_accuracy`) and
`mmabench report` over 1M predictions (5 runs x 200k items; --quick: 100k), and prediction inserts.

    python benchmarks/bench_query.py [--quick]

- Query: the shipped run_accuracy through `run_readonly` (the function `mmabench query` calls: a fresh read-only
  connection each call) and through the CLI in a fresh process; baseline, interleaved: the old five-table join
  (predictions_flat) on the same manifest. Cold: SQLite file dropped from the page cache; PostgreSQL server
  restarted and its files dropped from the page cache. Warm: the same call repeated.
- Report: its metrics (`load_scores`: SQL counts, eval/aggregate.py) cold, as the first call in a fresh process
  after the same cold start, and warm, repeated in one process; baseline, interleaved: the old row path (every
  row of predictions_flat through score_rows, a 1000-draw row bootstrap per cell). Goal < 1 s, as the query's.
  Also the whole report (make_report: tables, 5 charts, md + html) in that fresh process, wall, both paths.
- Inserts: 20k new predictions per call (10k with --quick) into that manifest through db/bulk.py (COPY on
  PostgreSQL) vs the old path, `upsert()` executemany as eval/runner.py did, interleaved. Cold: the first call
  of each path on a fresh engine.
The manifest is written directly (sqlite3 executemany / psycopg COPY), metadata only. PostgreSQL is a throwaway
server (initdb, fsync=off as in the tests) with VACUUM ANALYZE after the load, as autovacuum would do.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator

from harness import Measure, emit, evict, interleave, machine, median

import mmabench
from mmabench.db.manifest import Manifest, make_engine, upsert
from mmabench.db.models import PredictionRow, RunRow
from mmabench.db.readonly import run_readonly
from mmabench.db.roles import init_readonly_role

BENCH = "query"
CLASSES = ["Cat", "Dog", "Horse", "Speech", "Camera", "Explosion"]
CONDITIONS = ["aligned", "av_swap", "caption", "long_context", "audio_removed", "frames_zeroed"]
NONE = "None of the above"
SHIPPED = Path(mmabench.__file__).parent / "db" / "queries" / "run_accuracy.sql"
OLD_JOIN = """SELECT run_id, model, condition, prompt_modality, count(*) AS n,
       round(100.0 * avg(CASE WHEN correct THEN 1 ELSE 0 END), 1) AS accuracy,
       round(100.0 * avg(CASE WHEN abstained THEN 1 ELSE 0 END), 1) AS abstention,
       round(100.0 * avg(CASE WHEN parse_status = 'unparsed' THEN 1 ELSE 0 END), 1) AS unparsed
FROM predictions_flat WHERE error IS NULL
GROUP BY run_id, model, condition, prompt_modality ORDER BY run_id, condition, prompt_modality"""
RUNS = 5


@dataclass
class Rounds:
    cold: int  # each after a cold start (cache dropped; PostgreSQL restarted)
    warm: int
    inserts: int  # per path; the first is cold
    batch: int  # rows per insert transaction


def hid(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:16]


# --- the synthetic manifest -------------------------------------------------------------------------------
def synthetic(n_items: int, cell_columns: bool, report_columns: bool = False):
    """Rows per table: clips, variants, items, runs, predictions (5 runs x n_items, 5% errors). The predictions
    carry the denormalised columns the schema has: the cell (0006), answer and follows flags (0007)."""
    rnd = random.Random(0)
    clips = [(hid("clip", k), CLASSES[k % 6]) for k in range(600)]
    variants, items = [], []
    labels: dict[str, tuple[str, str | None]] = {}  # item -> (video clip's class, audio clip's class)
    for v in range(n_items // 2):
        cond = CONDITIONS[v % 6]
        vc = clips[rnd.randrange(600)]
        ac = clips[rnd.randrange(600)] if cond == "av_swap" else None if cond == "audio_removed" else vc
        vid = hid("variant", v)
        variants.append((vid, cond, vc[0], ac[0] if ac else None))
        for mod in ("visual", "audio"):
            truth = vc[1] if mod == "visual" else (ac[1] if ac else NONE)
            items.append((hid("item", v, mod), vid, cond, mod, truth))
            labels[items[-1][0]] = (vc[1], ac[1] if ac else None)
    runs = [(hid("run", r), f"model-{r}") for r in range(RUNS)]

    def predictions():
        for r, (run, _) in enumerate(runs):
            for iid, _, cond, mod, truth in items:
                roll = rnd.random()
                if roll < 0.05:
                    row = (run, iid, None, "error", None, None, "HTTP 500")
                else:
                    parsed = truth if roll < 0.4 + 0.1 * r else NONE if roll > 0.95 else rnd.choice(CLASSES)
                    status = "unparsed" if 0.9 < roll < 0.93 else "exact"
                    row = (run, iid, parsed, status, parsed == truth, parsed == NONE, None)
                if report_columns:  # what db/bulk.py writes: the answer, NULL-safe "parsed names this clip's class"
                    row += (truth, row[2] == labels[iid][0], row[2] == labels[iid][1])
                yield row + ((cond, mod) if cell_columns else ())

    return clips, variants, items, runs, predictions


PRED_COLS = "run_id, item_id, parsed, parse_status, correct, abstained, error"


def has_cells(url: str) -> tuple[bool, bool]:
    """Does `predictions` carry the cell (0006), and the answer and follows flags (0007)?"""
    engine = make_engine(url)
    try:
        from sqlalchemy import inspect

        cols = {c["name"] for c in inspect(engine).get_columns("predictions")}
        return "condition" in cols, "follows_video" in cols
    finally:
        engine.dispose()


def pred_cols(cells: bool, report: bool) -> str:
    return (
        PRED_COLS
        + (", answer, follows_video, follows_audio" if report else "")
        + (", condition, prompt_modality" if cells else "")
    )


def fill_sqlite(path: Path, n_items: int) -> None:
    url = f"sqlite:///{path}"
    Manifest(url).close()
    cells, report = has_cells(url)
    clips, variants, items, runs, predictions = synthetic(n_items, cells, report)
    con = sqlite3.connect(path)
    con.execute("PRAGMA synchronous=OFF")  # throwaway data; and the secondary indexes are built after the load
    indexes = [r[0] for r in con.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions' AND sql IS NOT NULL")]  # fmt: skip
    for (name,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'predictions' AND sql IS NOT NULL").fetchall():  # fmt: skip
        con.execute(f"DROP INDEX {name}")
    con.execute("INSERT INTO builds (name, config, config_hash, seed, versions, timings) VALUES ('default', '{}', 'x', 0, '{}', '{}')")  # fmt: skip
    con.executemany(
        "INSERT INTO clips (id, source, source_ref, label, status, provenance, attempts) "
        "VALUES (?, 'synthetic', ?1, ?2, 'ok', '{}', 1)",
        clips,
    )
    con.executemany(
        "INSERT INTO variants (id, condition, op, op_version, video_clip_id, audio_clip_id, recipe, tool_versions) "
        "VALUES (?1, ?2, ?2, 1, ?3, ?4, '{}', '{}')",
        variants,
    )
    con.executemany(
        "INSERT INTO items (id, build, variant_id, split, condition, prompt_modality, prompt, options, answer, "
        "abstain_expected, template_version) VALUES (?, 'default', ?, 'full', ?, ?, '?', '[]', ?, 0, 1)",
        items,
    )
    con.executemany(
        "INSERT INTO runs (id, model, adapter, options, build, split, template_version, package_version, seed, "
        "status, counts, timings) VALUES (?, ?, 's', '{}', 'default', 'full', 1, '0', 0, 'finished', '{}', '{}')",
        runs,
    )
    cols = pred_cols(cells, report)
    marks = ", ".join("?" for _ in cols.split(","))
    con.executemany(
        f"INSERT INTO predictions ({cols}, fingerprint, sent, attempts) VALUES ({marks}, 'f', '{{}}', 1)",
        predictions(),
    )
    for sql in indexes:
        con.execute(sql)
    con.commit()
    con.close()


# --- a throwaway PostgreSQL (as tests/conftest.py starts one) ---------------------------------------------
@contextmanager
def pg_server() -> Iterator[tuple[str, Callable[[], None], Path]]:
    """(url, restart, data dir) of a fresh server."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        raise SystemExit("PostgreSQL binaries (initdb, pg_ctl) not found")
    base = Path(tempfile.mkdtemp(prefix="mmabench-pgbench-"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    as_pg: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(base, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    subprocess.run([*as_pg, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"], check=True, capture_output=True)  # fmt: skip
    opts = f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off"

    def ctl(*args: str) -> None:
        subprocess.run([*as_pg, pg_ctl, "-D", str(data), "-l", str(base / "log"), "-w", "-o", opts, *args], check=True, capture_output=True)  # fmt: skip

    ctl("start")
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres", lambda: ctl("-m", "fast", "restart"), data
    finally:
        subprocess.run([*as_pg, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


def fill_postgres(url: str, n_items: int) -> None:
    import psycopg

    Manifest(url).close()
    engine = make_engine(url)
    init_readonly_role(engine)
    engine.dispose()
    cells, report = has_cells(url)
    clips, variants, items, runs, predictions = synthetic(n_items, cells, report)
    with psycopg.connect(url.replace("+psycopg", "")) as con, con.cursor() as cur:
        cur.execute("INSERT INTO builds (name, config, config_hash, seed, versions, timings) VALUES ('default', '{}', 'x', 0, '{}', '{}')")  # fmt: skip
        with cur.copy("COPY clips (id, label, source, source_ref, status, provenance, attempts) FROM STDIN") as cp:
            for cid, label in clips:
                cp.write_row((cid, label, "synthetic", cid, "ok", "{}", 1))
        with cur.copy("COPY variants (id, condition, op, op_version, video_clip_id, audio_clip_id, recipe, tool_versions) FROM STDIN") as cp:  # fmt: skip
            for vid, cond, vc, ac in variants:
                cp.write_row((vid, cond, cond, 1, vc, ac, "{}", "{}"))
        with cur.copy("COPY items (id, variant_id, condition, prompt_modality, answer, build, split, prompt, options, abstain_expected, template_version) FROM STDIN") as cp:  # fmt: skip
            for it in items:
                cp.write_row((*it, "default", "full", "?", "[]", False, 1))
        with cur.copy("COPY runs (id, model, adapter, options, build, split, template_version, package_version, seed, status, counts, timings) FROM STDIN") as cp:  # fmt: skip
            for run, model in runs:
                cp.write_row((run, model, "s", "{}", "default", "full", 1, "0", 0, "finished", "{}", "{}"))
        cols = pred_cols(cells, report)
        cur.execute("SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'predictions' AND indexname <> 'predictions_pkey'")  # fmt: skip
        indexes = cur.fetchall()
        for name, _ in indexes:
            cur.execute(f"DROP INDEX {name}")
        with cur.copy(f"COPY predictions ({cols}, fingerprint, sent, attempts) FROM STDIN") as cp:
            for row in predictions():
                cp.write_row((*row, "f", "{}", 1))
        for _, sql in indexes:
            cur.execute(sql)
        con.commit()
    with psycopg.connect(url.replace("+psycopg", ""), autocommit=True) as con:
        con.execute("VACUUM ANALYZE")


# --- the measures -----------------------------------------------------------------------------------------
def cli(url: str, sql_file: Path | None) -> None:
    env = {**os.environ, "PYTHONPATH": str(Path(mmabench.__file__).parents[1])}
    what = ["--file", str(sql_file)] if sql_file else ["SELECT 1"]
    cmd = [sys.executable, "-m", "mmabench", "query", *what, "--db", url, "--format", "csv", "--timeout", "900"]
    subprocess.run(cmd, env=env, check=True, capture_output=True)


def query_measures(
    label: str, url: str, make_cold: Callable[[], None], n: int, rounds: Rounds, tmp: Path
) -> list[Measure]:
    old_file = tmp / "old_join.sql"
    old_file.write_text(OLD_JOIN)
    size = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
    function = {
        "ours": lambda: run_readonly(url, SHIPPED.read_text(), timeout=900),
        "old": lambda: run_readonly(url, OLD_JOIN, timeout=900),
    }
    assert function["ours"]() == function["old"](), "shipped query != old join"
    # the floor: a fresh `mmabench query "SELECT 1"`, i.e. what the process costs before any query
    command = {"ours": lambda: cli(url, SHIPPED), "old": lambda: cli(url, old_file), "floor": lambda: cli(url, None)}
    out = []
    for how, fns in (("run_readonly (the CLI's function)", function), ("CLI, fresh process", command)):
        cold = interleave({k: fns[k] for k in ("ours", "old")}, rounds.cold, before_each=lambda _: make_cold())
        warm = interleave(fns, rounds.warm)
        c, w, bc, bw = (median(cold["ours"]), median(warm["ours"]), median(cold["old"]), median(warm["old"]))
        floor = f"; process floor (query SELECT 1) {median(warm['floor']):.3g} s" if "floor" in warm else ""
        out.append(
            Measure(
                BENCH, f"run_accuracy over {size} predictions, {label}, {how}", c, "s", "< 1",
                f"old 5-table join: cold {bc:.3g} s, warm {bw:.3g} s{floor}", cold=c, warm=w,
                detail={"cold": cold, "warm": warm, "speedup_cold": bc / c, "speedup_warm": bw / w},
            )
        )  # fmt: skip
        print(f"  {out[-1].name}: cold {c:.3f} s, warm {w:.3f} s; {out[-1].baseline}", flush=True)
    return out


def old_load_scores(m: Manifest, run_ids: list[str] | None = None) -> list[Any]:
    """`mmabench report`'s load_scores before eval/aggregate.py: every row of predictions_flat into Python,
    scored by score_rows with a 1000-draw row bootstrap per cell."""
    from sqlalchemy import select, text

    from mmabench.db.models import BuildRow
    from mmabench.eval.report import RunScores
    from mmabench.eval.scoring import score_rows

    sql = text(
        "SELECT condition, prompt_modality, answer, parsed, parse_status, correct, abstained, visual_class, "
        "audio_class FROM predictions_flat WHERE run_id = :r"
    )
    with m.session() as s:
        runs = list(s.scalars(select(RunRow).order_by(RunRow.created_at)))
        builds = {b.name: b for b in s.scalars(select(BuildRow))}
        out = []
        for r in runs:
            rows = [dict(x._mapping) for x in s.execute(sql, {"r": r.id})]
            b = builds.get(r.build)
            demo = bool(b and any(src.get("name") == "demo" for src in b.config.get("sources", [])))
            out.append(RunScores(r, score_rows(rows), demo))
    return out


def report_child(which: str, url: str, out_dir: str) -> None:
    """In a fresh process: `mmabench report`'s make_report (tables, charts, md + html), with the old row path
    swapped in for `old`; prints the seconds its load_scores call took (the first in this process)."""
    import json

    import mmabench.eval.report as report

    load = old_load_scores if which == "old" else report.load_scores
    took: list[float] = []

    def timed_load(m: Manifest, run_ids: list[str] | None = None) -> list[Any]:
        t = time.perf_counter()
        try:
            return load(m, run_ids)
        finally:
            took.append(time.perf_counter() - t)

    report.load_scores = timed_load  # type: ignore[assignment]
    report.make_report(out_dir, db=url)
    print(json.dumps({"load_scores": took[0]}))


def report_measures(
    label: str, url: str, make_cold: Callable[[], None], n: int, rounds: Rounds, tmp: Path
) -> list[Measure]:
    """The report's metrics (load_scores) cold, as the first call in a fresh process with the files evicted, and
    warm, repeated in this process; and the whole `mmabench report` (make_report) in that fresh process."""
    import json

    from mmabench.eval.report import load_scores

    size = f"{n // 1000}k" if n < 1_000_000 else f"{n // 1_000_000}M"
    env = {**os.environ, "PYTHONPATH": str(Path(mmabench.__file__).parents[1])}
    inside: dict[str, list[float]] = {"ours": [], "old": []}

    def child(which: str) -> Callable[[], None]:
        def go() -> None:
            cmd = [sys.executable, __file__, "--report-child", which, url, str(tmp / f"report-{which}")]
            res = subprocess.run(cmd, env=env, check=True, capture_output=True, text=True)
            inside[which].append(json.loads(res.stdout.strip().splitlines()[-1])["load_scores"])

        return go

    cold = interleave({"ours": child("ours"), "old": child("old")}, rounds.cold, before_each=lambda _: make_cold())
    with Manifest(url) as m:
        ours, old = load_scores(m), old_load_scores(m)
        assert [[(c.condition, c.modality, c.n, c.accuracy, c.macro, c.per_class) for c in s.cells] for s in ours] == [
            [(c.condition, c.modality, c.n, c.accuracy, c.macro, c.per_class) for c in s.cells] for s in old
        ], "aggregate path != row path"
        warm = interleave({"ours": lambda: load_scores(m), "old": lambda: old_load_scores(m)}, rounds.warm)
    c, w, bc, bw = median(inside["ours"]), median(warm["ours"]), median(inside["old"]), median(warm["old"])
    wall, old_wall = median(cold["ours"]), median(cold["old"])
    metrics = Measure(
        BENCH, f"report metrics (load_scores) over {size} predictions, {label}; cold = first call in a fresh process",
        c, "s", "< 1", f"old row path (predictions_flat + score_rows): cold {bc:.3g} s, warm {bw:.3g} s", cold=c,
        warm=w, detail={"cold": inside, "warm": warm, "speedup_cold": bc / c, "speedup_warm": bw / w},
    )  # fmt: skip
    whole = Measure(
        BENCH, f"mmabench report (md + html + 5 charts) over {size} predictions, {label}, fresh process, wall",
        wall, "s", "", f"old row path: {old_wall:.3g} s; of which load_scores ours {c:.3g} s, old {bc:.3g} s",
        cold=wall, detail={"wall": cold},
    )  # fmt: skip
    for m in (metrics, whole):
        warm_note = f" (warm {m.warm:.3f} s)" if m.warm is not None else ""
        print(f"  {m.name}: {m.value:.3f} s{warm_note}; {m.baseline}", flush=True)
    return [metrics, whole]


def insert_measure(label: str, url: str, n_items: int, batch: int, rounds: int) -> Measure:
    """Rows/s; the first call of each path (fresh engine and connection) is the cold one."""
    try:
        from mmabench.db.bulk import write_predictions
    except ImportError:  # the code before db/bulk.py: the old path only
        write_predictions = None
    rnd = random.Random(1)
    items = [(hid("item", v, mod), CONDITIONS[v % 6], mod) for v in range(n_items // 2) for mod in ("visual", "audio")]
    cols = [c for c in PredictionRow.__table__.columns.keys() if c not in ("run_id", "item_id", "created_at")]
    # both paths write the cell (0006), the answer and follows flags (0007), as eval/runner.py does (else the
    # fill trigger would, per row)
    cells = "condition" in cols
    engines = {"old": Manifest(url), "ours": Manifest(url)}
    truth: dict[str, tuple[str, str, str | None]] = {}
    if "follows_video" in cols:
        with engines["old"].engine.connect() as con:
            sql = "SELECT item_id, answer, visual_class, audio_class FROM items_flat"
            truth = {r[0]: tuple(r[1:]) for r in con.exec_driver_sql(sql)}  # type: ignore[misc]
    pending: dict[str, list[dict[str, Any]]] = {}
    counter = iter(range(10**6))

    def rows(name: str) -> None:
        run = hid("insert-run", next(counter))
        engines["old"].upsert(RunRow, [dict(id=run, model="x", adapter="s", options={}, build="default", split="full", template_version=1, package_version="0", seed=0, status="running", counts={}, timings={})])  # fmt: skip
        pending[name] = [
            dict(run_id=run, item_id=iid, fingerprint=hid(run, iid), response="Cat", parsed="Cat", parse_status="exact",
                 correct=rnd.random() < 0.5, abstained=False, latency_ms=12.5, tokens_in=100, tokens_out=2,
                 sent={"frames": 8, "audio": mod == "audio"}, cached_from=None, error=None, attempts=1)
            | (dict(condition=cond, prompt_modality=mod) if cells else {})
            | (dict(answer=truth[iid][0], follows_video=truth[iid][1] == "Cat", follows_audio=truth[iid][2] == "Cat")
               if truth else {})
            for iid, cond, mod in rnd.sample(items, batch)
        ]  # fmt: skip

    def writer(name: str) -> Callable[[], None]:
        def go() -> None:
            with engines[name].session() as s, s.begin():
                if name == "ours" and write_predictions is not None:
                    write_predictions(s, pending[name])
                else:  # eval/runner.py before db/bulk.py
                    upsert(s, PredictionRow.__table__, pending[name], update=cols)

        return go

    fns = {"ours": writer("ours"), "old": writer("old")} if write_predictions else {"old": writer("old")}
    times = interleave(fns, rounds, before_each=rows)
    for m in engines.values():
        m.close()
    rate = {k: [batch / t for t in v] for k, v in times.items()}
    key = "ours" if "ours" in rate else "old"
    warm = median(rate[key][1:]) if len(rate[key]) > 1 else rate[key][0]
    old = median(rate["old"][1:]) if len(rate["old"]) > 1 else rate["old"][0]
    m = Measure(
        BENCH, f"prediction inserts, {label}, {batch} rows per transaction" + ("" if write_predictions else " (old path)"),
        warm, "rows/s", ">= 20000", f"executemany upsert (old path): {old:,.0f} rows/s", cold=rate[key][0], warm=warm,
        detail={"rows_per_s": rate},
    )  # fmt: skip
    print(f"  {m.name}: {warm:,.0f} rows/s (first call {rate[key][0]:,.0f}); old path {old:,.0f} rows/s", flush=True)
    return m


def run(quick: bool = False) -> list[Measure]:
    n_items = 20_000 if quick else 200_000
    n = n_items * RUNS
    rounds = Rounds(1, 2, 2, 5_000) if quick else Rounds(2, 3, 4, 20_000)
    out: list[Measure] = []
    with tempfile.TemporaryDirectory(prefix="mmabench-benchq-") as tmp:
        path = Path(tmp) / "manifest.db"
        t = time.perf_counter()
        fill_sqlite(path, n_items)
        print(f"SQLite manifest with {n:,} predictions written in {time.perf_counter() - t:.1f} s", flush=True)
        url = f"sqlite:///{path}"
        out += query_measures("SQLite", url, lambda: evict([path]), n, rounds, Path(tmp))
        out += report_measures("SQLite", url, lambda: evict([path]), n, rounds, Path(tmp))
        out.append(insert_measure("SQLite", url, n_items, rounds.batch, rounds.inserts))
        with pg_server() as (pg, restart, data):
            t = time.perf_counter()
            fill_postgres(pg, n_items)
            print(f"PostgreSQL manifest with {n:,} predictions written in {time.perf_counter() - t:.1f} s", flush=True)

            def cold() -> None:
                restart()
                evict([data])

            out += query_measures("PostgreSQL", pg, cold, n, rounds, Path(tmp))
            out += report_measures("PostgreSQL", pg, cold, n, rounds, Path(tmp))
            out.append(insert_measure("PostgreSQL", pg, n_items, rounds.batch, rounds.inserts))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="100k predictions instead of 1M")
    ap.add_argument("--report-child", nargs=3, metavar=("WHICH", "URL", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.report_child:  # one cold report measure, in this fresh process
        report_child(*args.report_child)
        return
    before = machine()
    where = Path(mmabench.__file__).parents[1]
    print(f"bench_query ({'quick: 100k' if args.quick else '1M'} predictions), mmabench from {where}", flush=True)
    emit(run(args.quick), before)


if __name__ == "__main__":
    main()
