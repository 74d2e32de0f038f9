"""`train()`: examples from a build, a LoRA run, and its row in `train_runs` (base identity, recipe, adapter
hash), so a tuned model is evaluable and traceable: `mmabench eval --model hf --opt path=BASE --adapter DIR`."""

from __future__ import annotations

import hashlib
import platform
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Callable, Optional

from mmabench.adapters.hf import adapter_sha256, weights_id
from mmabench.db.manifest import Manifest
from mmabench.db.models import TrainRunRow
from mmabench.pipeline.pools import check_build_pools
from mmabench.schema import Split, derive_id
from mmabench.train.data import sft_examples
from mmabench.train.lora import LoraRecipe, TrainResult, total_steps, train_lora
from mmabench.version import __version__


@dataclass
class TrainReport:
    run_id: str
    result: TrainResult
    adapter_sha256: Optional[str]


def versions() -> dict[str, str]:
    import peft
    import torch
    import transformers

    return {
        "mmabench": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "peft": peft.__version__,
        "python": platform.python_version(),
    }


def train(
    base: str,
    build: str = "default",
    out: str | Path = "mmabench_lora",
    recipe: Optional[LoraRecipe] = None,
    *,
    split: Split | str = Split.train,
    allow_test_items: bool = False,
    home=None,
    db=None,
    resume: bool = True,
    stop_after: Optional[int] = None,
    on_step: Optional[Callable[[int, float], None]] = None,
    on_plan: Optional[Callable[[int, int], None]] = None,
) -> TrainReport:
    recipe = recipe or LoraRecipe()
    if Split(split) is not Split.train and not allow_test_items:
        raise ValueError(
            f"training on {Split(split).value!r} items of a test build would leak the benchmark into the model; "
            "train on a train build (build --split train from a disjoint pool), or pass --allow-test-items"
        )
    with Manifest(db, home) as m:
        if Split(split) is Split.train:
            check_build_pools(m, build)  # no source clip of this build may sit in any test build
        examples = sft_examples(m, build, split)
        if not examples:
            raise ValueError(f"build {build!r} has no training items in split {Split(split).value!r}")
        ids = hashlib.sha256("".join(e.item.id for e in examples).encode()).hexdigest()
        weights = weights_id(base)
        run_id = derive_id(
            "train",
            {
                "base": weights,
                "build": build,
                "split": Split(split).value,
                "recipe": recipe.model_dump(),
                "items": ids,
                "trainer": "lora",
            },
        )
        row: dict[str, Any] = dict(
            id=run_id,
            base_model=str(base),
            base_weights=weights,
            build=build,
            split=Split(split).value,
            trainer="lora",
            config=recipe.model_dump(),
            items=len(examples),
            steps=0,
            final_loss=None,
            losses=[],
            adapter_path=None,
            adapter_sha256=None,
            versions=versions(),
            status="running",
            seconds=None,
        )
        m.upsert(TrainRunRow, [row], update=["status", "versions"])
        if on_plan:
            on_plan(len(examples), total_steps(len(examples), recipe))
        res = train_lora(base, examples, out, recipe, resume=resume, stop_after=stop_after, on_step=on_step)
        finished = res.adapter_dir.is_dir() and res.steps >= total_steps(len(examples), recipe)
        sha = adapter_sha256(str(res.adapter_dir)) if finished else None
        m.upsert(
            TrainRunRow,
            [
                {
                    **row,
                    "steps": res.steps,
                    "final_loss": res.losses[-1] if res.losses else None,
                    "losses": res.losses,
                    "adapter_path": str(res.adapter_dir.resolve()) if sha else None,
                    "adapter_sha256": sha,
                    "status": "finished" if finished else "stopped",
                    "seconds": round(res.seconds, 3),
                    "updated_at": datetime.now(timezone.utc),
                }
            ],
            update=[
                "steps",
                "final_loss",
                "losses",
                "adapter_path",
                "adapter_sha256",
                "status",
                "seconds",
                "updated_at",
            ],
        )
    return TrainReport(run_id, res, sha)
