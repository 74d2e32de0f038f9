"""The model side of tagging one chunk of files, shared by the Ray actors (ray_tag.py) and the model replicas
(replicas.py): inputs taken in order, batches filled by the tagger's units, one row per file."""

from __future__ import annotations

import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any, Callable, ContextManager, Iterable, Optional

from mmabench.taggers.base import Tagger

Row = tuple[str, Optional[dict], float, Optional[str]]  # sha256, scores (None: failed), s in the model, error


def score_in_batches(
    t: Tagger, inputs: Iterable[tuple[str, str, Callable[[], Any]]], lock: Optional[ContextManager] = None
) -> tuple[list[Row], int]:
    """inputs: (sha256, path, a call giving the prepared input) in order -> (rows in that order, batches run).
    A file whose input cannot be had (a corrupt file) is a row with its error, reported as the local path does;
    the rest go on. `lock`: held around each forward (an actor whose threads share one model)."""
    rows: list[Row] = []
    batch: list[tuple[str, Any]] = []
    units = batches = 0
    guard = lock if lock is not None else nullcontext()

    def flush() -> None:
        nonlocal batches
        if batch:
            with guard:
                t0 = time.perf_counter()
                scores = t.forward([x for _, x in batch])
                dt = (time.perf_counter() - t0) / len(batch)
            rows.extend((sha, s, dt, None) for (sha, _), s in zip(batch, scores))
            batches += 1
            batch.clear()

    for sha, path, get in inputs:
        try:
            x = get()
        except Exception as e:
            rows.append((sha, None, 0.0, f"{Path(path).name}: {type(e).__name__}: {e}"))
            continue
        batch.append((sha, x))
        units += t.units(x)
        if units >= t.batch_size:
            flush()
            units = 0
    flush()
    return rows, batches
