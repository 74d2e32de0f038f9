"""`mmabench export hf`: a release folder that `datasets.load_dataset(OUT, CONFIG)` loads.

Layout: one config per split (conflict, text, unimodal, full; `train` for tuning builds) with Parquet
shards under data/<config>/ (size-capped), media either as files in media/NNN/ sub-folders of at most
1,000 files or embedded as bytes, a `video` column typed `Video(decode=False)` (cast to `Video()` where
torchcodec is installed), a generated dataset card (README.md with YAML front matter) and a manifest.db
copy for SQL users. `import_hf` loads a release back into a manifest.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.progress import track

from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, DecisionRow, ItemRow, PredictionRow, RunRow, TagRow, VariantRow
from mmabench.export.features import features
from mmabench.export.rows import ExportRow, export_rows
from mmabench.pipeline.pools import check_build_pools, role
from mmabench.schema import SPLIT_CONDITIONS, Split
from mmabench.version import __version__

FILES_PER_DIR = 1000
SPLIT_CONFIGS = ["conflict", "text", "unimodal", "full"]
COPY_TABLES = [BuildRow, ClipRow, VariantRow, ItemRow, RunRow, PredictionRow, TagRow, DecisionRow]


@dataclass
class ExportReport:
    out: Path
    configs: dict[str, int] = field(default_factory=dict)
    config_bytes: dict[str, int] = field(default_factory=dict)
    media_files: int = 0
    media_bytes: int = 0
    parquet_bytes: int = 0
    seconds: float = 0.0


def _record(r: ExportRow, video: dict) -> dict:
    d = dict(r.__dict__)  # shallow: asdict() deep-copied every recipe and option list (most of the export time)
    d.pop("media_path")
    d["recipe"] = json.dumps(r.recipe, sort_keys=True)
    d["video"] = video
    return d


def _write_shards(rows: list[dict], folder: Path, shard_bytes: int, embed: bool) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq

    feats = features()
    schema = feats.arrow_schema
    folder.mkdir(parents=True, exist_ok=True)
    per_row = max(1, (sum(len(r["prompt"]) for r in rows[:200]) // max(1, len(rows[:200]))) + 600)
    if embed:
        per_row += max((len(r["video"]["bytes"] or b"") for r in rows[:50]), default=0)
    rows_per_shard = max(1, shard_bytes // per_row)
    n = max(1, -(-len(rows) // rows_per_shard))
    total = 0
    for k in range(n):
        chunk = rows[k * rows_per_shard : (k + 1) * rows_per_shard]
        table = pa.Table.from_pylist(chunk, schema=schema)
        path = folder / f"part-{k:05d}-of-{n:05d}.parquet"
        pq.write_table(table, path, compression="zstd")
        total += path.stat().st_size
    return total


def export_hf(
    out: str | Path,
    *,
    build: str = "default",
    splits: Optional[list[str]] = None,
    embed_media: bool = False,
    shard_mb: int = 256,
    home=None,
    db=None,
    copy_manifest: bool = True,
    progress: bool = False,
) -> ExportReport:
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new folder for the release")
    rep = ExportReport(out)
    with Manifest(db, home) as m:
        brow = m.build_row(build)
        if brow is None:
            raise LookupError(f"no build {build!r} in this manifest")
        is_train = role(brow.config or {}) == "train"
        configs = ["train"] if is_train else SPLIT_CONFIGS  # a train build releases one config, `train`
        if splits and set(splits) - set(configs):
            raise LookupError(
                f"build {build!r} is a {'train' if is_train else 'test'} build: its configs are {', '.join(configs)}"
            )
        if is_train:
            check_build_pools(m, build)
        rows = list(export_rows(m, build, Split.train if is_train else Split.full))
        if not rows:
            raise LookupError(f"build {build!r} has no items")
        media_ref: dict[str, dict] = {}
        paths = sorted({r.media_path for r in rows})
        for i, path in enumerate(track(paths, description="media", console=Console(stderr=True), disable=not progress)):
            src = m.media_root / path
            if embed_media:
                media_ref[path] = {"path": Path(path).name, "bytes": src.read_bytes()}
            else:
                rel = Path("media") / f"{i // FILES_PER_DIR:03d}" / Path(path).name
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out / rel)
                media_ref[path] = {"path": rel.as_posix(), "bytes": None}
            rep.media_files += 1
            rep.media_bytes += src.stat().st_size
        present = {r.condition for r in rows}
        wanted = splits or [s for s in configs if present & {c.value for c in SPLIT_CONDITIONS[Split(s)]}]
        for cfg in wanted:
            conds = {c.value for c in SPLIT_CONDITIONS[Split(cfg)]}
            recs = [_record(r, media_ref[r.media_path]) for r in rows if r.condition in conds]
            if recs:
                rep.config_bytes[cfg] = _write_shards(recs, out / "data" / cfg, shard_mb << 20, embed_media)
                rep.parquet_bytes += rep.config_bytes[cfg]
                rep.configs[cfg] = len(recs)
        if copy_manifest:
            copy_manifest_to(m, out / "manifest.db")
        from mmabench.export.card import write_card

        write_card(
            out,
            brow,
            rows,
            rep.configs,
            embed_media,
            split_name="train" if is_train else "test",
            sizes=rep.config_bytes,
        )
    rep.seconds = time.perf_counter() - t0
    return rep


def copy_manifest_to(m: Manifest, path: Path) -> None:
    """A standalone SQLite copy of the manifest (any backend), for SQL users and Datasette."""
    from sqlalchemy import select

    with Manifest(f"sqlite:///{path.resolve()}") as dst:
        with m.session() as s:
            for model in COPY_TABLES:
                cols = [c.name for c in model.__table__.columns]
                batch = [dict(zip(cols, row)) for row in s.execute(select(*model.__table__.columns))]
                for i in range(0, len(batch), 2000):
                    dst.upsert(model, batch[i : i + 2000])
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)


def import_hf(path_or_repo: str, *, home=None, db=None, config: Optional[str] = None) -> dict[str, int]:
    """Load a release (folder, or a Hub repo id fetched with huggingface_hub) back into a manifest."""
    import datasets
    import yaml

    root = Path(path_or_repo)
    if not root.exists():
        from huggingface_hub import snapshot_download

        root = Path(snapshot_download(path_or_repo, repo_type="dataset"))
    card = (root / "README.md").read_text()
    meta = yaml.safe_load(card.split("---", 2)[1])
    info = meta.get("mmabench", {})
    configs = [c["config_name"] for c in meta["configs"]]
    use = [config] if config else (["full"] if "full" in configs else configs)
    counts = {"items": 0, "variants": 0, "clips": 0}
    with Manifest(db, home) as m:
        m.upsert(
            BuildRow,
            [
                dict(
                    name=info["build"],
                    config=info["config"],
                    config_hash=info["config_hash"],
                    seed=info["config"].get("seed", 0),
                    versions=info.get("versions", {}),
                    timings={},
                )
            ],
        )
        for cfg in use:
            split = next(iter(datasets.load_dataset(str(root), cfg).values()))
            clips, variants, items = {}, {}, []
            for r in split:
                for cid, label, mid, ref in (
                    (r["video_clip_id"], r["visual_class"], r["visual_mid"], r["video_source_ref"]),
                    (r["audio_clip_id"], r["audio_class"], r["audio_mid"], r["audio_source_ref"]),
                ):
                    if cid:
                        clips[cid] = dict(
                            id=cid,
                            source=r["source"],
                            source_ref=ref,
                            label=label,
                            label_mid=mid,
                            status="ok",
                            provenance={"imported_from": str(path_or_repo)},
                            attempts=1,
                        )
                if r["variant_id"] not in variants:
                    recipe = json.loads(r["recipe"])
                    rel = f"variants/{r['media_sha256'][:2]}/{r['media_sha256']}.mp4"
                    dst = m.media_root / rel
                    if not dst.exists():
                        dst.parent.mkdir(parents=True, exist_ok=True)
                        v = r["video"]
                        if v.get("bytes"):
                            dst.write_bytes(v["bytes"])
                        else:
                            shutil.copy2(root / v["path"], dst)
                    variants[r["variant_id"]] = dict(
                        id=r["variant_id"],
                        condition=r["condition"],
                        op=recipe["op"],
                        op_version=recipe["op_version"],
                        video_clip_id=r["video_clip_id"],
                        audio_clip_id=r["audio_clip_id"],
                        recipe=recipe,
                        tool_versions={"imported": __version__},
                        path=rel,
                        sha256=r["media_sha256"],
                        bytes=dst.stat().st_size,
                    )
                items.append(
                    dict(
                        id=r["item_id"],
                        build=r["build"],
                        variant_id=r["variant_id"],
                        split=r["split"],
                        condition=r["condition"],
                        prompt_modality=r["prompt_modality"],
                        prompt=r["prompt"],
                        options=list(r["options"]),
                        answer=r["answer"],
                        abstain_expected=r["abstain_expected"],
                        template_version=r["template_version"],
                    )
                )
            m.upsert(ClipRow, list(clips.values()))
            m.upsert(VariantRow, list(variants.values()))
            m.upsert(ItemRow, items)
            counts["items"] += len(items)
            counts["variants"] += len(variants)
            counts["clips"] += len(clips)
    return counts
