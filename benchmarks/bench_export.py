"""HF export throughput: the demo `full` build, and a synthetic 100k-item manifest (metadata only: every
variant points at one small media file, so the figure is Parquet/card/manifest-copy speed).

    python benchmarks/bench_export.py [--items 100000]
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from pathlib import Path

from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, ItemRow, VariantRow
from mmabench.export.hf import export_hf
from mmabench.pipeline.build import build
from mmabench.sources.demo import DEMO_DIR


def synthetic(home: Path, n_items: int) -> None:
    with Manifest(home=home) as m:
        media = m.media_root / "variants" / "00" / "shared.mp4"
        media.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(DEMO_DIR / "clips" / "cat_1.mp4", media)
        m.upsert(
            BuildRow,
            [
                dict(
                    name="default",
                    config={"sources": [{"name": "synthetic"}]},
                    config_hash="s",
                    seed=0,
                    versions={},
                    timings={},
                )
            ],
        )
        classes = [f"Class {k}" for k in range(50)]
        n_var = n_items // 2
        m.upsert(
            ClipRow,
            [
                dict(
                    id=f"{k:016x}",
                    source="synthetic",
                    source_ref=str(k),
                    label=classes[k % 50],
                    status="ok",
                    provenance={},
                    attempts=1,
                )
                for k in range(1000)
            ],
        )
        conds = ["aligned", "av_swap", "caption", "long_context", "audio_removed", "frames_zeroed"]
        for s in range(0, n_var, 20000):
            m.upsert(
                VariantRow,
                [
                    dict(
                        id=f"v{k:015x}",
                        condition=conds[k % 6],
                        op=conds[k % 6],
                        op_version=1,
                        video_clip_id=f"{k % 1000:016x}",
                        audio_clip_id=f"{(k * 7) % 1000:016x}",
                        recipe={"op": conds[k % 6], "op_version": 1},
                        tool_versions={},
                        path="variants/00/shared.mp4",
                        sha256="0" * 64,
                        bytes=1,
                    )
                    for k in range(s, min(n_var, s + 20000))
                ],
            )
        opts = classes + ["None of the above"]
        for s in range(0, n_items, 20000):
            m.upsert(
                ItemRow,
                [
                    dict(
                        id=f"i{k:015x}",
                        build="default",
                        variant_id=f"v{k // 2:015x}",
                        split="conflict",
                        condition=conds[(k // 2) % 6],
                        prompt_modality="visual" if k % 2 == 0 else "audio",
                        prompt=f"Which class best describes the content? Options: {', '.join(opts)}.",
                        options=opts,
                        answer=classes[k % 50],
                        abstain_expected=False,
                        template_version=1,
                    )
                    for k in range(s, min(n_items, s + 20000))
                ],
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--items", type=int, default=100_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        build("full", home=tmp / "demo", progress=False)
        for embed in (False, True):
            t = time.perf_counter()
            rep = export_hf(tmp / f"rel-demo-{embed}", home=tmp / "demo", embed_media=embed)
            wall = time.perf_counter() - t
            n = rep.configs["full"]
            mb = (rep.media_bytes + rep.parquet_bytes) / 1e6
            print(
                f"demo ({'embedded' if embed else 'files'}): {sum(rep.configs.values())} rows ({n} items) in "
                f"{wall:.2f} s = {sum(rep.configs.values()) / wall:.0f} rows/s, {mb / wall:.1f} MB/s"
            )
        t = time.perf_counter()
        synthetic(tmp / "syn", args.items)
        print(f"synthetic manifest with {args.items} items written in {time.perf_counter() - t:.1f} s")
        t = time.perf_counter()
        rep = export_hf(tmp / "rel-syn", home=tmp / "syn")
        wall = time.perf_counter() - t
        rows = sum(rep.configs.values())
        print(
            f"synthetic: {rows} rows over {len(rep.configs)} configs ({args.items} items) in {wall:.1f} s = "
            f"{rows / wall:.0f} rows/s, {args.items / wall:.0f} items/s; parquet {rep.parquet_bytes / 1e6:.1f} MB "
            f"({rep.parquet_bytes / 1e6 / wall:.1f} MB/s)"
        )


if __name__ == "__main__":
    main()
