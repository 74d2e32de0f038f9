"""`mmabench serve` page times on a synthetic SQLite manifest with 1M predictions (5 runs x 200k items).

Metadata only (no media): the list pages, an item page and the runs' keyset walk, timed end to end through
the app (query + template) with Starlette's test client; median of --repeat calls after one warm-up.
Also prints SQLite's plan for the list queries, to show they walk an index rather than sort.

    python benchmarks/bench_serve.py [--items 200000] [--runs 5] [--repeat 7]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import sqlite3
import statistics
import tempfile
import time
from pathlib import Path

from starlette.testclient import TestClient

from mmabench.db.manifest import Manifest
from mmabench.serve.app import create_app

CLASSES = ["Cat", "Horse", "Speech", "Camera", "Explosion", "Music"]
CONDITIONS = ["aligned", "av_swap", "caption", "long_context", "audio_removed", "frames_zeroed"]
SPLIT = {"aligned": "conflict", "av_swap": "conflict", "caption": "text", "long_context": "text"}


def hid(*parts: object) -> str:
    return hashlib.sha256("/".join(map(str, parts)).encode()).hexdigest()[:16]


def synthetic(home: Path, n_items: int, n_runs: int) -> list[str]:
    Manifest(home=home).close()  # schema and views by the migrations
    con = sqlite3.connect(home / "manifest.db")
    rnd = random.Random(0)
    opts = json.dumps(sorted(CLASSES) + ["None of the above"])
    con.execute(
        "INSERT INTO builds (name, config, config_hash, seed, versions, timings) VALUES "
        "('default', '{}', 'x', 0, '{}', '{}')"
    )
    clips = [(hid("clip", k), CLASSES[k % 6]) for k in range(600)]
    con.executemany(
        "INSERT INTO clips (id, source, source_ref, label, status, path, provenance, attempts) "
        "VALUES (?, 'synthetic', ?, ?, 'ok', ?, '{}', 1)",
        [(c, c, label, f"clips/{c}.mp4") for c, label in clips],
    )
    variants, items = [], []
    for v in range(n_items // 2):
        cond = CONDITIONS[v % 6]
        vc = clips[rnd.randrange(600)]
        ac = clips[rnd.randrange(600)] if cond == "av_swap" else (None if cond == "audio_removed" else vc)
        vid = hid("variant", v)
        variants.append((vid, cond, cond, vc[0], ac[0] if ac else None, f"variants/{vid}.mp4"))
        for mod in ("visual", "audio"):
            truth = vc[1] if mod == "visual" else (ac[1] if ac else "None of the above")
            items.append(
                (hid("item", v, mod), vid, SPLIT.get(cond, "unimodal"), cond, mod, f"Which {mod}?", opts, truth)
            )
    con.executemany(
        "INSERT INTO variants (id, condition, op, op_version, video_clip_id, audio_clip_id, recipe, tool_versions, "
        "path) VALUES (?, ?, ?, 1, ?, ?, '{}', '{}', ?)",
        variants,
    )
    con.executemany(
        "INSERT INTO items (id, build, variant_id, split, condition, prompt_modality, prompt, options, answer, "
        "abstain_expected, template_version) VALUES (?, 'default', ?, ?, ?, ?, ?, ?, ?, 0, 1)",
        items,
    )
    runs = [hid("run", r) for r in range(n_runs)]
    for r, run in enumerate(runs):
        con.execute(
            "INSERT INTO runs (id, model, adapter, options, build, split, template_version, package_version, seed, "
            "status, counts, timings) VALUES (?, ?, 'synthetic', '{}', 'default', 'full', 1, '0', 0, 'finished', "
            "'{}', '{}')",
            (run, f"model-{r}"),
        )
        rows = []
        for it in items:
            parsed = it[7] if rnd.random() < 0.4 + 0.1 * r else rnd.choice(CLASSES)
            rows.append((run, it[0], parsed, parsed == it[7], 12.5, '{"frames": 8}'))
        con.executemany(
            "INSERT INTO predictions (run_id, item_id, fingerprint, response, parsed, parse_status, correct, "
            "abstained, latency_ms, sent, attempts) VALUES (?, ?, 'f', ?3, ?3, 'exact', ?4, 0, ?5, ?6, 1)",
            rows,
        )
    con.commit()
    con.execute("ANALYZE")
    con.close()
    return runs


def timed(client: TestClient, url: str, repeat: int) -> float:
    assert client.get(url).status_code == 200, url  # warm-up (and the page must work)
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        r = client.get(url)
        times.append(1000 * (time.perf_counter() - t))
        assert r.status_code == 200
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--items", type=int, default=200_000)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        t = time.perf_counter()
        runs = synthetic(home, args.items, args.runs)
        n = sqlite3.connect(home / "manifest.db").execute("SELECT count(*) FROM predictions").fetchone()[0]
        print(f"synthetic manifest: {args.items} items, {n} predictions, written in {time.perf_counter() - t:.0f} s")
        client = TestClient(create_app(f"sqlite:///{home / 'manifest.db'}", home / "media"))
        mid = (
            sqlite3.connect(home / "manifest.db")
            .execute("SELECT id FROM items ORDER BY id LIMIT 1 OFFSET ?", (args.items // 2,))
            .fetchone()[0]
        )
        r = runs[-1]
        pages = {
            "list, no filter, page 1": "/items",
            "list, no filter, deep page (after the median id)": f"/items?after={mid}",
            "list, condition=av_swap, modality=audio": "/items?condition=av_swap&modality=audio",
            "list, build+split+condition+modality": "/items?build=default&split=conflict&condition=av_swap&modality=audio",
            "list, class=Cat, split=conflict, deep page": f"/items?class=Cat&split=conflict&after={mid}",
            "list, run + outcome=incorrect + av_swap": f"/items?run={r}&outcome=incorrect&condition=av_swap",
            "list, run + outcome=correct, deep page": f"/items?run={r}&outcome=correct&after={mid}",
            "list, run + class=Horse + audio_removed + correct": f"/items?run={r}&class=Horse&condition=audio_removed&outcome=correct",
            "item page (5 runs' answers)": f"/items/{mid}",
        }
        for name, url in pages.items():
            print(f"{timed(client, url, args.repeat):8.1f} ms  {name}")
        con = sqlite3.connect(home / "manifest.db")
        for label, sql in (
            ("no run", "SELECT i.id FROM items i WHERE i.condition = 'av_swap' AND i.id > '8' ORDER BY i.id LIMIT 51"),
            (
                "with run",
                "SELECT p.item_id FROM predictions p CROSS JOIN items i WHERE p.run_id = 'r' AND i.id = p.item_id "
                "AND i.condition = 'av_swap' AND p.item_id > '8' ORDER BY p.item_id LIMIT 51",
            ),
        ):
            plan = "; ".join(row[3] for row in con.execute("EXPLAIN QUERY PLAN " + sql))
            print(f"plan ({label}): {plan}")


if __name__ == "__main__":
    main()
