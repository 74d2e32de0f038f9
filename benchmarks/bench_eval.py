"""Evaluation harness speed on the demo `full` build.

1. Overhead: an instant in-process model (answers the first option) — items/s including parsing and the
   predictions writes (target >= 500 items/s).
2. Throughput vs. concurrency (1, 4, 16) with the openai-compat adapter against a loopback chat server
   that takes 100 ms per request — achieved / ideal (ideal = concurrency / 0.1 s; target >= 80%).

    python benchmarks/bench_eval.py
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmabench.adapters import Adapter, Response  # noqa: E402
from mmabench.eval.runner import evaluate, make_adapter  # noqa: E402
from mmabench.pipeline.build import build  # noqa: E402


class Instant(Adapter):
    name = "instant"

    def generate(self, request):
        return Response(request.item.options[0])


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp) / "base"
        build("full", home=base, progress=False)
        for k in range(3):
            home = Path(tmp) / f"i{k}"
            shutil.copytree(base, home)
            t = time.perf_counter()
            r = evaluate(Instant(model=f"instant{k}"), split="full", home=home, concurrency=4)
            wall = time.perf_counter() - t
            print(
                f"instant model, run {k + 1}: {r.called} items in {wall:.3f} s = {r.called / wall:.0f} items/s "
                f"(incl. manifest open, item load, DB writes)"
            )
        # warm the frame/audio extraction cache once so the timing is the harness, not media decoding
        for adapter, conc in [("openai-compat", 1), ("openai-compat", 4), ("openai-compat", 16), ("text-only", 16)]:
            home = Path(tmp) / f"c{conc}{adapter}"
            shutil.copytree(base, home)
            items = {1: 32, 4: 96, 16: 216}[conc]
            # the peer runs in its own process (as a real server would): the harness is what we measure
            peer = subprocess.Popen(
                [sys.executable, "-m", "tests.llmpeer", "0.1"],
                stdout=subprocess.PIPE,
                text=True,
                cwd=Path(__file__).resolve().parents[1],
            )
            url = peer.stdout.readline().strip()
            try:
                evaluate(
                    make_adapter(adapter, "warm", base_url=url + "/v1"),
                    split="full",
                    home=home,
                    limit=items,
                    concurrency=4,
                )
                t = time.perf_counter()
                r = evaluate(
                    make_adapter(adapter, f"omni-c{conc}", base_url=url + "/v1"),
                    split="full",
                    home=home,
                    limit=items,
                    concurrency=conc,
                )
                wall = time.perf_counter() - t
            finally:
                peer.kill()
            ideal = conc / 0.1
            print(
                f"{adapter:<13} concurrency {conc:>2}: {r.called} requests in {wall:.2f} s = {r.called / wall:5.1f} req/s, "
                f"ideal {ideal:.0f} -> {100 * r.called / wall / ideal:.0f}%"
            )


if __name__ == "__main__":
    main()
