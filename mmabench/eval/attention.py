"""White-box attention analysis (benchmark.md §5): per decoder layer, the attention mass from the answer
position onto the video, audio and text token blocks, under the visual and the audio prompt of the same
clips; Cohen's d between the two (d > 0 = more attention under the visual prompt)."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np
from rich.console import Console
from rich.progress import track

from mmabench.adapters.base import Request
from mmabench.db.manifest import Manifest
from mmabench.schema import Split

BLOCKS = ("video", "audio", "text")


def profile(adapter, request: Request) -> list[dict[str, float]]:
    """Per layer: attention mass (heads averaged) from the last input position onto each block."""
    torch = adapter.torch
    batch, _ = adapter.inputs(request)
    with adapter.lock, torch.inference_mode():
        out = adapter.net(**batch, output_attentions=True)
    if not out.attentions or out.attentions[0] is None:
        raise RuntimeError("the model returned no attention maps (load it with --opt attention=true: eager attention)")
    ids = batch["input_ids"][0]
    cfg = adapter.net.config
    masks = {"video": ids == cfg.video_token_index, "audio": ids == cfg.audio_token_index}
    masks["text"] = ~(masks["video"] | masks["audio"])
    layers = []
    for att in out.attentions:
        a = att[0, :, -1, :].float().mean(0)
        layers.append({b: float(a[m].sum()) for b, m in masks.items()})
    return layers


def cohens_d(x: np.ndarray, y: np.ndarray) -> float:
    nx, ny = len(x), len(y)
    if nx < 2 or ny < 2:
        return float("nan")
    pooled = math.sqrt(((nx - 1) * x.var(ddof=1) + (ny - 1) * y.var(ddof=1)) / (nx + ny - 2))
    return float((x.mean() - y.mean()) / pooled) if pooled > 0 else 0.0


@dataclass
class AttentionStudy:
    rows: list[dict]  # item_id, condition, prompt_modality, layer, block, mass
    summary: list[dict]  # condition, layer, block, mean_visual, mean_audio, d


def study(
    adapter,
    *,
    split: Split | str = Split.conflict,
    build: str = "default",
    limit: Optional[int] = None,
    home=None,
    db=None,
    progress: bool = False,
) -> AttentionStudy:
    rows = []
    with Manifest(db, home) as m:
        items = list(m.items(split=split, build=build))
        media = {v.id: (m.media_root / v.path, v.sha256) for v in m.variants()}
        variants = set(sorted({i.variant_id for i in items})[:limit]) if limit else None
        chosen = [it for it in items if variants is None or it.variant_id in variants]
        for it in track(chosen, description="attention", console=Console(stderr=True), disable=not progress):
            path, sha = media[it.variant_id]
            for layer, masses in enumerate(profile(adapter, Request(it, path, sha))):
                for block in BLOCKS:
                    rows.append(
                        {
                            "item_id": it.id,
                            "variant_id": it.variant_id,
                            "condition": it.condition.value,
                            "prompt_modality": it.prompt_modality.value,
                            "layer": layer,
                            "block": block,
                            "mass": masses[block],
                        }
                    )
    summary = []
    for cond in sorted({r["condition"] for r in rows}):
        for layer in sorted({r["layer"] for r in rows}):
            for block in BLOCKS:
                sel = [r for r in rows if r["condition"] == cond and r["layer"] == layer and r["block"] == block]
                v = np.array([r["mass"] for r in sel if r["prompt_modality"] == "visual"])
                a = np.array([r["mass"] for r in sel if r["prompt_modality"] == "audio"])
                summary.append(
                    {
                        "condition": cond,
                        "layer": layer,
                        "block": block,
                        "mean_visual": float(v.mean()) if len(v) else float("nan"),
                        "mean_audio": float(a.mean()) if len(a) else float("nan"),
                        "d": cohens_d(v, a),
                    }
                )
    return AttentionStudy(rows, summary)


def write(st: AttentionStudy, out: str | Path, title: str = "") -> dict[str, Path]:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "attention_rows.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(st.rows[0]))
        w.writeheader()
        w.writerows(st.rows)
    (out / "attention_summary.json").write_text(json.dumps(st.summary, indent=1))
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = sorted({s["condition"] for s in st.summary})
    fig, axes = plt.subplots(1, len(conds), figsize=(4 * len(conds), 3), squeeze=False, sharey=True)
    for ax, cond in zip(axes[0], conds):
        for block in BLOCKS:
            pts = [(s["layer"], s["d"]) for s in st.summary if s["condition"] == cond and s["block"] == block]
            ax.plot([p[0] for p in pts], [p[1] for p in pts], marker="o", label=block)
        ax.axhline(0, color="grey", lw=0.5)
        ax.set_title(cond, fontsize=9)
        ax.set_xlabel("decoder layer")
    axes[0][0].set_ylabel("Cohen's d (visual − audio prompt)")
    axes[0][-1].legend(fontsize=7)
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(out / "attention_d.png", dpi=110)
    plt.close(fig)
    return {
        "rows": out / "attention_rows.csv",
        "summary": out / "attention_summary.json",
        "png": out / "attention_d.png",
    }
