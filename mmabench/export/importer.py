"""`mmabench import hf`: a release (folder or Hub repo) back into a manifest, treating it as untrusted.

Rows are read with pyarrow from the Parquet files the card's configs name (globbed inside the release);
each media file is opened through `safe_files` (inside the release, no links, regular file), copied to
the workspace media store under a name derived from its checked sha256, and kept only if its bytes match
that hash. A rejected variant takes its items with it; the rest of the release is imported."""

from __future__ import annotations

import json
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Optional

from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, ItemRow, VariantRow
from mmabench.export.safe_files import SHA256, Rejected, check_name, has_verified, open_inside, read_fd, store_verified
from mmabench.version import __version__


@dataclass
class ImportReport:
    items: int = 0
    variants: int = 0
    clips: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (variant or file, reason)

    def counts(self) -> dict[str, int]:
        return {"items": self.items, "variants": self.variants, "clips": self.clips}


def _card(root: Path) -> dict:
    import yaml

    fd = open_inside(root, root, "README.md")
    with open(fd, encoding="utf-8") as f:
        text = f.read()
    parts = text.split("---", 2)
    meta = yaml.safe_load(parts[1]) if len(parts) == 3 else None
    if not isinstance(meta, dict) or not meta.get("configs") or "mmabench" not in meta:
        raise LookupError(f"{root} is not an mmabench release (no dataset card with mmabench configs)")
    return meta


def _patterns(entry: dict) -> list[str]:
    files = entry.get("data_files") or []
    files = [files] if isinstance(files, (str, dict)) else files
    out: list[str] = []
    for f in files:
        p = f.get("path") if isinstance(f, dict) else f
        out += [p] if isinstance(p, str) else list(p or [])
    return out


def release_rows(root: Path, entry: dict) -> Iterator[tuple[dict, Path]]:
    """(row, folder its file_name is relative to) for every row of one card config."""
    import pyarrow.parquet as pq

    seen: set[Path] = set()
    for pattern in _patterns(entry):
        check_name(pattern)  # a pattern with `..` or an absolute path is refused outright
        for path in sorted(root.glob(pattern)):
            if path.suffix != ".parquet" or path in seen:
                continue
            seen.add(path)
            fd = open_inside(root, root, path.relative_to(root).as_posix())
            with open(fd, "rb") as f:
                table = pq.read_table(f)
            if entry.get("filters"):
                table = table.filter(pq.filters_to_expression([tuple(x) for x in entry["filters"]]))
            for row in table.to_pylist():
                yield row, path.parent


def _media_chunks(root: Path, row: dict, base: Path):
    if row.get("file_name") is not None:  # videofolder layout: relative to the metadata file's folder
        return read_fd(open_inside(root, base, row["file_name"]))
    video = row.get("video") or {}
    if video.get("bytes"):
        return iter([video["bytes"]])
    return read_fd(open_inside(root, root, video.get("path")))  # older layout: relative to the release root


def _fetch(repo: str, scratch: Path) -> Path:
    """A Hub snapshot as plain files (no cache symlinks) in a private folder of the workspace."""
    from huggingface_hub import snapshot_download

    dst = Path(tempfile.mkdtemp(dir=scratch, prefix="import-"))
    return Path(snapshot_download(repo, repo_type="dataset", local_dir=dst))


def import_hf(path_or_repo: str, *, home=None, db=None, config: Optional[str] = None) -> ImportReport:
    rep = ImportReport()
    with Manifest(db, home) as m:
        scratch = m.home / ".scratch"
        scratch.mkdir(parents=True, exist_ok=True)
        local = Path(path_or_repo)
        root = local if local.is_dir() else _fetch(path_or_repo, scratch)
        origin = local.name if local.is_dir() else path_or_repo  # no local absolute paths in the manifest
        try:
            _import(m, root.resolve(), origin, config, scratch, rep)
        finally:
            if root != local:
                shutil.rmtree(root, ignore_errors=True)
    return rep


def _import(m: Manifest, root: Path, origin: str, config: Optional[str], scratch: Path, rep: ImportReport) -> None:
    meta = _card(root)
    info = meta["mmabench"]
    entries = {c["config_name"]: c for c in meta["configs"]}
    if config and config not in entries:
        raise LookupError(f"no config {config!r} in this release (has: {', '.join(entries)})")
    use = [config] if config else (["full"] if "full" in entries else list(entries))
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
    clips: dict[str, dict] = {}
    variants: dict[str, dict] = {}
    bad: dict[str, str] = {}
    items: dict[str, dict] = {}
    for cfg in use:
        for r, base in release_rows(root, entries[cfg]):
            vid = r["variant_id"]
            if vid in bad:
                continue
            if vid not in variants:
                try:
                    variants[vid] = _store_variant(m, root, r, base, scratch)
                except (Rejected, OSError, KeyError, ValueError) as e:
                    bad[vid] = str(e)
                    rep.rejected.append((vid, str(e)))
                    continue
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
                        provenance={"imported_from": origin},
                        attempts=1,
                    )
            items[r["item_id"]] = dict(
                id=r["item_id"],
                build=r["build"],
                variant_id=vid,
                split=r["split"],
                condition=r["condition"],
                prompt_modality=r["prompt_modality"],
                prompt=r["prompt"],
                options=list(r["options"]),
                answer=r["answer"],
                abstain_expected=r["abstain_expected"],
                template_version=r["template_version"],
            )
    m.upsert(ClipRow, list(clips.values()))
    m.upsert(VariantRow, list(variants.values()))
    m.upsert(ItemRow, list(items.values()))
    rep.items, rep.variants, rep.clips = len(items), len(variants), len(clips)


def _store_variant(m: Manifest, root: Path, r: dict, base: Path, scratch: Path) -> dict:
    sha = r.get("media_sha256")
    if not isinstance(sha, str) or not SHA256.fullmatch(sha):
        raise Rejected(f"recorded sha256 {str(sha)[:80]!r} is not a sha256")
    rel = f"variants/{sha[:2]}/{sha}.mp4"
    dst = m.media_root / rel
    if has_verified(dst, sha):
        size = dst.stat().st_size
    else:
        size = store_verified(_media_chunks(root, r, base), sha, dst, scratch)
    recipe = json.loads(r["recipe"])
    return dict(
        id=r["variant_id"],
        condition=r["condition"],
        op=recipe["op"],
        op_version=recipe["op_version"],
        video_clip_id=r["video_clip_id"],
        audio_clip_id=r["audio_clip_id"],
        recipe=recipe,
        tool_versions={"imported": __version__},
        path=rel,
        sha256=sha,
        bytes=size,
    )
