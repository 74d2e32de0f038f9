"""Item list (filters in the URL, keyset pagination on the item id) and the item page's facts."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any, Optional

from sqlalchemy import Connection, text

PAGE = 50

# what a run's answer to an item was; "incorrect" = a wrong class named (not an abstention, not unparsed)
OUTCOMES = {
    "correct": "p.correct = :yes",
    "incorrect": "p.correct = :no AND p.abstained = :no AND p.parse_status IN ('exact', 'contained')",
    "abstained": "p.abstained = :yes",
    "unparsed": "p.parse_status = 'unparsed'",
    "error": "p.error IS NOT NULL",
}


class BadFilter(ValueError):
    pass


def as_json(v: Any) -> Any:
    """JSON columns come back as text from SQLite and as objects from PostgreSQL's JSONB."""
    return json.loads(v) if isinstance(v, (str, bytes)) else v


@dataclass
class Filters:
    build: str = ""
    split: str = ""
    condition: str = ""
    modality: str = ""
    cls: str = ""
    run: str = ""
    outcome: str = ""

    @classmethod
    def from_query(cls, q: Any) -> "Filters":
        f = cls(**{k: (q.get(k) or "").strip() for k in ("build", "split", "condition", "modality", "run", "outcome")})
        f.cls = (q.get("class") or "").strip()
        if f.outcome and f.outcome not in OUTCOMES:
            raise BadFilter(f"unknown outcome {f.outcome!r} (one of {', '.join(OUTCOMES)})")
        if f.outcome and not f.run:
            raise BadFilter("an outcome filter needs a run (choose one)")
        return f

    def params(self) -> dict[str, str]:
        """The filter as URL query parameters (empty ones left out), so a page's URL can be shared."""
        d = {("class" if k == "cls" else k): v for k, v in asdict(self).items() if v}
        return d


@dataclass
class Page:
    rows: list[dict[str, Any]]
    next_after: Optional[str]  # item id to continue after, None on the last page
    prev_before: Optional[str]  # item id to go back before, None on the first page


def list_items(con: Connection, f: Filters, after: str = "", before: str = "", limit: int = PAGE) -> Page:
    key = "p.item_id" if f.run else "i.id"  # with a run, walk the predictions primary key (run_id, item_id)
    where: list[str] = []
    bind: dict[str, Any] = {"yes": True, "no": False, "n": limit + 1}
    for col, val, name in (
        ("i.build", f.build, "build"),
        ("i.condition", f.condition, "condition"),
        ("i.prompt_modality", f.modality, "modality"),
    ):
        if val:
            where.append(f"{col} = :{name}")
            bind[name] = val
    if f.split and f.split != "full":
        where.append("i.split = :split")
        bind["split"] = f.split
    if f.cls:
        where.append("(vc.label = :cls OR ac.label = :cls)")
        bind["cls"] = f.cls
    pred_cols, source = "", "items i"
    if f.run:
        # drive the walk from the run's rows in primary-key order; CROSS JOIN pins that join order in SQLite
        # (its planner otherwise scans items and sorts: 450 ms instead of 20 on 1M predictions), and is a
        # plain inner join that PostgreSQL plans freely
        source = "predictions p CROSS JOIN items i"
        where += ["p.run_id = :run", "i.id = p.item_id"]
        bind["run"] = f.run
        pred_cols = ", p.parsed, p.parse_status, p.correct, p.abstained, p.latency_ms, p.error"
        if f.outcome:
            where.append(OUTCOMES[f.outcome])
    backwards = bool(before) and not after
    if after:
        where.append(f"{key} > :after")
        bind["after"] = after
    elif before:
        where.append(f"{key} < :before")
        bind["before"] = before
    sql = (
        "SELECT i.id AS item_id, i.build, i.split, i.condition, i.prompt_modality, i.answer, "
        f"vc.label AS visual_class, ac.label AS audio_class{pred_cols} "
        f"FROM {source} JOIN variants v ON v.id = i.variant_id JOIN clips vc ON vc.id = v.video_clip_id "
        "LEFT JOIN clips ac ON ac.id = v.audio_clip_id "
        f"{'WHERE ' + ' AND '.join(where) if where else ''} "
        f"ORDER BY {key} {'DESC' if backwards else 'ASC'} LIMIT :n"
    )
    rows = [dict(r._mapping) for r in con.execute(text(sql), bind)]
    more = len(rows) > limit
    rows = rows[:limit]
    if backwards:
        rows.reverse()
        return Page(rows, rows[-1]["item_id"] if rows else None, rows[0]["item_id"] if rows and more else None)
    has_prev = bool(after)
    return Page(rows, rows[-1]["item_id"] if rows and more else None, rows[0]["item_id"] if rows and has_prev else None)


def facets(con: Connection) -> dict[str, list[str]]:
    """Values offered in the filter form (small tables or indexed columns only)."""
    one = lambda sql: [r[0] for r in con.execute(text(sql)) if r[0] is not None]
    return {
        "build": one("SELECT name FROM builds ORDER BY name"),
        "split": ["conflict", "text", "unimodal", "full"],
        "condition": ["aligned", "av_swap", "caption", "long_context", "audio_removed", "frames_zeroed"],
        "modality": ["visual", "audio"],
        "class": one("SELECT DISTINCT label FROM clips ORDER BY label"),
        "outcome": list(OUTCOMES),
    }


def runs(con: Connection) -> list[dict[str, Any]]:
    return [
        {**dict(r._mapping), "counts": as_json(r.counts)}
        for r in con.execute(
            text(
                "SELECT id, model, adapter, build, split, status, counts, created_at FROM runs ORDER BY created_at, id"
            )
        )
    ]


def item(con: Connection, item_id: str) -> Optional[dict[str, Any]]:
    r = con.execute(
        text(
            "SELECT f.*, v.op, v.recipe FROM items_flat f JOIN variants v ON v.id = f.variant_id WHERE f.item_id = :id"
        ),
        {"id": item_id},
    ).first()
    if r is None:
        return None
    out = dict(r._mapping)
    out["options"], out["recipe"] = as_json(out["options"]), as_json(out["recipe"])
    clip_sql = text("SELECT id, label, path, source, source_ref, duration FROM clips WHERE id = :id")
    for role in ("video_clip", "audio_clip"):
        cid = out[f"{role}_id"]
        c = con.execute(clip_sql, {"id": cid}).first() if cid else None
        out[role] = dict(c._mapping) if c else None
    out["predictions"] = [
        {**dict(p._mapping), "sent": as_json(p.sent)}
        for p in con.execute(
            text(
                "SELECT p.run_id, r.model, r.adapter, p.response, p.parsed, p.parse_status, p.correct, p.abstained, "
                "p.latency_ms, p.tokens_in, p.tokens_out, p.sent, p.cached_from, p.error, p.attempts "
                "FROM predictions p JOIN runs r ON r.id = p.run_id WHERE p.item_id = :id ORDER BY r.created_at, r.id"
            ),
            {"id": item_id},
        )
    ]
    return out


def split_prompt(prompt: str, long: int = 600) -> tuple[str, str]:
    """(collapsible context, question): a long prompt's context before its last blank line is folded away.
    Together they are the prompt exactly as sent."""
    head, sep, tail = prompt.rpartition("\n\n")
    if len(prompt) <= long or not sep:
        return "", prompt
    return head + sep, tail
