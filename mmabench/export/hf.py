"""`mmabench export hf`: a release folder that `datasets.load_dataset(OUT, CONFIG)` loads from anywhere.

Layout (media as files, the default): `datasets`' own videofolder convention, so `datasets` resolves the
media itself, from any working directory, after the folder is moved, and on the Hub: videos in
media/NNN/ (at most 1,000 per folder) beside a media/NNN/metadata.parquet whose `file_name` column names
them relative to that folder; every config reads all metadata files and keeps its conditions with a
`filters` expression in the card. With `--embed-media` the bytes go inside Parquet shards under
data/<config>/ instead (a `video` column typed `Video(decode=False)`). Beside the data: a generated card
(README.md), `manifest.db` with only this build's rows, Datasette's `metadata.json`. `import_hf` (in
importer.py) loads a release back into a manifest.
"""

from __future__ import annotations

import json
import shutil
import time
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

from rich.console import Console
from rich.progress import track

from mmabench.db.manifest import Manifest
from mmabench.export.features import features, metadata_features
from mmabench.export.importer import ImportReport, import_hf
from mmabench.export.release_db import public, write_datasette_metadata, write_release_db
from mmabench.export.rows import ExportRow, export_rows
from mmabench.media.store import store_for
from mmabench.pipeline.pools import check_build_pools, role
from mmabench.schema import SPLIT_CONDITIONS, Split

FILES_PER_DIR = 1000
SPLIT_CONFIGS = ["conflict", "text", "unimodal", "full"]
METADATA = "metadata.parquet"
__all__ = ["ExportReport", "ImportReport", "export_hf", "import_hf"]


@dataclass
class ExportReport:
    out: Path
    configs: dict[str, int] = field(default_factory=dict)
    config_bytes: dict[str, int] = field(default_factory=dict)
    media_files: int = 0
    media_bytes: int = 0
    parquet_bytes: int = 0
    seconds: float = 0.0
    manifest_rows: dict[str, int] = field(default_factory=dict)


def _record(r: ExportRow) -> dict:
    d = dict(r.__dict__)  # shallow: asdict() deep-copied every recipe and option list (most of the export time)
    d.pop("media_path")
    d["recipe"] = json.dumps(r.recipe, sort_keys=True)
    d["video_source_ref"], d["audio_source_ref"] = public(r.video_source_ref), public(r.audio_source_ref)
    return d


def _write_shards(rows: list[dict], folder: Path, shard_bytes: int) -> int:
    """Embedded layout: Parquet shards with the video bytes in a `video` column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    schema = features().arrow_schema
    folder.mkdir(parents=True, exist_ok=True)
    per_row = max(1, (sum(len(r["prompt"]) for r in rows[:200]) // max(1, len(rows[:200]))) + 600)
    per_row += max((len(r["video"]["bytes"] or b"") for r in rows[:50]), default=0)
    rows_per_shard = max(1, shard_bytes // per_row)
    n = max(1, -(-len(rows) // rows_per_shard))
    total = 0
    for k in range(n):
        chunk = rows[k * rows_per_shard : (k + 1) * rows_per_shard]
        path = folder / f"part-{k:05d}-of-{n:05d}.parquet"
        pq.write_table(pa.Table.from_pylist(chunk, schema=schema), path, compression="zstd")
        total += path.stat().st_size
    return total


def _write_metadata(rows: list[dict], folder: Path) -> int:
    """Files layout: one metadata.parquet per media folder, `file_name` relative to that folder."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    path = folder / METADATA
    pq.write_table(pa.Table.from_pylist(rows, schema=metadata_features().arrow_schema), path, compression="zstd")
    return path.stat().st_size


def export_hf(
    out: str | Path,
    *,
    build: str = "default",
    splits: Optional[list[str]] = None,
    embed_media: bool = False,
    shard_mb: int = 256,
    home=None,
    db=None,
    media_url: Optional[str] = None,
    copy_manifest: bool = True,
    include_runs: bool = False,
    progress: bool = False,
) -> ExportReport:
    t0 = time.perf_counter()
    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose a new folder for the release")
    rep = ExportReport(out)
    with Manifest(db, home) as m:
        store = store_for(media_url, m.home)
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
        present = {r.condition for r in rows}
        wanted = splits or [s for s in configs if present & {c.value for c in SPLIT_CONDITIONS[Split(s)]}]
        conds = {cfg: {c.value for c in SPLIT_CONDITIONS[Split(cfg)]} for cfg in wanted}
        rows = [r for r in rows if any(r.condition in c for c in conds.values())]  # what some config holds
        where: dict[str, str] = {}  # workspace path -> release path (files layout)
        data: dict[str, bytes] = {}  # workspace path -> bytes (embedded layout)
        shas = {r.media_path: r.media_sha256 for r in rows}
        paths = sorted(shas)
        for i, path in enumerate(track(paths, description="media", console=Console(stderr=True), disable=not progress)):
            src = store.local_path(path, shas[path])
            if embed_media:
                data[path] = src.read_bytes()
            else:
                rel = Path("media") / f"{i // FILES_PER_DIR:03d}" / Path(path).name
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, out / rel)
                where[path] = rel.as_posix()
            rep.media_files += 1
            rep.media_bytes += src.stat().st_size
        if embed_media:
            for cfg in wanted:
                recs = [
                    _record(r) | {"video": {"path": Path(r.media_path).name, "bytes": data[r.media_path]}}
                    for r in rows
                    if r.condition in conds[cfg]
                ]
                if recs:
                    rep.config_bytes[cfg] = _write_shards(recs, out / "data" / cfg, shard_mb << 20)
                    rep.parquet_bytes += rep.config_bytes[cfg]
                    rep.configs[cfg] = len(recs)
        else:
            by_dir: dict[str, list[dict]] = defaultdict(list)
            for r in rows:
                name = where[r.media_path]
                by_dir[name.rsplit("/", 1)[0]].append(_record(r) | {"file_name": name.rsplit("/", 1)[1]})
            rep.parquet_bytes = sum(_write_metadata(recs, out / d) for d, recs in sorted(by_dir.items()))
            for cfg in wanted:
                n = sum(r.condition in conds[cfg] for r in rows)
                if n:
                    rep.configs[cfg] = n
                    rep.config_bytes[cfg] = rep.parquet_bytes * n // len(rows)  # the card's estimate
        if copy_manifest:
            rep.manifest_rows = write_release_db(
                m, out / "manifest.db", build, {r.item_id for r in rows}, where, include_runs=include_runs
            )
            write_datasette_metadata(out, f"mmabench release: {build}")
        from mmabench.export.card import write_card

        write_card(
            out,
            brow,
            rows,
            rep.configs,
            embed_media,
            split_name="train" if brow.config.get("train") else "test",
            sizes=rep.config_bytes,
        )
    rep.seconds = time.perf_counter() - t0
    return rep
