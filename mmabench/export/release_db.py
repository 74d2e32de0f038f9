"""The release's `manifest.db`: a standalone SQLite file with only the released build's rows (its items,
their variants and clips, those clips' tags and decisions; runs and predictions only on request),
media paths rewritten to the files in the release, no local absolute paths or credentials, in
rollback-journal mode so read-only users and Datasette open it; plus Datasette's `metadata.json` with the
canned queries shipped in mmabench/db/queries."""

from __future__ import annotations

import json
import re
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import select

from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, ClipRow, DecisionRow, ItemRow, PredictionRow, RunRow, TagRow, VariantRow
from mmabench.schema.redact import redact_options, scrub_text

MID = re.compile(r"/[a-z]/[0-9a-z_]+")  # AudioSet ontology ids look like absolute paths
QUERIES = Path(__file__).resolve().parents[1] / "db" / "queries"


def public(value: Any) -> Any:
    """JSON values with absolute local paths cut to their file name and URLs stripped of credentials."""
    if isinstance(value, dict):
        return {k: public(v) for k, v in redact_options(value).items()}
    if isinstance(value, list):
        return [public(v) for v in value]
    if isinstance(value, str) and not MID.fullmatch(value) and (value.startswith("/") or value[1:3] in (":\\", ":/")):
        return Path(value).name
    if isinstance(value, str):
        return scrub_text(value)
    return value


def _rows(s, model, *where) -> list[dict]:
    cols = [c.name for c in model.__table__.columns]
    return [dict(zip(cols, r)) for r in s.execute(select(*model.__table__.columns).where(*where))]


def write_release_db(
    m: Manifest, path: Path, build: str, item_ids: set[str], media_paths: dict[str, str], include_runs: bool = False
) -> dict[str, int]:
    """item_ids: the released items; media_paths: workspace variant path -> path in the release (none when
    the media are embedded)."""
    with m.session() as s:
        items = [i for i in _rows(s, ItemRow, ItemRow.build == build) if i["id"] in item_ids]
        vids = {i["variant_id"] for i in items}
        variants = [v for v in _rows(s, VariantRow) if v["id"] in vids]
        cids = {v["video_clip_id"] for v in variants} | {v["audio_clip_id"] for v in variants if v["audio_clip_id"]}
        clips = [c for c in _rows(s, ClipRow) if c["id"] in cids]
        shas = {c["sha256"] for c in clips if c["sha256"]} | {v["sha256"] for v in variants}
        tables: dict[Any, list[dict]] = {
            BuildRow: _rows(s, BuildRow, BuildRow.name == build),
            ClipRow: clips,
            VariantRow: variants,
            ItemRow: items,
            TagRow: [t for t in _rows(s, TagRow) if t["sha256"] in shas],
            DecisionRow: [d for d in _rows(s, DecisionRow) if d["clip_id"] in cids],
        }
        if include_runs:
            runs = _rows(s, RunRow, RunRow.build == build)
            ids = {r["id"] for r in runs}
            tables[RunRow] = runs
            tables[PredictionRow] = [
                p for p in _rows(s, PredictionRow) if p["run_id"] in ids and p["item_id"] in item_ids
            ]
    for b in tables[BuildRow]:
        b["config"], b["timings"] = public(b["config"]), {}
    for c in clips:
        c["path"] = None  # source clips are not in the release
        c["provenance"], c["error"] = public(c["provenance"]), c["error"] and scrub_text(c["error"])
        c["source_ref"] = public(c["source_ref"])
    for v in variants:
        v["path"] = media_paths.get(v["path"])
    for r in tables.get(RunRow, []):
        r["options"] = public(r["options"])
    for p in tables.get(PredictionRow, []):
        p["error"] = p["error"] and scrub_text(p["error"])
        p["response"] = p["response"] and scrub_text(p["response"])
    with Manifest(f"sqlite:///{path.resolve()}") as dst:
        for model, rows in tables.items():
            for i in range(0, len(rows), 2000):
                dst.upsert(model, rows[i : i + 2000])
    con = sqlite3.connect(path)
    try:  # rollback journal: a WAL file needs write access (or a -shm file) even to read
        con.execute("PRAGMA journal_mode=DELETE")
        con.execute("VACUUM")
    finally:
        con.close()
    for suffix in ("-wal", "-shm"):
        Path(str(path) + suffix).unlink(missing_ok=True)
    return {model.__tablename__: len(rows) for model, rows in tables.items()}


def datasette_metadata(title: str) -> dict:
    """Datasette's metadata.json: the manifest database with mmabench's canned queries."""
    queries = {}
    for q in sorted(QUERIES.glob("*.sql")):
        text = q.read_text()
        first = text.splitlines()[0] if text else ""
        queries[q.stem] = {
            "title": q.stem.replace("_", " "),
            "description": first.lstrip("- ").strip() if first.startswith("--") else "",
            "sql": text.strip().rstrip(";"),
        }
    return {
        "title": title,
        "source": "mmabench",
        "source_url": "https://pypi.org/project/mmabench/",
        "databases": {"manifest": {"queries": queries}},
    }


def write_datasette_metadata(out: Path, title: str) -> Path:
    path = out / "metadata.json"
    path.write_text(json.dumps(datasette_metadata(title), indent=2) + "\n")
    return path
