"""Train and test pools stay disjoint (benchmark.md §1): no source of a train build may appear in a test build of
the same manifest, and vice versa. A source is its YouTube id, or the content of its file (sha256 of the source
file as ingested, and of the stored clip), so a copy under another name or another source is caught too."""

from __future__ import annotations

from typing import Iterable
from urllib.parse import parse_qs, urlparse

from sqlalchemy import select

from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, ItemRow, VariantRow
from mmabench.schema import Clip

DOWNLOADED = ("audioset", "list")  # sources whose source_ref is a YouTube id or URL


class PoolOverlap(ValueError):
    pass


def youtube_id(ref: str) -> str:
    if "://" not in ref:
        return ref
    u = urlparse(ref)
    if u.netloc.endswith("youtu.be"):
        return u.path.strip("/")
    return (parse_qs(u.query).get("v") or [ref])[0]


def source_keys(clip: Clip) -> set[str]:
    keys = {f"sha256 {h}" for h in (clip.sha256, clip.provenance.get("source_sha256")) if h}
    if clip.source in DOWNLOADED:
        keys.add(f"YouTube id {youtube_id(clip.source_ref)}")
    return keys


def role(config: dict) -> str:
    return "train" if config.get("train") else "test"


def builds_by_role(m: Manifest) -> dict[str, str]:
    with m.session() as s:
        return {r.name: role(r.config or {}) for r in s.scalars(select(BuildRow))}


def build_sources(m: Manifest, builds: Iterable[str]) -> dict[str, dict[str, str]]:
    """Per build: source key -> source_ref, over the clips (video and audio) behind its current items."""
    out: dict[str, dict[str, str]] = {}
    with m.session() as s:
        for col in (VariantRow.video_clip_id, VariantRow.audio_clip_id):
            q = (
                select(ItemRow.build, ClipRow)
                .join(VariantRow, VariantRow.id == ItemRow.variant_id)
                .join(ClipRow, ClipRow.id == col)
                .where(ItemRow.build.in_(list(builds)), ItemRow.superseded_at.is_(None))
                .distinct()
            )
            for b, c in s.execute(q):
                clip = Clip(**{f: getattr(c, f) for f in Clip.model_fields})
                for k in source_keys(clip):
                    out.setdefault(b, {}).setdefault(k, clip.source_ref)
    return out


def check_pools(m: Manifest, name: str, train: bool, clips: Iterable[Clip]) -> None:
    """Raise PoolOverlap (one line) when any of `clips` shares a source with a build of the other role."""
    keys: dict[str, str] = {}
    for c in clips:
        for k in source_keys(c):
            keys.setdefault(k, c.source_ref)
    _check(m, name, train, keys)


def check_build_pools(m: Manifest, name: str) -> None:
    """The same check for a build already in the manifest (before it is exported)."""
    row = m.build_row(name)
    if row is not None:
        _check(m, name, role(row.config or {}) == "train", build_sources(m, [name]).get(name, {}))


def _check(m: Manifest, name: str, train: bool, keys: dict[str, str]) -> None:
    mine, other = ("train", "test") if train else ("test", "train")
    others = {b for b, r in builds_by_role(m).items() if r != mine and b != name}
    if not others or not keys:
        return
    for b, theirs in sorted(build_sources(m, others).items()):
        shared = sorted(keys.keys() & theirs.keys())
        if shared:
            raise PoolOverlap(
                f"{mine} build {name!r} shares {len({keys[k] for k in shared})} source(s) with {other} build {b!r} "
                f"(e.g. {keys[shared[0]]}: {shared[0]}); train and test pools must be disjoint: "
                f"draw the {mine} build from another pool"
            )
