"""Tagging local vs on Ray on one node: imagenet + yamnet over the demo corpus (copied ×k as a folder source),
each run on a fresh copy of the ingested workspace (every file goes through the model; both paths load the
models inside the measured time), interleaved.

    python benchmarks/bench_ray_tag.py [--quick] [--copies 1 4] [--actors 1] [--rounds 3]

Ray's start-up is reported apart (a cluster pays it once). Local = `mmabench tag` (decode threads + model in
this process); ray = `mmabench tag --executor ray` (an actor pool per tagger, decode threads inside each
actor). Both use --workers decode threads (per actor on Ray). On this 2-core machine shared with other
jobs the figures are upper bounds; the load is printed with them.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

from bench_ray import corpus
from harness import Measure, emit, interleave, machine, median

from mmabench.config import BuildConfig, SourceConfig
from mmabench.pipeline.build import ingest
from mmabench.tagging.ray_tag import RayTagOptions
from mmabench.tagging.runner import tag_clips

TAGGERS = ["imagenet", "yamnet"]
OPTIONS = {"*": {"device": "cpu", "batch_size": 0}}


def measure(root: Path, k: int, rounds: int, actors: int, workers: int) -> list[Measure]:
    folder, labels = corpus(root, k)
    base = root / f"ingested{k}"
    src = SourceConfig(name="folder", options={"root": str(folder), "labels": str(labels)})
    ingest(BuildConfig(sources=[src]), home=base, progress=False)
    n = 18 * k
    runs = {"local": 0, "ray": 0}

    def fresh(which: str) -> Path:
        runs[which] += 1
        home = root / f"{which}{k}_{runs[which]}"
        shutil.copytree(base, home)
        return home

    def local() -> None:
        reps = tag_clips(TAGGERS, home=fresh("local"), workers=workers, progress=False, options=OPTIONS)
        assert [r.model_calls for r in reps] == [n, n]

    def on_ray() -> None:
        opts = RayTagOptions(actors=actors, workers=workers, cpus_per_actor=min(1.0, 2 / actors))
        reps = tag_clips(TAGGERS, home=fresh("ray"), progress=False, options=OPTIONS, ray=opts)
        assert [r.model_calls for r in reps] == [n, n]

    secs = interleave({"local": local, "ray": on_ray}, rounds)
    loc, ray_s = median(secs["local"]), median(secs["ray"])
    print(
        f"{n} clips: local {loc:.1f} s ({1000 * loc / n:.0f} ms/clip), ray {ray_s:.1f} s "
        f"({1000 * ray_s / n:.0f} ms/clip), ray/local {ray_s / loc:.2f}x",
        flush=True,
    )
    detail = {"clips": n, "rounds": rounds, "actors": actors, "workers": workers, "runs_s": secs}
    name = "+".join(TAGGERS)
    return [
        Measure(
            "ray_tag",
            f"tag {name} ray/local, {n} clips",
            ray_s / loc,
            "x",
            baseline="local tag, same run",
            detail=detail,
        ),
        Measure("ray_tag", f"tag on ray, {n} clips", 1000 * ray_s / n, "ms/clip", detail=detail),
        Measure("ray_tag", f"tag local, {n} clips", 1000 * loc / n, "ms/clip", detail=detail),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="the demo once (18 clips), one round")
    ap.add_argument("--copies", type=int, nargs="+", default=[1, 4])
    ap.add_argument("--actors", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    a = ap.parse_args()
    copies, rounds = ([1], 1) if a.quick else (a.copies, a.rounds)
    before = machine()
    import ray

    t = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    startup = time.perf_counter() - t
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for k in copies:
            measures += measure(root, k, rounds, a.actors, a.workers)
    measures.append(Measure("ray_tag", "Ray start-up (once per cluster)", startup, "s"))
    ray.shutdown()
    emit(measures, before)


if __name__ == "__main__":
    sys.exit(main())
