"""Run every benchmark, each in a fresh process (so "cold" is cold), and write one JSON + Markdown table.

    python benchmarks/run_all.py [--quick] [--only bench_swap bench_eval] [--out benchmarks/results]
        [--compare benchmarks/results/before.json]

Each benchmark prints its own table as it goes; this collects their `Measure`s (see harness.py) into
`<out>/<name>.json` and `<out>/<name>.md` (name: `latest` unless --name). With --compare, the Markdown gets a
"before" column, so a regression is one diff away.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from harness import ROOT, fmt, machine

# cheap first; each entry is a script in this folder that calls harness.emit()
BENCHES = [
    "bench_swap",
    "bench_query",
    "bench_eval",
    "bench_tag",
    "bench_ingest",
    "bench_build",
    "bench_ray_tag",
]


def run_one(name: str, quick: bool) -> tuple[list[dict], float, int]:
    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as f:
        out = Path(f.name)
    env = {**os.environ, "MMABENCH_BENCH_JSON": str(out), "PYTHONPATH": str(ROOT)}
    cmd = [sys.executable, str(ROOT / "benchmarks" / f"{name}.py")] + (["--quick"] if quick else [])
    t = time.perf_counter()
    rc = subprocess.run(cmd, env=env, cwd=ROOT, check=False).returncode
    wall = time.perf_counter() - t
    try:
        rows = json.loads(out.read_text() or "[]")
    finally:
        out.unlink(missing_ok=True)
    return rows, wall, rc


def markdown(rows: list[dict], meta: dict, before: dict[tuple[str, str], dict]) -> str:
    lines = [
        f"# mmabench benchmarks — {meta['time']}",
        "",
        f"Machine: {meta['cores']} cores, {meta['cpu']}, Python {meta['python']}, commit {meta['commit']}; "
        f"load average at start {meta['loadavg']}, at end {meta['loadavg_end']}.",
        "",
        "| bench | measure | value | goal | met | cold | warm | baseline (same run) |"
        + (" before |" if before else ""),
        "|---|---|---|---|---|---|---|---|" + ("---|" if before else ""),
    ]
    for r in rows:
        met = {None: "", True: "yes", False: "**no**"}[r["met"]]
        line = (
            f"| {r['bench']} | {r['name']} | {fmt(r['value'])} {r['unit']} | {r['goal']} | {met} | {fmt(r['cold'])} "
            f"| {fmt(r['warm'])} | {r['baseline']} |"
        )
        if before:
            b = before.get((r["bench"], r["name"]))
            line += f" {fmt(b['value']) if b else '-'} |"
        lines.append(line)
    failed = meta.get("failed") or []
    if failed:
        lines += ["", "Benchmarks that exited non-zero: " + ", ".join(failed)]
    return "\n".join(lines) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer rounds and smaller corpora (a smoke run)")
    ap.add_argument("--only", nargs="+", default=None, choices=BENCHES)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    ap.add_argument("--name", default="latest")
    ap.add_argument("--compare", type=Path, default=None, help="an earlier run_all JSON to show beside")
    args = ap.parse_args()
    meta = machine()
    rows: list[dict] = []
    failed = []
    for name in args.only or BENCHES:
        print(f"\n=== {name} ===", flush=True)
        got, wall, rc = run_one(name, args.quick)
        if rc:
            failed.append(name)
        rows += got
        print(f"--- {name}: {len(got)} measures in {wall:.0f} s (exit {rc})", flush=True)
    meta["loadavg_end"] = machine()["loadavg"]
    meta["failed"] = failed
    before = {}
    if args.compare:
        for r in json.loads(args.compare.read_text())["measures"]:
            before[(r["bench"], r["name"])] = r
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"{args.name}.json").write_text(json.dumps({"machine": meta, "measures": rows}, indent=1))
    md = markdown(rows, meta, before)
    (args.out / f"{args.name}.md").write_text(md)
    print("\n" + md)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
