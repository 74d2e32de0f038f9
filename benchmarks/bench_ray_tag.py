"""Tagging local vs on Ray on one node: imagenet + yamnet over the demo corpus ×k (each clip k times under
distinct content keys), each run into an empty manifest (every file goes through the model; both paths load
the models inside the measured time), interleaved.

    python benchmarks/bench_ray_tag.py [--quick] [--copies 1 4] [--actors 1] [--rounds 3]

Ray's start-up is reported apart (a cluster pays it once). Local = `mmabench tag` (decode threads + model in
this process); ray = `mmabench tag --executor ray` (an actor pool per tagger, decode threads inside each
actor). Both use --workers decode threads (per actor on Ray). On this 2-core machine shared with other
jobs the figures are upper bounds; the load is printed with them.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

from harness import Measure, emit, interleave, machine, median

from mmabench.config import BuildConfig
from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import ingest
from mmabench.schema import ClipStatus
from mmabench.tagging.ray_tag import RayTagOptions, tag_files_ray
from mmabench.tagging.runner import load_taggers, tag_files

TAGGERS = ["imagenet", "yamnet"]
OPTIONS = {"*": {"device": "cpu", "batch_size": 0}}


def measure(root: Path, base: Path, k: int, rounds: int, actors: int, workers: int) -> list[Measure]:
    """The demo ×k: each clip k times under distinct content keys (tags are cached by content)."""
    with Manifest(home=base) as m:
        clips = [(c.sha256, m.media_root / c.path) for c in m.clips(status=ClipStatus.ok)]
    files = {f"{i:02x}{sha[2:]}": path for i in range(k) for sha, path in clips}
    n = len(files)
    runs = {"local": 0, "ray": 0}
    startup: list[float] = []  # per Ray run: actor processes started and models loaded (paid once per pool)

    def fresh(which: str) -> Manifest:
        runs[which] += 1
        return Manifest(home=root / f"{which}{k}_{runs[which]}")  # an empty manifest: every file is tagged

    def local() -> None:
        with fresh("local") as m:
            reps = [tag_files(m, t, files, workers) for t in load_taggers(TAGGERS, OPTIONS)]
        assert [r.model_calls for r in reps] == [n, n]

    def on_ray() -> None:
        opts = RayTagOptions(actors=actors, workers=workers, cpus_per_actor=min(1.0, 2 / actors))
        with fresh("ray") as m:
            reps = [tag_files_ray(m, t, OPTIONS, files, opts)[1] for t in TAGGERS]
        startup.append(sum(r.startup_seconds for r in reps))
        assert [r.model_calls for r in reps] == [n, n]

    secs = interleave({"local": local, "ray": on_ray}, rounds)
    loc, ray_s = median(secs["local"]), median(secs["ray"])
    up = median([t - u for t, u in zip(secs["ray"], startup)])  # Ray once its actors hold the models
    print(
        f"{n} clips: local {loc:.1f} s ({1000 * loc / n:.0f} ms/clip), ray {ray_s:.1f} s "
        f"({1000 * ray_s / n:.0f} ms/clip; {1000 * up / n:.0f} ms/clip once the actors are up), "
        f"ray/local {ray_s / loc:.2f}x",
        flush=True,
    )
    detail = {"clips": n, "rounds": rounds, "actors": actors, "workers": workers, "runs_s": secs, "startup_s": startup}
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
        Measure("ray_tag", f"tag on ray once the actors are up, {n} clips", 1000 * up / n, "ms/clip", detail=detail),
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
        ingest(BuildConfig(), home=root / "demo", progress=False)
        for k in copies:
            measures += measure(root, root / "demo", k, rounds, a.actors, a.workers)
    measures.append(Measure("ray_tag", "Ray start-up (once per cluster)", startup, "s"))
    ray.shutdown()
    emit(measures, before)


if __name__ == "__main__":
    sys.exit(main())
