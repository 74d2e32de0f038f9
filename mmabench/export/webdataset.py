"""`mmabench export webdataset`: tar shards for streaming training at scale — one sample per variant
(`<variant_id>.mp4` + `<variant_id>.json` holding its items), at most N samples or B bytes per shard."""

from __future__ import annotations

import io
import json
import tarfile
from pathlib import Path

from mmabench.db.manifest import Manifest
from mmabench.export.rows import export_rows, media_file
from mmabench.media.store import store_for
from mmabench.schema import Split


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), 0, 0o644  # mtime 0: byte-identical shards on re-export
    tar.addfile(info, io.BytesIO(data))


def export_webdataset(
    out: str | Path,
    *,
    build: str = "default",
    split: str = "full",
    max_samples: int = 1000,
    max_bytes: int = 1 << 30,
    home=None,
    db=None,
    media_url: str | None = None,
) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    with Manifest(db, home) as m:
        store = store_for(media_url, m.home)
        by_variant: dict[str, list] = {}
        for r in export_rows(m, build, Split(split)):
            by_variant.setdefault(r.variant_id, []).append(r)
        shards, tar, n, size = [], None, 0, 0
        for vid in sorted(by_variant):
            rows = by_variant[vid]
            video = media_file(store, rows[0]).read_bytes()
            meta = {
                "variant_id": vid,
                "condition": rows[0].condition,
                "recipe": rows[0].recipe,
                "visual_class": rows[0].visual_class,
                "audio_class": rows[0].audio_class,
                "media_sha256": rows[0].media_sha256,
                "items": [
                    {
                        "item_id": r.item_id,
                        "prompt_modality": r.prompt_modality,
                        "prompt": r.prompt,
                        "options": r.options,
                        "answer": r.answer,
                        "abstain_expected": r.abstain_expected,
                    }
                    for r in rows
                ],
            }
            blob = json.dumps(meta, ensure_ascii=False).encode()
            if tar is None or n >= max_samples or size + len(video) > max_bytes:
                if tar is not None:
                    tar.close()
                shards.append(out / f"{build}-{split}-{len(shards):05d}.tar")
                tar, n, size = tarfile.open(shards[-1], "w"), 0, 0
            _add(tar, f"{vid}.mp4", video)
            _add(tar, f"{vid}.json", blob)
            n, size = n + 1, size + len(video) + len(blob)
        if tar is not None:
            tar.close()
    return {"shards": [s.name for s in shards], "samples": len(by_variant)}
