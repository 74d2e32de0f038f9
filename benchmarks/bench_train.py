"""LoRA training speed and peak memory on the tiny random-init Qwen2.5-Omni thinker (plumbing scale: it
tells what the trainer itself costs per step on this machine, not what a 7B run needs).

    python benchmarks/bench_train.py [--steps 20] [--batch 1 4]

Baseline in the same run: the model's forward+backward alone on pre-encoded inputs (no decode, no
processor), interleaved with the trainer's steps, so the ratio shows the trainer's own overhead."""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--batch", type=int, nargs="+", default=[1, 4])
    a = ap.parse_args()
    from mmabench import Manifest, build
    from mmabench.train.data import sft_examples
    from mmabench.train.lora import LoraRecipe, encode, load_model, masked_loss, train_lora
    from tests.tinyomni import build_tiny_omni

    tmp = Path(tempfile.mkdtemp())
    base = str(build_tiny_omni(tmp / "omni"))
    build("full", home=tmp / "ws", progress=False)
    with Manifest(home=tmp / "ws") as m:
        ex = sft_examples(m, "default", "full")
    print(f"load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} cores; {len(ex)} examples; tiny model")
    print(
        f"{'batch':>5} {'cold s':>7} {'warm steps/s':>13} {'model-only steps/s':>19} {'ratio':>6} {'peak RSS MB':>12}"
    )
    for b in a.batch:
        recipe = LoraRecipe(batch_size=b, grad_accum=1, max_steps=a.steps, frames=4, frame_size=112)
        stamps: list[float] = []
        t0 = time.perf_counter()
        train_lora(
            base,
            ex,
            tmp / f"run{b}",
            recipe,
            resume=False,
            on_step=lambda s, loss, st=stamps: st.append(time.perf_counter()),
        )
        cold = time.perf_counter() - t0
        warm = (len(stamps) - 1) / (stamps[-1] - stamps[0])
        processor, model, _ = load_model(base, recipe)
        pre = [encode(processor, e, 4, 112) for e in ex[: b * 4]]
        t1 = time.perf_counter()
        for s in range(a.steps):
            for batch, labels in pre[(s % 4) * b : (s % 4 + 1) * b]:
                masked_loss(model(**batch).logits, labels).backward()
        alone = a.steps / (time.perf_counter() - t1)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{b:>5} {cold:>7.1f} {warm:>13.2f} {alone:>19.2f} {warm / alone:>6.0%} {peak:>12.0f}")


if __name__ == "__main__":
    main()
