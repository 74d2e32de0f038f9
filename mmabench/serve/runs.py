"""Runs page (the report's study table, from eval/scoring) and the two-run compare view with McNemar's test."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Optional

from sqlalchemy import Connection, text

from mmabench.eval import aggregate
from mmabench.eval.compare import mcnemar_exact  # one implementation for report and viewer
from mmabench.eval.report import ORDER
from mmabench.eval.scoring import Cell

CACHE_SIZE = 32


def run_cells(con: Connection, run_id: str, cache: Optional[dict[tuple[str, str], list[Cell]]] = None) -> list[Cell]:
    """The cells `mmabench report` shows, from the same SQL counts (eval/aggregate.py). Scores are kept in
    `cache` per (run, updated_at, status, predictions): a run still being written is scored again when it
    changes."""
    stamp = str(
        con.execute(
            text(
                "SELECT r.updated_at, r.status, (SELECT count(*) FROM predictions p WHERE p.run_id = r.id) "
                "FROM runs r WHERE r.id = :r"
            ),
            {"r": run_id},
        ).first()
    )
    if cache is not None and (run_id, stamp) in cache:
        return cache[(run_id, stamp)]
    cells = sorted(
        aggregate.run_cells(con, [run_id]).get(run_id, []),
        key=lambda c: (ORDER.index(c.condition) if c.condition in ORDER else 99, c.modality != "visual"),
    )
    if cache is not None:
        if len(cache) >= CACHE_SIZE:
            cache.pop(next(iter(cache)))
        cache[(run_id, stamp)] = cells
    return cells


@dataclass
class Comparison:
    a: str
    b: str
    pairs: int = 0
    both: int = 0
    a_only: int = 0  # a correct, b wrong: one side of the discordant pairs
    b_only: int = 0
    neither: int = 0
    p_value: float = 1.0
    # av_swap, per run and prompted modality: answers naming the video's class / the audio's class
    follows: dict[str, dict[str, dict[str, int]]] = field(default_factory=dict)
    disagree: list[dict[str, Any]] = field(default_factory=list)
    disagree_total: int = 0


def compare(con: Connection, a: str, b: str, condition: str = "", limit: int = 200, after: str = "") -> Comparison:
    """Items both runs answered (errors excluded), paired by item id."""
    sql = (
        "SELECT pa.item_id, i.condition, i.prompt_modality, i.answer, vc.label AS visual_class, "
        "ac.label AS audio_class, pa.parsed AS a_parsed, pa.correct AS a_correct, pb.parsed AS b_parsed, "
        "pb.correct AS b_correct "
        "FROM predictions pa JOIN predictions pb ON pb.item_id = pa.item_id AND pb.run_id = :b "
        "JOIN items i ON i.id = pa.item_id JOIN variants v ON v.id = i.variant_id "
        "JOIN clips vc ON vc.id = v.video_clip_id LEFT JOIN clips ac ON ac.id = v.audio_clip_id "
        "WHERE pa.run_id = :a AND pa.error IS NULL AND pb.error IS NULL"
        + (" AND i.condition = :cond" if condition else "")
        + " ORDER BY pa.item_id"
    )
    out = Comparison(a, b)
    for key in ("a", "b"):
        out.follows[key] = {m: {"video": 0, "audio": 0, "other": 0, "n": 0} for m in ("visual", "audio")}
    for r in con.execute(text(sql), {"a": a, "b": b, "cond": condition}):
        ca, cb = bool(r.a_correct), bool(r.b_correct)
        out.pairs += 1
        out.both += ca and cb
        out.a_only += ca and not cb
        out.b_only += cb and not ca
        out.neither += not ca and not cb
        if r.condition == "av_swap":
            for key, parsed in (("a", r.a_parsed), ("b", r.b_parsed)):
                f = out.follows[key][r.prompt_modality]
                f["n"] += 1
                side = "video" if parsed == r.visual_class else "audio" if parsed == r.audio_class else "other"
                f[side] += 1
        if r.a_parsed != r.b_parsed:
            out.disagree_total += 1
            if r.item_id > after and len(out.disagree) < limit:
                out.disagree.append(dict(r._mapping))
    out.p_value = mcnemar_exact(out.a_only, out.b_only)
    return out


def fmt(x: Optional[float]) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def ms(x: Optional[float]) -> str:
    """Latency: sub-10-ms answers (baselines, cache hits) keep two decimals."""
    return "—" if x is None else f"{x:.2f}" if x < 10 else f"{x:.0f}"
