"""AudioSet ingest against a loopback server: clips/s at concurrency 1, 4, 8, and a fault-injection run
followed by a resume and a --retry-failed run (counts per status after each).

    python benchmarks/bench_ingest.py [--clips 40]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from mmabench.config import BuildConfig, SourceConfig  # noqa: E402
from mmabench.db.readonly import run_readonly  # noqa: E402
from mmabench.pipeline.build import ingest  # noqa: E402
from mmabench.sources.audioset import read_segments  # noqa: E402
from mmabench.taxonomy.curation import Curation  # noqa: E402
from tests.httpfaults import FaultServer  # noqa: E402
from tests.mediagen import make_clip  # noqa: E402


def real_segments(n: int) -> list[tuple[str, str]]:
    cur, out = Curation.load(), []
    for s in read_segments("eval"):
        if cur.class_of(s.labels)[0]:
            out.append((s.ytid, ",".join(s.labels)))
            if len(out) == n:
                return out
    return out


def run(home: Path, seg: Path, url: str, concurrency: int, retry_failed=False, exact=True) -> tuple[float, dict]:
    src = SourceConfig(
        name="audioset",
        options={"segments": [str(seg)], "url_template": url},
        runtime={"download": {"retries": 2, "backoff": 0.05, "timeout": 5, "exact_cuts": exact}},
    )
    t = time.perf_counter()
    r = ingest(BuildConfig(sources=[src]), home=home, workers=concurrency, retry_failed=retry_failed, progress=False)
    return time.perf_counter() - t, dict(sorted(r.clip_status.items())) | {"new work": r.stages[0].done}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--clips", type=int, default=40)
    args = ap.parse_args()
    rows = real_segments(args.clips)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        seg = tmp / "segments.csv"
        seg.write_text(
            "YTID, start_seconds, end_seconds, positive_labels\n"
            + "".join(f'{y}, 2.000, 12.000, "{lab}"\n' for y, lab in rows)
        )
        for i, (y, _) in enumerate(rows):  # 15-s 320x240 clips, keyframe every 2 s; the 10-s section is cut
            make_clip(tmp / "srv" / f"{y}.mp4", seconds=15, size=(320, 240), fps=25, gop=50, freq=200 + 10 * i)
        print(f"{len(rows)} real AudioSet YTIDs (eval list), 10-s sections of 15-s 320x240 clips, loopback + Range")
        for exact in (True, False):
            for c in (1, 4, 8):
                with FaultServer(tmp / "srv") as srv:
                    wall, st = run(tmp / f"ws{c}{exact}", seg, srv.url_template, c, exact=exact)
                print(
                    f"{'exact' if exact else 'fast'} cuts, concurrency {c}: {len(rows) / wall:5.2f} clips/s "
                    f"({wall:.1f} s)  {st}"
                )
        ids = [y for y, _ in rows]
        faults = {
            **{y: "404" for y in ids[:4]},
            **{y: "500x1" for y in ids[4:8]},
            **{y: "429x99" for y in ids[8:11]},
            **{y: "trunc" for y in ids[11:13]},
        }
        home = tmp / "faults"
        with FaultServer(tmp / "srv", faults=faults) as srv:
            print("faults: 4x404, 4x(500 once), 3x(429 always), 2x truncated body")
            print("  first run      ", run(home, seg, srv.url_template, 4)[1])
        with FaultServer(tmp / "srv", faults=faults) as srv:
            print("  resume         ", run(home, seg, srv.url_template, 4)[1], f"server hits: {sum(srv.hits.values())}")
        for y in ids[8:11]:
            faults.pop(y)
        with FaultServer(tmp / "srv", faults=faults) as srv:
            print("  --retry-failed (429 lifted)", run(home, seg, srv.url_template, 4, retry_failed=True)[1])
        _, att = run_readonly(f"sqlite:///{home}/manifest.db", "SELECT status, max(attempts) FROM clips GROUP BY 1")
        print("  max attempts per status:", dict(att))


if __name__ == "__main__":
    main()
