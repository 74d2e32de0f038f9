"""The SFT set, straight from the manifest: which items train, and what the model should answer.

The study's recipe (benchmark.md §7): aligned and av_swap items for both prompts, frames_zeroed items for
visual prompts only, with "None of the above" as the target; otherwise the bare class name. Media paths
are the variants' own files, so training sees exactly what evaluation sends.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from mmabench.db.manifest import Manifest
from mmabench.db.models import VariantRow
from mmabench.schema import NONE_OF_THE_ABOVE, Condition, Item, Modality, Split

TRAIN_CONDITIONS = (Condition.aligned, Condition.av_swap, Condition.frames_zeroed)


@dataclass(frozen=True)
class Example:
    item: Item
    media_path: Path
    media_sha256: str
    target: str


def target_for(item: Item) -> str:
    """The bare class name, or the abstain option where the prompted modality is missing."""
    return NONE_OF_THE_ABOVE if item.abstain_expected else item.answer


def wanted(item: Item) -> bool:
    if item.condition not in TRAIN_CONDITIONS:
        return False
    return item.condition is not Condition.frames_zeroed or item.prompt_modality is Modality.visual


def sft_examples(m: Manifest, build: str, split: Split | str = Split.train) -> list[Example]:
    """The build's training examples in item-id order (a stable base for the seeded per-epoch shuffle)."""
    items = [i for i in m.items(split=split, build=build) if wanted(i)]
    with m.session() as s:
        media = {r.id: (r.path, r.sha256) for r in s.execute(select(VariantRow.id, VariantRow.path, VariantRow.sha256))}
    out = []
    for i in items:
        path, sha = media[i.variant_id]
        out.append(Example(i, m.media_root / path, sha, target_for(i)))
    return out
