"""Local vs Ray executor on one node: the demo corpus copied ×1/×4/×16 (18/72/288 clips) as a folder source,
`full` build (ingest + synthesize + itemize), each size built by both executors in alternating order.

    python benchmarks/bench_ray.py [--copies 1 4 16] [--workers 2]

Reports wall time per stage, ms per clip, and Ray's overhead as a ratio to local (Ray's start-up is
reported apart: a cluster pays it once, not per build). Prints the machine load: on 2 busy cores the
figures are upper bounds.
"""

from __future__ import annotations

import argparse
import csv
import os
import shutil
import tempfile
import time
from pathlib import Path

from mmabench.config import BuildConfig, SourceConfig
from mmabench.pipeline.build import build
from mmabench.sources.demo import DEMO_DIR, demo_labels


def corpus(root: Path, copies: int) -> tuple[Path, Path]:
    """`copies` renamed copies of every demo clip (distinct paths -> distinct clip ids) and a labels CSV."""
    clips = sorted((DEMO_DIR / "clips").glob("*.mp4"))
    label = demo_labels()
    folder = root / f"x{copies}"
    folder.mkdir(parents=True)
    labels = root / f"x{copies}.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        for k in range(copies):
            for c in clips:
                name = f"{c.stem}_{k}.mp4"
                shutil.copy(c, folder / name)
                w.writerow([name, label[c.name]])
    return folder, labels


def run(executor: str, folder: Path, labels: Path, home: Path, workers: int) -> dict[str, float]:
    cfg = BuildConfig(sources=[SourceConfig(name="folder", options={"root": str(folder), "labels": str(labels)})])
    t = time.perf_counter()
    rep = build("full", cfg, home=home, workers=workers, progress=False, executor=executor)
    out = {s.name: s.seconds for s in rep.stages}
    out["total"] = time.perf_counter() - t
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 4, 16])
    ap.add_argument("--workers", type=int, default=2)
    a = ap.parse_args()
    import ray

    t = time.perf_counter()
    ray.init(num_cpus=a.workers, include_dashboard=False, log_to_driver=False, configure_logging=False)
    print(
        f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; Ray start-up {time.perf_counter() - t:.1f} s"
    )
    print(f"{'clips':>5} {'executor':>8} {'ingest s':>9} {'synth s':>8} {'total s':>8} {'ms/clip':>8} {'ray/local':>9}")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for copies in a.copies:
            folder, labels = corpus(root, copies)
            n = 18 * copies
            order = ("local", "ray") if copies % 2 else ("ray", "local")  # alternate who goes first
            res = {ex: run(ex, folder, labels, root / f"{ex}{copies}", a.workers) for ex in order}
            for ex in ("local", "ray"):
                r = res[ex]
                ratio = r["total"] / res["local"]["total"]
                print(
                    f"{n:>5} {ex:>8} {r['ingest']:>9.2f} {r['synthesize']:>8.2f} {r['total']:>8.2f} "
                    f"{1000 * r['total'] / n:>8.1f} {ratio:>8.2f}x"
                )
    ray.shutdown()


if __name__ == "__main__":
    main()
