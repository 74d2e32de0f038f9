"""Clips page: each source clip with its tagger scores and its consistency-filter decisions, check by check."""

from __future__ import annotations

from typing import Any, Optional

from sqlalchemy import Connection, bindparam, text

from mmabench.serve.items import PAGE, as_json

TOP = 5  # tagger classes shown per clip


def filter_summary(con: Connection) -> list[dict[str, Any]]:
    """Per filter configuration: kept / rejected counts and rejections grouped by the reason's kind."""
    out: dict[str, dict[str, Any]] = {}
    for r in con.execute(text("SELECT filter_hash, kept, reason FROM decisions ORDER BY filter_hash")):
        s = out.setdefault(r.filter_hash, {"filter_hash": r.filter_hash, "kept": 0, "rejected": 0, "reasons": {}})
        if r.kept:
            s["kept"] += 1
        else:
            s["rejected"] += 1
            kind = (r.reason or "?").split(" (")[0].split(":")[0]
            s["reasons"][kind] = s["reasons"].get(kind, 0) + 1
    return list(out.values())


def list_clips(
    con: Connection, label: str = "", decision: str = "", filter_hash: str = "", after: str = "", limit: int = PAGE
) -> tuple[list[dict[str, Any]], Optional[str]]:
    where = ["c.id > :after"]
    bind: dict[str, Any] = {"after": after, "n": limit + 1, "fh": filter_hash}
    if label:
        where.append("c.label = :label")
        bind["label"] = label
    if decision in ("kept", "rejected"):
        where.append(
            f"EXISTS (SELECT 1 FROM decisions d WHERE d.clip_id = c.id AND d.kept = :k{' AND d.filter_hash = :fh' if filter_hash else ''})"
        )
        bind["k"] = decision == "kept"
    elif decision == "undecided":
        where.append("NOT EXISTS (SELECT 1 FROM decisions d WHERE d.clip_id = c.id)")
    rows = [
        dict(r._mapping)
        for r in con.execute(
            text(
                "SELECT c.id, c.label, c.status, c.error, c.path, c.sha256, c.source, c.source_ref, c.duration "
                f"FROM clips c WHERE {' AND '.join(where)} ORDER BY c.id LIMIT :n"
            ),
            bind,
        )
    ]
    more = len(rows) > limit
    rows = rows[:limit]
    ids, shas = [r["id"] for r in rows], [r["sha256"] for r in rows if r["sha256"]]
    decisions: dict[str, list[dict[str, Any]]] = {}
    if ids:
        q = text("SELECT clip_id, filter_hash, kept, reason, checks FROM decisions WHERE clip_id IN :ids").bindparams(
            bindparam("ids", expanding=True)
        )
        for d in con.execute(q, {"ids": ids}):
            if not filter_hash or d.filter_hash == filter_hash:
                decisions.setdefault(d.clip_id, []).append({**dict(d._mapping), "checks": as_json(d.checks)})
    tags: dict[str, list[dict[str, Any]]] = {}
    if shas:
        q = text("SELECT sha256, tagger, model_id, modality, scores FROM tags WHERE sha256 IN :s").bindparams(
            bindparam("s", expanding=True)
        )
        for t in con.execute(q, {"s": shas}):
            scores = as_json(t.scores) or {}
            top = sorted(scores.items(), key=lambda kv: -kv[1])[:TOP]
            tags.setdefault(t.sha256, []).append({"tagger": t.tagger, "model_id": t.model_id, "top": top})
    for r in rows:
        r["decisions"] = decisions.get(r["id"], [])
        r["tags"] = sorted(tags.get(r["sha256"], []), key=lambda t: t["tagger"])
    return rows, rows[-1]["id"] if rows and more else None


def check_rows(checks: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    """(check, score, verdict, by) per check of a decision, for a table."""
    out = []
    for name, c in checks.items():
        if isinstance(c, dict):
            score = c.get("score", c.get("speech"))
            if score is None and c.get("answer") is not None:  # the MLLM judge answers yes/no
                score = 1.0 if c["answer"] else 0.0
            verdict = c.get("pass", None if "flag" not in c else not c["flag"])
            by = c.get("by") or c.get("tagger") or ""
            if c.get("same_input_as"):  # a unimodal tagger: the full clip is the same input
                by += f" (same input as {c['same_input_as']})"
            out.append(
                (
                    name,
                    "n/a" if score is None else f"{score:.2f}",
                    "not done"
                    if c.get("done") is False
                    else "n/a"
                    if verdict is None
                    else "pass"
                    if verdict
                    else "FAIL",
                    by or c.get("why", ""),
                )
            )
        else:
            out.append((name, str(c), "", ""))
    return out
