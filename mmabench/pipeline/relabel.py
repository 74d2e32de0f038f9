"""`relabel`: after a curation-rules change, give ingested AudioSet clips the class the current rules assign
to their segment's own labels (kept in each clip's provenance at ingest), or drop them with the reason.

Segments are judged within the segment list they came from, as ingest does, so `min_segments` applies the
same way; a list that cannot be read any more falls back to the lineage rules alone, and says so. Each change
is appended to the clip's provenance (`relabels`: old -> new or dropped, the rules' sha256), so the history
stays with the clip. A dropped clip gets status `dropped` and the reason in `error`; builds draw only `ok`
clips. Items are not touched here: the next build of a build whose rules hash changed is a config change
and supersedes the items of the clips whose class moved.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Optional

from sqlalchemy import select

from mmabench.db.manifest import Manifest
from mmabench.db.models import ClipRow
from mmabench.schema import ClipStatus
from mmabench.sources.audioset import DATA, read_segments
from mmabench.taxonomy.curation import Curation


@dataclass
class Change:
    clip_id: str
    source_ref: str
    old: str
    new: Optional[str]  # None: dropped
    reason: str = ""  # why it was dropped


@dataclass
class RelabelReport:
    rules_sha256: str
    clips: int = 0  # AudioSet clips looked at
    unchanged: int = 0
    changes: list[Change] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _list_verdicts(cur: Curation, file: str, notes: list[str]) -> dict[tuple[str, float, float], tuple]:
    """(ytid, start, end) -> (class mid | None, reason) for every segment of one list, min_segments applied."""
    path = DATA / file if (DATA / file).is_file() else Path(file)
    try:
        segs = list(read_segments(path))
    except OSError:
        notes.append(f"segment list {file} not found: its clips judged by lineage alone (no min_segments)")
        return {}
    return {(s.ytid, s.start, s.end): v for s, v in zip(segs, cur.judge(s.labels for s in segs))}


def relabel(
    rules: str | Path | None = None, *, home=None, db=None, dry_run: bool = False, status: str = "ok"
) -> RelabelReport:
    """Re-label the AudioSet clips of `status` (default ok) with `rules` (default: the shipped rules)."""
    cur = Curation.load(rules)
    rep = RelabelReport(cur.rules_sha256)
    now = datetime.now(timezone.utc).isoformat(timespec="seconds")
    with Manifest(db, home) as m, m.session() as s, s.begin():
        rows = s.scalars(select(ClipRow).where(ClipRow.source == "audioset", ClipRow.status == status)).all()
        verdicts: dict[str, dict] = {}
        for r in rows:
            prov = dict(r.provenance or {})
            labels = prov.get("labels")
            if not labels:
                rep.notes.append(f"{r.source_ref}: no segment labels in provenance, left as {r.label}")
                continue
            rep.clips += 1
            file = str(prov.get("segments") or "")
            if file not in verdicts:
                verdicts[file] = _list_verdicts(cur, file, rep.notes) if file else {}
            mid, why = verdicts[file].get((r.source_ref, r.start, r.end)) or cur.class_of(labels)
            if mid == r.label_mid:
                rep.unchanged += 1
                continue
            new = cur.ontology.name(mid) if mid else None
            rep.changes.append(Change(r.id, r.source_ref, r.label, new, why))
            if dry_run:
                continue
            history = list(prov.get("relabels", []))
            history.append(
                {"from": r.label, "to": new, "reason": why or None, "curation_sha256": cur.rules_sha256, "at": now}
            )
            prov.update(relabels=history, curation_sha256=cur.rules_sha256)
            r.provenance = prov
            if mid:
                r.label, r.label_mid = str(new), mid
            else:
                r.status, r.error = ClipStatus.dropped.value, f"curation {cur.rules_sha256[:12]}: {why}"
    return rep
