"""AudioSet ingest vs raw yt-dlp on the same loopback server and the same clip list, interleaved, at
concurrency 1, 4 and 8; then a fault-injection run, its resume and a --retry-failed run.

    python benchmarks/bench_ingest.py [--quick] [--clips N] [--rounds R] [--fast-cuts]

- **ours**: `pipeline.build.ingest` of an AudioSet segment list (real YTIDs from the shipped eval list) into a
  fresh home: download the section, validate (probe, duration, silence), remux into the store, hash, commit.
- **baseline**: the yt-dlp Python API with exactly the options mmabench's downloader passes
  (`YtDlpFetcher._ydl_opts`: section download, exact cuts, bundled ffmpeg), one `YoutubeDL` per clip on a
  pool of the same number of threads, into a fresh folder. The measure is ours clips/s ÷ raw clips/s: what
  the validation, store and manifest cost on top of the download itself. The issue sets no goal for it.
- **cold**: a fresh home (new manifest, empty store) and the server's files dropped from the page cache
  before every run of either; the process's one-off imports and yt-dlp's extractor warm-up are paid before
  timing, for both. **warm**: ingest re-run on the same home: a no-op (nothing is requested), timed too.
"""

from __future__ import annotations

import argparse
import logging
import shutil
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from itertools import count
from pathlib import Path

from harness import ROOT, Measure, emit, evict, interleave, machine, median, timed

sys.path.append(str(ROOT))  # mmabench and tests/ (a PYTHONPATH, e.g. an older checkout, comes first)

from mmabench.config import BuildConfig, SourceConfig  # noqa: E402
from mmabench.db.readonly import run_readonly  # noqa: E402
from mmabench.pipeline.build import ingest  # noqa: E402
from mmabench.sources.audioset import read_segments  # noqa: E402
from mmabench.sources.download import DownloadOptions, YtDlpFetcher  # noqa: E402
from mmabench.taxonomy.curation import Curation  # noqa: E402
from tests.httpfaults import FaultServer  # noqa: E402
from tests.mediagen import make_clip  # noqa: E402

DOWNLOAD: dict = {"retries": 2, "backoff": 0.05, "timeout": 10.0, "exact_cuts": True}  # the CLI's default cuts
CONCURRENCY = (1, 4, 8)


def real_segments(n: int) -> list[tuple[str, str]]:
    cur, out = Curation.load(), []
    for s in read_segments("eval"):
        if cur.class_of(s.labels)[0]:
            out.append((s.ytid, ",".join(s.labels)))
            if len(out) == n:
                break
    return out


def run_ingest(home: Path, seg: Path, url: str, c: int, retry_failed: bool = False):
    rules = seg.parent / "rules.toml"  # a short list: every class is below the shipped min_segments
    if not rules.exists():
        shipped = ROOT / "mmabench" / "data" / "curation.toml"
        rules.write_text(shipped.read_text().replace("min_segments = 15", "min_segments = 1"))
    src = SourceConfig(
        name="audioset",
        options={"segments": [str(seg)], "url_template": url},
        runtime={"download": DOWNLOAD, "curation": str(rules)},
    )
    return ingest(BuildConfig(sources=[src]), home=home, workers=c, retry_failed=retry_failed, progress=False)


def run_raw(urls: list[str], section: tuple[float, float], out: Path, c: int) -> int:
    """yt-dlp alone, same options and sections; returns the number of files it wrote."""
    import yt_dlp

    fetcher = YtDlpFetcher(DownloadOptions(**DOWNLOAD))

    def one(job: tuple[int, str]) -> None:
        work = out / str(job[0])
        work.mkdir(parents=True)
        with yt_dlp.YoutubeDL(fetcher._ydl_opts(work, *section)) as ydl:
            ydl.download([job[1]])

    with ThreadPoolExecutor(c) as pool:
        list(pool.map(one, enumerate(urls)))
    return sum(1 for f in out.rglob("*.mp4"))


class Server(FaultServer):
    """The fault server, quiet about clients that hang up (ffmpeg does, and so does the truncated fault)."""

    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.httpd.handle_error = lambda *_: None  # type: ignore[method-assign]


def fault_run(tmp: Path, seg: Path, srv_root: Path, ids: list[str]) -> tuple[Measure, list[str]]:
    k = max(1, len(ids) // 6)
    faults = {
        **{y: "404" for y in ids[:k]},
        **{y: "500x1" for y in ids[k : 2 * k]},
        **{y: "429x99" for y in ids[2 * k : 3 * k]},
        **{y: "trunc" for y in ids[3 * k : 4 * k]},
    }
    home, lines = (
        tmp / "faults",
        [f"faults on {len(ids)} clips: {k}x404, {k}x(500 once), {k}x(429 always), {k}x truncated"],
    )

    def counts(rep) -> dict:
        return dict(sorted(rep.clip_status.items())) | {"new work": rep.stages[0].done}

    with Server(srv_root, faults=faults) as srv:
        first = counts(run_ingest(home, seg, srv.url_template, 4))
        first_hits = sum(srv.hits.values())
    with Server(srv_root, faults=faults) as srv:
        resume = counts(run_ingest(home, seg, srv.url_template, 4))
        resume_hits = sum(srv.hits.values())
    for y in ids[2 * k : 3 * k]:
        faults.pop(y)  # the throttle lifts
    with Server(srv_root, faults=faults) as srv:
        retry = counts(run_ingest(home, seg, srv.url_template, 4, retry_failed=True))
        retry_hits = sum(srv.hits.values())
    _, att = run_readonly(f"sqlite:///{home}/manifest.db", "SELECT status, max(attempts) FROM clips GROUP BY 1")
    lines += [
        f"  first run       {first}  server requests: {first_hits}",
        f"  resume          {resume}  server requests: {resume_hits}",
        f"  --retry-failed (429 lifted) {retry}  server requests: {retry_hits}",
        f"  max attempts per status: {dict(att)}",
    ]
    m = Measure(
        "ingest",
        "fault run then resume: requests on resume",
        resume_hits,
        "requests",
        detail={"first": first, "resume": resume, "retry_failed": retry, "max_attempts": dict(att)},
    )
    return m, lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="5 short clips, one round")
    ap.add_argument("--clips", type=int, default=None)
    ap.add_argument("--rounds", type=int, default=None)
    ap.add_argument("--fast-cuts", action="store_true", help="both sides copy from the keyframe before the start")
    args = ap.parse_args()
    DOWNLOAD["exact_cuts"] = not args.fast_cuts
    before = machine()
    logging.getLogger("mmabench").setLevel(logging.ERROR)  # failed clips are counted below, not logged
    n = args.clips or (5 if args.quick else 24)
    rounds = args.rounds or (1 if args.quick else 3)
    seconds, section = (6, (2.0, 5.0)) if args.quick else (15, (2.0, 12.0))
    rows = real_segments(n)
    measures: list[Measure] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        seg, srv_root = tmp / "segments.csv", tmp / "srv"
        seg.write_text(
            "YTID, start_seconds, end_seconds, positive_labels\n"
            + "".join(f'{y}, {section[0]:.3f}, {section[1]:.3f}, "{lab}"\n' for y, lab in rows)
        )
        for i, (y, _) in enumerate(rows + [("warmup", "")]):  # 320x240, 25 fps, a keyframe every 2 s
            make_clip(srv_root / f"{y}.mp4", seconds=seconds, size=(320, 240), fps=25, gop=50, freq=200 + 10 * i)
        print(
            f"{len(rows)} real AudioSet YTIDs (eval list), {section[1] - section[0]:.0f}-s sections of {seconds}-s "
            f"320x240 clips, loopback with Range, {'fast' if args.fast_cuts else 'exact'} cuts; {rounds} round(s), "
            "interleaved",
            flush=True,
        )
        fresh = count()
        with Server(srv_root) as srv:
            urls = [srv.url_template.format(ytid=y) for y, _ in rows]
            run_raw([srv.url_template.format(ytid="warmup")], section, tmp / "w0", 1)  # one-off imports
            warm_seg = tmp / "warm.csv"
            warm_seg.write_text(seg.read_text().splitlines()[0] + "\n" + seg.read_text().splitlines()[1] + "\n")
            run_ingest(tmp / "w1", warm_seg, srv.url_template, 1)
            for c in CONCURRENCY:
                homes: list[Path] = []

                def ours(c: int = c, homes: list[Path] = homes) -> None:
                    homes.append(tmp / f"home{next(fresh)}")
                    rep = run_ingest(homes[-1], seg, srv.url_template, c)
                    assert rep.clip_status == {"ok": n}, rep.clip_status

                def raw(c: int = c) -> None:
                    got = run_raw(urls, section, tmp / f"raw{next(fresh)}", c)
                    assert got == n, f"raw yt-dlp wrote {got} of {n} files"

                secs = interleave({"ours": ours, "raw": raw}, rounds, before_each=lambda _: evict([srv_root]))
                hits, work = sum(srv.hits.values()), [0]

                def rerun(h: Path, c: int = c, work: list[int] = work) -> None:
                    work[0] += run_ingest(h, seg, srv.url_template, c).stages[0].done

                noop = [timed(lambda h=h: rerun(h)) for h in homes]
                assert work == [0] and sum(srv.hits.values()) == hits  # a no-op: nothing asked for
                ours_cps, raw_cps = n / median(secs["ours"]), n / median(secs["raw"])
                measures.append(
                    Measure(
                        "ingest",
                        f"ingest ÷ raw yt-dlp clips/s, concurrency {c}",
                        ours_cps / raw_cps,
                        "×",
                        baseline=f"yt-dlp API, same options, {c} thread(s)",
                        cold=ours_cps / raw_cps,
                        detail={
                            "clips": n,
                            "ours_clips_per_s": round(ours_cps, 2),
                            "raw_clips_per_s": round(raw_cps, 2),
                            "ours_s": [round(x, 2) for x in secs["ours"]],
                            "raw_s": [round(x, 2) for x in secs["raw"]],
                        },
                    )
                )
                measures.append(
                    Measure(
                        "ingest",
                        f"no-op re-run, concurrency {c}",
                        median(noop),
                        "s",
                        warm=median(noop),
                        detail={"runs_s": [round(x, 3) for x in noop], "new_work": 0},
                    )
                )
                print(
                    f"concurrency {c}: ingest {ours_cps:5.2f} clips/s, raw yt-dlp {raw_cps:5.2f} clips/s "
                    f"(×{ours_cps / raw_cps:.2f}); no-op re-run {median(noop):.2f} s",
                    flush=True,
                )
                for h in homes:
                    shutil.rmtree(h, ignore_errors=True)
        m, lines = fault_run(tmp, seg, srv_root, [y for y, _ in rows])
        print("\n".join(lines), flush=True)
        measures.append(m)
    emit(measures, before)


if __name__ == "__main__":
    main()
