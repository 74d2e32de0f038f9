"""Bulk prediction writes: rows go to a session-local staging table in one pass (PostgreSQL `COPY`, SQLite
executemany), then one INSERT … SELECT … ON CONFLICT moves them into `predictions`.

Same semantics as `upsert(..., update=all but the key and created_at)`: a (run, item) already there is
replaced, inside the caller's transaction (a kill loses the batch, never half of it). The INSERT also copies
each item's condition and prompted modality onto the row (migration 0006), and what it is scored against: the
item's answer and whether the parsed answer names the video's / the audio's class (0007), so the accuracy query
and the report need no join. Measured by benchmarks/bench_query.py against the executemany upsert this replaces
(1.4-2.4x on a loaded machine); what remains is PostgreSQL's per-row foreign-key checks and index upkeep.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from mmabench.db.models import PredictionRow

KEY = ("run_id", "item_id")
STAGE = "mmabench_predictions_in"
# copied from the item, its variant and clips by the INSERT below (migrations 0006, 0007), never by the writer
DERIVED = ("condition", "prompt_modality", "answer", "follows_video", "follows_audio")
# every column the writer gives; created_at comes from the table's default
COLUMNS = [c for c in PredictionRow.__table__.columns.keys() if c not in ("created_at", *DERIVED)]
_LIST = ", ".join(COLUMNS)
# the flags follow `parsed`, which a re-run replaces; the cell and the answer never change for a (run, item)
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in [*COLUMNS, *DERIVED[2:]] if c not in KEY)


def _same(a: str, b: str) -> str:
    """NULL-safe equality in both dialects, as Python's `==` the report used to apply to the rows."""
    return f"COALESCE({a} = {b}, {a} IS NULL AND {b} IS NULL)"


# LEFT JOIN: a row whose item does not exist still reaches the table, and its foreign key refuses it;
# `WHERE true`: SQLite would otherwise read ON CONFLICT as part of the join
_MOVE = (
    "INSERT INTO predictions ({cols}, " + ", ".join(DERIVED) + ") "
    "SELECT {tcols}, v.condition, i.prompt_modality, i.answer, "
    + f"{_same('t.parsed', 'vc.label')}, {_same('t.parsed', 'ac.label')} "
    + "FROM {stage} t LEFT JOIN items i ON i.id = t.item_id LEFT JOIN variants v ON v.id = i.variant_id "
    "LEFT JOIN clips vc ON vc.id = v.video_clip_id LEFT JOIN clips ac ON ac.id = v.audio_clip_id WHERE true "
    "ORDER BY t.run_id, t.item_id "  # in key order: the primary key's b-tree is appended to, not sprayed
    "ON CONFLICT (run_id, item_id) DO UPDATE SET {update}"
)


def _move(stage: str) -> str:
    return _MOVE.format(cols=_LIST, tcols=", ".join(f"t.{c}" for c in COLUMNS), stage=stage, update=_UPDATE)


def write_predictions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace `rows` (dicts with the predictions columns) in the session's open transaction."""
    if not rows:
        return
    conn = session.connection()
    dialect = conn.dialect.name
    if dialect == "postgresql":
        _postgres(conn, rows)
    elif dialect == "sqlite":
        _sqlite(conn, rows)
    else:
        raise NotImplementedError(f"bulk writes for {dialect!r} are not implemented (use SQLite or PostgreSQL)")


def _postgres(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    from psycopg.types.json import Jsonb

    # one staging table per connection, emptied by every commit (ON COMMIT DELETE ROWS) and by a rollback;
    # looked up rather than CREATE … IF NOT EXISTS, which sends a notice every batch
    if conn.exec_driver_sql(f"SELECT to_regclass('pg_temp.{STAGE}')").scalar() is None:
        conn.exec_driver_sql(f"CREATE TEMP TABLE {STAGE} (LIKE predictions INCLUDING DEFAULTS) ON COMMIT DELETE ROWS")
    with conn.connection.driver_connection.cursor() as cur:  # type: ignore[union-attr]
        with cur.copy(f"COPY {STAGE} ({_LIST}) FROM STDIN") as copy:
            for r in rows:
                copy.write_row([Jsonb(r.get("sent")) if c == "sent" else r.get(c) for c in COLUMNS])
    # through SQLAlchemy, so a refused row raises its IntegrityError as the plain upsert did
    conn.exec_driver_sql(_move(STAGE))
    conn.exec_driver_sql(f"DELETE FROM {STAGE}")  # a second batch in the same transaction must not see this one


def _sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    stage = f"temp.{STAGE}"
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} AS SELECT {_LIST} FROM predictions WHERE 0")
    conn.exec_driver_sql(f"DELETE FROM {stage}")
    conn.exec_driver_sql(
        f"INSERT INTO {stage} ({_LIST}) VALUES ({', '.join('?' for _ in COLUMNS)})",
        [tuple(json.dumps(r.get("sent")) if c == "sent" else r.get(c) for c in COLUMNS) for r in rows],
    )
    conn.exec_driver_sql(_move(stage))
    conn.exec_driver_sql(f"DELETE FROM {stage}")
