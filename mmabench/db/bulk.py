"""Bulk prediction writes: rows go to a session-local staging table in one pass (PostgreSQL `COPY`, SQLite
executemany), then one INSERT … SELECT … ON CONFLICT moves them into `predictions`.

Same semantics as `upsert(..., update=all but the key and created_at)`: a (run, item) already there is
replaced, inside the caller's transaction (a kill loses the batch, never half of it).

Each row carries what it is scored against, as it carries `correct`: its item's cell (condition, prompted
modality, migration 0006) and answer, and whether the parsed answer names the video's / the audio's class (0007),
so the accuracy query and the report need no join. The writer gives them from the records it scored with
(eval/runner.py: the item, its variant's clip labels); `follows()` is the comparison. Copying them here from items,
variants and clips instead cost a hash of every item and a variant probe per row in each batch (a 20k-row batch
over a 200k-item manifest on PostgreSQL: 0.84 → 0.52 s for this function). Plain-SQL writers that leave them
NULL get them from the fill trigger (migrations 0006/0007). Measured by benchmarks/bench_query.py; what remains
is PostgreSQL's per-row foreign-key checks (which lock each item row) and index upkeep.
"""

from __future__ import annotations

import json
from operator import itemgetter
from typing import Any, Callable, Optional, Sequence

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from mmabench.db.models import PredictionRow

KEY = ("run_id", "item_id")
STAGE = "mmabench_predictions_in"
# given by the writer with the rest of the row (migrations 0006, 0007)
DERIVED = ("condition", "prompt_modality", "answer", "follows_video", "follows_audio")
# every column the writer gives; created_at comes from the table's default
COLUMNS = [c for c in PredictionRow.__table__.columns.keys() if c != "created_at"]
_LIST = ", ".join(COLUMNS)
_SENT = COLUMNS.index("sent")  # JSON, adapted per dialect
_UPDATE = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS if c not in KEY)
# `WHERE true`: SQLite would otherwise read ON CONFLICT as part of the FROM clause. No ORDER BY: the rows are
# staged in key order, so the primary key's b-tree is appended to, not sprayed, without a sort of wide rows
_MOVE = (
    "INSERT INTO predictions ({cols}) SELECT {cols} FROM {stage} WHERE true "
    "ON CONFLICT (run_id, item_id) DO UPDATE SET {update}"
)
_in_key_order = itemgetter(*KEY)


def follows(parsed: Optional[str], label: Optional[str]) -> bool:
    """Does the parsed answer name this clip's class? NULL-safe, as the fill trigger's SQL: None names None."""
    return parsed == label


def _values(row: dict[str, Any], encode_json: Callable[[Any], Any]) -> list[Any]:
    values = [row.get(c) for c in COLUMNS]
    values[_SENT] = encode_json(values[_SENT])
    return values


def _move(stage: str) -> str:
    return _MOVE.format(cols=_LIST, stage=stage, update=_UPDATE)


def write_predictions(session: Session, rows: Sequence[dict[str, Any]]) -> None:
    """Insert or replace `rows` (dicts with every predictions column but created_at, DERIVED included) in the
    session's open transaction."""
    if not rows:
        return
    missing = [c for c in DERIVED if c not in rows[0]]
    if missing:
        raise ValueError(f"prediction rows must carry what they are scored against; missing {', '.join(missing)}")
    rows = sorted(rows, key=_in_key_order)
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
                copy.write_row(_values(r, Jsonb))
    # through SQLAlchemy, so a refused row raises its IntegrityError as the plain upsert did
    conn.exec_driver_sql(_move(STAGE))
    conn.exec_driver_sql(f"DELETE FROM {STAGE}")  # a second batch in the same transaction must not see this one


def _sqlite(conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
    stage = f"temp.{STAGE}"
    conn.exec_driver_sql(f"CREATE TEMP TABLE IF NOT EXISTS {STAGE} AS SELECT {_LIST} FROM predictions WHERE 0")
    conn.exec_driver_sql(f"DELETE FROM {stage}")
    conn.exec_driver_sql(
        f"INSERT INTO {stage} ({_LIST}) VALUES ({', '.join('?' for _ in COLUMNS)})",
        [tuple(_values(r, json.dumps)) for r in rows],
    )
    conn.exec_driver_sql(_move(stage))
    conn.exec_driver_sql(f"DELETE FROM {stage}")
