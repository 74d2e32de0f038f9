"""The flat, self-describing row every exporter starts from: one item with both stream classes and its
variant's recipe and media. Read from the manifest in one query."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from sqlalchemy import select
from sqlalchemy.orm import aliased

from mmabench.db.manifest import Manifest
from mmabench.db.models import ClipRow, ItemRow, VariantRow
from mmabench.media.store import MediaStore
from mmabench.schema import Split, conditions_for


@dataclass
class ExportRow:
    item_id: str
    build: str
    split: str
    condition: str
    prompt_modality: str
    prompt: str
    options: list[str]
    answer: str
    abstain_expected: bool
    template_version: int
    variant_id: str
    recipe: dict
    media_path: str  # a key in the media store (relative to the workspace media root by default)
    media_sha256: str
    video_clip_id: str
    audio_clip_id: Optional[str]
    visual_class: str
    audio_class: Optional[str]
    visual_mid: Optional[str]
    audio_mid: Optional[str]
    source: str
    video_source_ref: str
    audio_source_ref: Optional[str]


def export_rows(m: Manifest, build: str, split: Split | str = Split.full) -> Iterator[ExportRow]:
    vc, ac = aliased(ClipRow), aliased(ClipRow)
    conds = [c.value for c in conditions_for(split)]
    q = (
        select(ItemRow, VariantRow, vc, ac)
        .join(VariantRow, VariantRow.id == ItemRow.variant_id)
        .join(vc, vc.id == VariantRow.video_clip_id)
        .outerjoin(ac, ac.id == VariantRow.audio_clip_id)
        .where(ItemRow.build == build, ItemRow.superseded_at.is_(None))
        .where(ItemRow.split == "train" if Split(split) is Split.train else ItemRow.split != "train")
        .where(ItemRow.condition.in_(conds))
        .order_by(ItemRow.id)
    )
    with m.session() as s:
        for i, v, c, a in s.execute(q):
            yield ExportRow(
                i.id,
                i.build,
                i.split,
                i.condition,
                i.prompt_modality,
                i.prompt,
                list(i.options),
                i.answer,
                bool(i.abstain_expected),
                i.template_version,
                v.id,
                v.recipe,
                v.path,
                v.sha256,
                c.id,
                a.id if a else None,
                c.label,
                a.label if a else None,
                c.label_mid,
                a.label_mid if a else None,
                c.source,
                c.source_ref,
                a.source_ref if a else None,
            )


def media_file(store: MediaStore, row: ExportRow) -> Path:
    """A local file of the row's media: the stored file, or a cache copy checked against the manifest's sha256."""
    return store.local_path(row.media_path, row.media_sha256)
