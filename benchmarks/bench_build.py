"""The demo build (18 clips): cold `conflict` against a plain `cp -r` of the demo clips, interleaved; the
no-op re-run; `full` built on top.

    python benchmarks/bench_build.py [--quick] [--rounds R] [--workers N]

- **baseline**: `cp -r` of the demo's clips folder into a fresh folder: the floor of any build, which must at
  least read every input clip and write it into a store. The measure is build seconds ÷ cp seconds (how far
  above copying the inputs a cold build is); the issue sets no goal for it. The build's own stage sum vs its
  wall time is reported beside it (what orchestration: sources, manifest setup, planning, costs outside the
  stages).
- **cold**: a fresh home (new manifest, empty store) and the demo clips dropped from the page cache before
  each run of either; the process's one-off imports are paid before timing. **warm**: the same `conflict`
  build re-run on that home: a no-op (no new work), timed. **full on top**: `full` on that home (the
  conflict split's clips and renders are reused).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from itertools import count
from pathlib import Path

from harness import ROOT, Measure, emit, evict, interleave, machine, median, timed

sys.path.append(str(ROOT))  # mmabench (a PYTHONPATH, e.g. an older checkout, comes first)

from mmabench.pipeline.build import build  # noqa: E402
from mmabench.sources.demo import DEMO_DIR  # noqa: E402


def stage_sum(rep) -> float:
    return sum(s.seconds for s in rep.stages)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="one round")
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    before = machine()
    rounds = args.rounds or (1 if args.quick else 3)
    clips = DEMO_DIR / "clips"
    n = sum(1 for f in clips.rglob("*.mp4"))
    print(
        f"demo: {n} clips, {os.cpu_count()} cores, workers {args.workers or 'default'}, {rounds} round(s)", flush=True
    )
    with tempfile.TemporaryDirectory() as t:
        tmp, fresh = Path(t), count()
        build("conflict", home=tmp / "warmup", workers=args.workers, progress=False)  # one-off imports
        homes: list[Path] = []
        reports: list = []

        def ours() -> None:
            homes.append(tmp / f"home{next(fresh)}")
            reports.append(build("conflict", home=homes[-1], workers=args.workers, progress=False))

        def cp() -> None:
            subprocess.run(["cp", "-r", str(clips), str(tmp / f"cp{next(fresh)}")], check=True)

        secs = interleave({"build": ours, "cp": cp}, rounds, before_each=lambda _: evict([clips]))
        noop, full, full_reps = [], [], []
        for h in homes:
            got: list = []
            noop.append(
                timed(lambda h=h, got=got: got.append(build("conflict", home=h, workers=args.workers, progress=False)))
            )
            assert got[0].new_work == 0, got[0].stages
            full.append(
                timed(lambda h=h: full_reps.append(build("full", home=h, workers=args.workers, progress=False)))
            )
    cold, floor = median(secs["build"]), median(secs["cp"])
    sums = [stage_sum(r) for r in reports]
    walls = secs["build"]
    stages = {
        s.name: round(median([next(x.seconds for x in r.stages if x.name == s.name) for r in reports]), 3)
        for s in reports[0].stages
    }
    full_stages = {s.name: s.done for s in full_reps[0].stages}
    measures = [
        Measure(
            "build",
            "demo conflict build cold ÷ cp -r of its clips",
            cold / floor,
            "×",
            baseline=f"cp -r of the {n} demo clips",
            cold=cold,
            detail={
                "build_s": [round(x, 3) for x in walls],
                "cp_s": [round(x, 4) for x in secs["cp"]],
                "stages_s": stages,
            },
        ),
        Measure(
            "build",
            "demo conflict cold: wall outside the stages",
            median([w - s for s, w in zip(sums, walls)]),
            "s",
            baseline="the build's own stage sum",
            cold=median([w - s for s, w in zip(sums, walls)]),
            detail={
                "share_of_wall": round(median([1 - s / w for s, w in zip(sums, walls)]), 3),
                "stage_sum_s": [round(x, 3) for x in sums],
                "wall_s": [round(x, 3) for x in walls],
            },
        ),
        Measure(
            "build",
            "demo conflict no-op re-run",
            median(noop),
            "s",
            warm=median(noop),
            detail={"runs_s": [round(x, 3) for x in noop], "new_work": 0},
        ),
        Measure(
            "build",
            "demo full on top of conflict",
            median(full),
            "s",
            detail={"runs_s": [round(x, 3) for x in full], "new_units": full_stages},
        ),
    ]
    print(
        f"conflict cold {cold:.2f} s (stages {stages}), cp -r {floor * 1000:.0f} ms (×{cold / floor:.0f}); "
        f"no-op re-run {median(noop):.2f} s; full on top {median(full):.2f} s {full_stages}",
        flush=True,
    )
    emit(measures, before)


if __name__ == "__main__":
    main()
