"""Evaluation harness speed on the demo `full` build (issue #16).

1. Overhead: an instant in-process model (answers the first option): items/s of `evaluate()` including the
   manifest open, item load, parsing and the predictions writes. Goal >= 500 items/s.
2. openai-compat against a 100-ms loopback chat server (tests/llmpeer.py, in its own process) at concurrency
   1, 4, 16: achieved / ideal request rate, goal >= 80%. The ideal is measured in the same run, interleaved: a
   bare `httpx` loop at that concurrency posting as many same-sized bodies (8 JPEG-sized frames + a 5-s WAV,
   base64, ~330 kB) to the same peer — the server's own latency and parse cost, none of ours.
   Cold: a fresh process, a fresh copy of the workspace (no media cache), its media evicted from the page
   cache — a user's first run. Warm: a second run in that process over the same workspace under another
   model name (the prediction cache cannot answer it; prepared media on disk can).

    python benchmarks/bench_eval.py [--quick]

Imports mmabench from the environment, so `PYTHONPATH=/path/to/other/checkout` measures that checkout.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from harness import Measure, emit, evict, machine, median

import mmabench

PKG_ROOT = Path(mmabench.__file__).resolve().parents[1]  # where tests/llmpeer.py of the measured checkout is
LATENCY = 0.1


def child(spec: dict) -> dict:
    """One cold + one warm evaluate() in this (fresh) process; seconds of each, as JSON on stdout."""
    from mmabench.adapters import Adapter, Response
    from mmabench.eval.runner import evaluate, make_adapter

    class Instant(Adapter):
        name = "instant"

        def generate(self, request):
            return Response(request.item.options[0])

    import resource

    def cpu() -> tuple[float, float, float]:  # this process; its reaped children (the media workers, after
        # finish); the peer server (another process on this machine, competing for the same cores)
        me, kids = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
        return me.ru_utime + me.ru_stime, kids.ru_utime + kids.ru_stime, proc_cpu(spec.get("peer_pid"))

    home = Path(spec["home"])
    evict([home])
    out: dict = {}
    for run in ("cold", "warm"):
        c0 = cpu()
        if spec["adapter"] == "instant":
            adapter = Instant(model=f"instant-{run}")
        else:
            adapter = make_adapter(spec["adapter"], f"omni-{run}", base_url=spec["url"] + "/v1")
        t = time.perf_counter()
        r = evaluate(adapter, split="full", home=home, limit=spec["items"], concurrency=spec["concurrency"])
        out[run] = time.perf_counter() - t
        c1 = cpu()
        out[f"{run}_called"], out[f"{run}_errors"] = r.called, r.errors
        out[f"{run}_cpu"] = [round(b - a, 3) for a, b in zip(c0, c1)]
    return out


def proc_cpu(pid: Optional[int]) -> float:
    """CPU seconds (user + system) of a process so far, from /proc; 0 where that cannot be read."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, ValueError, IndexError, TypeError):
        return 0.0


def cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def prep_profile(base: Path, tmp: Path) -> Measure:
    """CPU ms per file of cold media preparation, in this process, one file after another over a fresh copy of
    the workspace (media evicted, empty cache), by phase. What the eval's workers spend."""
    import resource
    from collections import defaultdict

    from mmabench.adapters import media, payloads
    from mmabench.db.manifest import Manifest

    home = tmp / "prof"
    shutil.copytree(base, home)
    with Manifest(None, home) as m, m.session() as s:
        rows = sorted({(v.path, v.sha256) for v in s.query(_variant_row()).all() if v.path})
    evict([home])
    spent: dict[str, float] = defaultdict(float)
    patched = []

    def wrap(mod, name: str, label: str) -> None:  # phases that exist in the measured checkout
        f = getattr(mod, name, None)
        if f is None:
            return

        def timed_(*a, **k):
            t = time.thread_time()
            try:
                return f(*a, **k)
            finally:
                spent[label] += time.thread_time() - t

        patched.append((mod, name, f))
        setattr(mod, name, timed_)

    demuxed = getattr(media, "Demuxed", None)
    if demuxed is not None:
        wrap(demuxed, "__init__", "open + demux")
        wrap(demuxed, "digest", "stream digest")
    for mod, name, label in [
        (media, "sample_stream_frames", "video decode (sampled frames)"),
        (media, "sample_video_frames", "video decode (sampled frames)"),
        (media, "_jpegs", "scale + JPEG encode"),
        (media, "decode_audio", "audio decode + resample"),
        (media, "load_audio", "audio decode + resample"),
        (media, "wav_bytes", "WAV"),
        (payloads, "_write", "cache writes"),
        (payloads, "_read_part", "cache reads"),
        (payloads, "sha256_file", "file sha256"),
        (payloads, "stream_digests", "stream digest (sample tables)"),
    ]:
        wrap(mod, name, label)
    spec = media.PayloadSpec()
    made: dict[str, int] = defaultdict(int)
    t = resource.getrusage(resource.RUSAGE_SELF)
    try:
        for path, sha in rows:
            out = payloads.load_or_prepare(str(home / "media" / path), sha, spec, str(home / "cache"))
            for kind in out[2] if len(out) > 2 else ("frames", "audio"):
                made[kind] += 1
    finally:
        for mod, name, f in patched:
            setattr(mod, name, f)
        shutil.rmtree(home, ignore_errors=True)
    u = resource.getrusage(resource.RUSAGE_SELF)
    total = (u.ru_utime + u.ru_stime - t.ru_utime - t.ru_stime) / len(rows)
    phases = {k: round(1000 * v / len(rows), 2) for k, v in sorted(spent.items(), key=lambda kv: -kv[1])}
    return Measure(
        "eval",
        f"cold media prep CPU per file, {len(rows)} files (one process, sequential)",
        1000 * total,
        "ms",
        detail={"ms_per_file_by_phase": phases, "parts_made": dict(made), "files": len(rows)},
    )


def _variant_row():
    from mmabench.db.models import VariantRow

    return VariantRow


def run_child(base: Path, tmp: Path, spec: dict, checkout: Optional[str] = None) -> dict:
    """One child (cold + warm) in a fresh process on a fresh copy of the workspace; `checkout`: import mmabench
    from that folder instead (the --before comparison)."""
    home = tmp / f"h{time.monotonic_ns()}"
    shutil.copytree(base, home)
    env = {**os.environ, "PYTHONPATH": checkout} if checkout else None
    try:
        res = subprocess.run(
            [sys.executable, __file__, "--child", json.dumps({**spec, "home": str(home)})],
            capture_output=True,
            text=True,
            check=False,
            env=env,
        )
        if res.returncode:
            raise RuntimeError(f"bench child failed: {res.stderr[-2000:]}")
        return json.loads(res.stdout.strip().splitlines()[-1])
    finally:
        shutil.rmtree(home, ignore_errors=True)


def body(prompt: str) -> bytes:
    b64 = lambda n: base64.b64encode(os.urandom(n)).decode()
    parts = [{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + b64(11_000)}} for _ in range(8)]
    parts.append({"type": "input_audio", "input_audio": {"data": b64(160_044), "format": "wav"}})
    parts.append({"type": "text", "text": prompt})
    return json.dumps(
        {"model": "ideal", "max_tokens": 32, "temperature": 0.0, "messages": [{"role": "user", "content": parts}]}
    ).encode()


def ideal(url: str, bodies: list[bytes], concurrency: int) -> float:
    """Seconds for a bare keep-alive httpx loop to post `bodies` at `concurrency`."""
    import httpx

    with httpx.Client(timeout=30, limits=httpx.Limits(max_connections=None)) as client:
        post = lambda b: client.post(url + "/v1/chat/completions", content=b).raise_for_status()
        with ThreadPoolExecutor(concurrency) as pool:
            list(pool.map(post, bodies[:concurrency]))  # connections open, as the runner's are after its first wave
            t = time.perf_counter()
            list(pool.map(post, bodies))
            return time.perf_counter() - t


def run(quick: bool = False, before: Optional[str] = None) -> list[Measure]:
    """before: another checkout whose children run interleaved with ours and the ideal (same peer, same
    bodies), its efficiencies in each measure's detail."""
    from mmabench.pipeline.build import build

    rounds = 1 if quick else 3
    sizes = {1: 16, 4: 48, 16: 216} if quick else {1: 32, 4: 96, 16: 216}
    out: list[Measure] = []
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        base = tmp / "base"
        build("full", home=base, progress=False)
        got = [run_child(base, tmp, {"adapter": "instant", "items": None, "concurrency": 4}) for _ in range(rounds)]
        n = got[0]["cold_called"]
        out.append(
            Measure(
                "eval",
                "instant model overhead (evaluate incl. DB writes)",
                n / median([g["cold"] for g in got]),
                "items/s",
                ">= 500",
                cold=n / median([g["cold"] for g in got]),
                warm=n / median([g["warm"] for g in got]),
                detail={"items": n, "cold_s": [g["cold"] for g in got], "warm_s": [g["warm"] for g in got]},
            )
        )
        try:
            out.append(prep_profile(base, tmp))
        except ImportError:  # a checkout from before payloads.py: no worker-side preparation to profile
            pass
        peer = subprocess.Popen(
            [sys.executable, "-m", "tests.llmpeer", str(LATENCY)], stdout=subprocess.PIPE, text=True, cwd=PKG_ROOT
        )
        try:
            url = peer.stdout.readline().strip()  # type: ignore[union-attr]
            bodies = [
                body(f"Which one? Options: a, b. Answer using one option. #{i}") for i in range(max(sizes.values()))
            ]
            for conc, items in sizes.items():
                spec = {
                    "adapter": "openai-compat",
                    "url": url,
                    "items": items,
                    "concurrency": conc,
                    "peer_pid": peer.pid,
                }
                cold, warm, base_s, called, cpu, old = [], [], [], [], [], []
                order = ["eval", "ideal"] + (["before"] if before else [])
                for r in range(rounds):
                    for what in order[r % len(order) :] + order[: r % len(order)]:  # rotated every round
                        if what == "ideal":
                            base_s.append(ideal(url, bodies[:items], conc))
                        elif what == "before":
                            old.append(run_child(base, tmp, spec, before))
                        else:
                            g = run_child(base, tmp, spec)
                            cold.append(g["cold"])
                            warm.append(g["warm"])
                            called.append((g["cold_called"], g["cold_errors"], g["warm_called"], g["warm_errors"]))
                            cpu.append(g["cold_cpu"])
                eff_cold = [100 * b / c for b, c in zip(base_s, cold)]
                eff_warm = [100 * b / w for b, w in zip(base_s, warm)]
                compared = {}
                if old:
                    compared = {
                        "before": before,
                        "before_cold_pct": median([100 * b / o["cold"] for b, o in zip(base_s, old)]),
                        "before_warm_pct": median([100 * b / o["warm"] for b, o in zip(base_s, old)]),
                        "before_cold_cpu_s": [o["cold_cpu"] for o in old],
                    }
                out.append(
                    Measure(
                        "eval",
                        f"openai-compat c={conc}, {items} items: achieved / ideal (cold)",
                        median(eff_cold),
                        "%",
                        ">= 80",
                        baseline=f"bare httpx loop, c={conc}, same peer ({int(LATENCY * 1000)} ms), same-size bodies",
                        cold=median(eff_cold),
                        warm=median(eff_warm),
                        detail={
                            "cold_s": cold,
                            "warm_s": warm,
                            "ideal_s": base_s,
                            "ideal_req_s": items / median(base_s),
                            "called_errors": called,
                            # CPU seconds of the cold run: [runner process, media workers, peer server]; over
                            # the ideal's wall time, the cores it needs to run at the ideal rate
                            "cold_cpu_s": cpu,
                            "cores_needed_at_ideal": round(sum(map(sum, cpu)) / sum(base_s), 2),
                            "cores_got": round(sum(map(sum, cpu)) / sum(cold), 2),
                            "cores_available": cores(),
                            "loadavg_after": [round(x, 2) for x in os.getloadavg()],
                            **compared,
                        },
                    )
                )
        finally:
            peer.kill()
            peer.wait()
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="fewer items and one round")
    ap.add_argument("--before", help="another checkout (a folder) measured interleaved with this one, eval only")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(child(json.loads(args.child))), flush=True)
        return
    before = machine()
    measures = run(args.quick, args.before)
    for m in measures:
        print(f"{m.name}: {json.dumps(m.detail)}")
        if "cores_needed_at_ideal" in m.detail:
            d = m.detail
            print(
                f"  -> cold needs {d['cores_needed_at_ideal']} cores at the ideal rate (runner, media workers, server "
                f"CPU s per round: {d['cold_cpu_s']}), got {d['cores_got']}, {d['cores_available']} available; "
                f"load {d['loadavg_after']}"
                + (
                    f"; before ({d['before']}): cold {d['before_cold_pct']:.1f}%, warm {d['before_warm_pct']:.1f}%"
                    if d.get("before")
                    else ""
                )
            )
    emit(measures, before)


if __name__ == "__main__":
    main()
