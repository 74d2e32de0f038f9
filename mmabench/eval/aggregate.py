"""Per-cell counts for `mmabench report` and the runs page, from two SQL aggregates over `predictions` alone.

Scored rows (error IS NULL) are grouped by run, condition, prompted modality and the answer they were scored
against, walking the covering partial index ix_predictions_cell (migration 0007); error rows per cell come from
the small ix_predictions_errors. No row reaches Python: over 1M predictions this is well under a second on
SQLite and PostgreSQL, where scoring the rows of predictions_flat took seconds per 100k. The runner writes
parse_status 'error' exactly when it writes an error, so these are the rows `score_rows` counts as errors.
"""

from __future__ import annotations

from typing import Optional

from sqlalchemy import Connection, bindparam, text

from mmabench.eval.scoring import Cell, Counts, score_counts

SCORED = """
SELECT run_id, condition, prompt_modality, answer, count(*) AS n,
       sum(CASE WHEN correct THEN 1 ELSE 0 END) AS correct,
       sum(CASE WHEN abstained THEN 1 ELSE 0 END) AS abstained,
       sum(CASE WHEN parse_status = 'unparsed' THEN 1 ELSE 0 END) AS unparsed,
       sum(CASE WHEN follows_video THEN 1 ELSE 0 END) AS follows_video,
       sum(CASE WHEN follows_audio THEN 1 ELSE 0 END) AS follows_audio
FROM predictions WHERE error IS NULL{runs}
GROUP BY run_id, condition, prompt_modality, answer
"""
ERRORS = """
SELECT run_id, condition, prompt_modality, count(*) AS n
FROM predictions WHERE error IS NOT NULL{runs}
GROUP BY run_id, condition, prompt_modality
"""


def _query(sql: str, run_ids: Optional[list[str]]):
    if run_ids is None:
        return text(sql.format(runs=""))
    return text(sql.format(runs=" AND run_id IN :runs")).bindparams(bindparam("runs", expanding=True))


def run_counts(con: Connection, run_ids: Optional[list[str]] = None) -> dict[str, dict[tuple[str, str], Counts]]:
    """run id -> (condition, prompted modality) -> Counts, for `run_ids` (default: every run)."""
    args = {} if run_ids is None else {"runs": list(run_ids)}
    out: dict[str, dict[tuple[str, str], Counts]] = {}
    if run_ids == []:
        return out
    for r in con.execute(_query(SCORED, run_ids), args):
        c = out.setdefault(r.run_id, {}).setdefault((r.condition, r.prompt_modality), Counts())
        n, correct = int(r.n), int(r.correct)
        c.n += n
        c.correct += correct
        c.abstained += int(r.abstained)
        c.unparsed += int(r.unparsed)
        c.follows_video += int(r.follows_video)
        c.follows_audio += int(r.follows_audio)
        c.per_class[r.answer] = (n, correct)
    for r in con.execute(_query(ERRORS, run_ids), args):
        out.setdefault(r.run_id, {}).setdefault((r.condition, r.prompt_modality), Counts()).errors += int(r.n)
    return out


def run_cells(con: Connection, run_ids: Optional[list[str]] = None, seed: int = 0) -> dict[str, list[Cell]]:
    """run id -> its cells (sorted by condition, modality), scored from the counts."""
    return {run: score_counts(cells, seed=seed) for run, cells in run_counts(con, run_ids).items()}
