"""Tagging throughput on the demo clips: end to end (decode + frame sampling / log-mel + model, with the
tagging stage's worker threads) vs. pure model forward on the same pre-decoded inputs. Target: end to end
>= 70% of pure forward (decode and I/O overhead <= 30%).

    python benchmarks/bench_tag.py [--workers 2]
"""
from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from mmabench.builder.build import build
from mmabench.builder.tagging import tag_files
from mmabench.builder.taggers import taggers
from mmabench.builder.taggers.base import sample_frames
from mmabench.builder.taggers.yamnet import load_mono16k, patches
from mmabench.db.manifest import Manifest
from mmabench.schema import ClipStatus


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp)
        build("conflict", home=home, progress=False)
        with Manifest(home=home) as m:
            files = {c.sha256: m.media_root / c.path for c in m.clips(status=ClipStatus.ok)}
            im, ya = taggers.get("imagenet")(), taggers.get("yamnet")()
            n = len(files)
            # pure forward on pre-decoded inputs
            frames = [sample_frames(p, im.frames) for p in files.values()]
            t = time.perf_counter()
            for f in frames:
                im.probs(f)
            pure_im = time.perf_counter() - t
            pats = [patches(load_mono16k(p)) for p in files.values()]
            q = ya.q
            t = time.perf_counter()
            for ps in pats:
                for p in ps:
                    x = np.clip(np.round(p[None] / q["input_scale"] + q["input_zp"]), 0, 255).astype(np.uint8)
                    ya.session.run(None, {"audio": x})
            pure_ya = time.perf_counter() - t
            for name, tagger, pure, unit in (("imagenet", im, pure_im, n * im.frames), ("yamnet", ya, pure_ya, n)):
                m2 = Manifest(f"sqlite:///{home}/bench-{name}.db", home)
                t = time.perf_counter()
                rep = tag_files(m2, tagger, files, workers=args.workers)
                e2e = time.perf_counter() - t
                m2.close()
                what = "frames" if name == "imagenet" else "clips"
                print(f"{name}: end to end {unit / e2e:7.1f} {what}/s ({rep.model_calls} clips in {e2e:.2f} s), "
                      f"pure forward {unit / pure:7.1f} {what}/s -> {100 * pure / e2e:.0f}% of pure forward")


if __name__ == "__main__":
    main()
