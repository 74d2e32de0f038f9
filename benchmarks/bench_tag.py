"""Tagging throughput: end to end (decode + preprocessing in worker threads, batched model, manifest writes)
vs. pure model forward on the same pre-decoded inputs with the same batching. Target: end to end >= 70% of
pure forward (decode and I/O overhead <= 30%).

    python benchmarks/bench_tag.py [--taggers imagenet yamnet] [--workers 2] [--repeat 3] [--runs 5] [--device auto]
        [--clip-pretrained FILE] [--ast DIR] [--corpus DIR]

The demo corpus has 18 clips; --repeat tags it that many times over (copies under new content hashes, so
nothing is served from the cache). Random-init checkpoints (--ast, --clip-pretrained from
scripts/random_checkpoints.py, --clip-pretrained random) give real throughput figures for the architecture, never scores.
"""

from __future__ import annotations

import argparse
import hashlib
import shutil
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from mmabench.db.manifest import Manifest
from mmabench.sources.demo import DEMO_DIR
from mmabench.tagging.runner import load_taggers, tag_files


def corpus(src: Path, dst: Path, repeat: int) -> dict[str, Path]:
    files = {}
    for r in range(repeat):
        for p in sorted(src.glob("*.mp4")):
            q = dst / f"{p.stem}-{r}.mp4"
            shutil.copy(p, q)
            files[hashlib.sha256(f"{p.name}/{r}".encode()).hexdigest()] = q  # distinct cache keys
    return files


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--taggers", nargs="+", default=["imagenet", "yamnet"])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--runs", type=int, default=1, help="alternate pure / end-to-end measurements N times")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--decode", default="auto", choices=["auto", "thread", "process"])
    ap.add_argument("--batch-size", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="onnxruntime intra-op threads (0: the tagger default)")
    ap.add_argument("--clip-model", default="ViT-B-32")
    ap.add_argument("--clip-pretrained", default=None)
    ap.add_argument("--ast", default=None, help="hf-audio checkpoint directory")
    ap.add_argument("--imagenet-weights", default=None, help="EfficientNet-Lite0 state dict (default: the package's)")
    ap.add_argument("--corpus", type=Path, default=DEMO_DIR / "clips")
    args = ap.parse_args()
    opts = {
        "*": {"device": args.device, "batch_size": args.batch_size, "threads": args.threads},
        "clip": {"model": args.clip_model, "pretrained": args.clip_pretrained or "laion2b_s34b_b79k"},
        "hf-audio": {"checkpoint": args.ast},
        "imagenet": {"weights": args.imagenet_weights},
    }
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        files = corpus(args.corpus, home, args.repeat)
        for tagger in load_taggers(args.taggers, opts):
            # pure forward: the same batches the pipeline forms, inputs decoded beforehand
            with ThreadPoolExecutor(args.workers) as ex:  # not timed
                prepared = list(ex.map(tagger.prepare, files.values()))
            batches, cur, units = [], [], 0
            for x in prepared:
                cur.append(x)
                units += tagger.units(x)
                if units >= tagger.batch_size:
                    batches.append(cur)
                    cur, units = [], 0
            batches += [cur] if cur else []
            for b in batches:  # warm-up pass: cudnn autotuning for every batch shape
                tagger.forward(b)
            n_units = sum(tagger.units(x) for x in prepared)
            what = "frames" if tagger.modality == "visual" else "clips"
            ratios = []
            for r in range(args.runs):  # alternate the two measurements: this box is noisy
                t = time.perf_counter()
                for b in batches:
                    tagger.forward(b)
                pure = time.perf_counter() - t
                with Manifest(f"sqlite:///{home}/bench-{tagger.name}-{r}.db", home) as m:  # cold cache
                    rep = tag_files(m, tagger, files, workers=args.workers, decode=args.decode)
                ratios.append(pure / rep.seconds)
                print(
                    f"{tagger.name} [{tagger.model_id} on {tagger.device}, batch {tagger.batch_size}, "
                    f"{args.workers} decode workers, {args.decode}]: end to end {n_units / rep.seconds:8.1f} "
                    f"{what}/s ({rep.model_calls} clips in {rep.seconds:.2f} s, {rep.forward_seconds:.2f} s in the "
                    f"model), pure forward {n_units / pure:8.1f} {what}/s -> {100 * pure / rep.seconds:.0f}% of pure "
                    f"forward; after {rep.startup_seconds:.1f} s start-up: "
                    f"{100 * pure / (rep.seconds - rep.startup_seconds):.0f}%"
                )
            if args.runs > 1:
                print(
                    f"{tagger.name}: median {100 * statistics.median(ratios):.0f}% of pure forward over {args.runs} "
                    f"runs (min {100 * min(ratios):.0f}%, max {100 * max(ratios):.0f}%)"
                )


if __name__ == "__main__":
    main()
