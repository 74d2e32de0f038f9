"""Demo build wall time: cold `conflict`, no-op re-run, then `full` on top (default workers).

python benchmarks/bench_build.py [--workers N]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

from mmabench.pipeline.build import build


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=None)
    args = ap.parse_args()
    print(f"cores: {os.cpu_count()}, workers: {args.workers or 'default'}")
    with tempfile.TemporaryDirectory() as home:
        for label, split in (
            ("conflict (cold)", "conflict"),
            ("conflict (re-run)", "conflict"),
            ("full (on top)", "full"),
        ):
            t = time.perf_counter()
            r = build(split, home=home, workers=args.workers, progress=False)
            wall = time.perf_counter() - t
            stages = ", ".join(f"{s.name} {s.done} in {s.seconds:.2f}s" for s in r.stages)
            print(f"{label:<18} {wall:6.2f} s  ({stages})")


if __name__ == "__main__":
    main()
