"""Model replicas: data-parallel tagging on CPU models (`decode="replicas"`).

k spawned processes each load the tagger (cores // k model threads) and both decode and run the model on
their own chunks of files; the calling process only hands out (sha256, path) chunks and commits the rows
with `commit_tags`. Why: a small CPU model does not keep two cores busy with its own threads (YAMNet's ops on
96x64 patches: onnxruntime with 2 intra-op threads used 1.0 cores), and decode threads in the model's
process fight it for the GIL, so the one-model pipeline left cores idle (measured on the quiet 2-core
machine: YAMNet end to end 31 clips/s at 1.25 cores busy; 2 replicas 59-67 clips/s). Each replica runs
decode and model back to back on its core, so nothing waits on a hand-over between threads.

The pools are kept per (tagger, options, k) for the life of the process: a second `tag_files` call (the
next tagger run, a warm benchmark round) reuses the loaded models instead of paying the start-up again.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import time
from collections import deque
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Any, Callable, Optional

from mmabench.taggers.base import Tagger, set_threads
from mmabench.tagging.batches import Row, score_in_batches

_TAGGER: Optional[Tagger] = None
_POOLS: dict[tuple, ProcessPoolExecutor] = {}


def can_replicate(tagger: Tagger) -> bool:
    """Replicas need the tagger's recipe (`spec`, set by load_taggers) and a model on the CPU: a GPU model is
    one per device, fed by decode workers instead."""
    return tagger.spec is not None and tagger.device == "cpu" and not getattr(tagger.prep, "in_process", False)


def replica_count(workers: int) -> int:
    return max(1, min(workers, os.cpu_count() or 1))


def _load(name: str, options: dict, k: int) -> None:
    """Replica initializer: what load_taggers does (threads first: cores // k, then the model), without
    importing the runner and its database stack (a second of start-up per replica)."""
    global _TAGGER
    from mmabench.taggers import taggers as registry

    set_threads(max(1, (os.cpu_count() or 1) // k))
    _TAGGER = registry.get(name)(**options)
    _TAGGER.spec = (name, options)


def _ready(_=None) -> int:
    time.sleep(0.05)  # busy workers make the pool start the next one
    return os.getpid()


def pool_for(tagger: Tagger, k: int) -> ProcessPoolExecutor:
    """The tagger's k replicas, started and loaded once per process (spawned: never fork a process that holds
    onnxruntime or torch state; one BLAS thread each, as the decode process pool)."""
    from mmabench.tagging.runner import ONE_THREAD

    assert tagger.spec is not None
    name, options = tagger.spec
    key = _key(tagger, k)
    pool = _POOLS.get(key)
    if pool is None:
        saved = {v: os.environ.get(v) for v in ONE_THREAD}
        os.environ.update(ONE_THREAD)
        try:
            ctx = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(k, mp_context=ctx, initializer=_load, initargs=(name, options, k))
            list(pool.map(_ready, range(2 * k)))  # every replica started and its model loaded
        finally:
            for v, old in saved.items():
                os.environ.pop(v, None) if old is None else os.environ.__setitem__(v, old)
        _POOLS[key] = pool
    return pool


def running(tagger: Tagger, k: int) -> bool:
    return tagger.spec is not None and _key(tagger, k) in _POOLS


def _key(tagger: Tagger, k: int) -> tuple:
    assert tagger.spec is not None
    name, options = tagger.spec
    return (name, repr(sorted(options.items())), k)


def pids() -> list[int]:
    """The running replicas' process ids (a benchmark reads their CPU time)."""
    return [pid for pool in _POOLS.values() for pid in getattr(pool, "_processes", None) or {}]


def close_pools() -> None:
    while _POOLS:
        _POOLS.popitem()[1].shutdown()


def tag_chunk(files: list[tuple[str, str]]) -> dict[str, Any]:
    """In a replica: decode each file, run the model on batches filled by units, one row per file in order."""
    t = _TAGGER
    assert t is not None, "tag_chunk runs in a replica"
    rows, batches = score_in_batches(t, ((sha, path, functools.partial(t.prepare, path)) for sha, path in files))
    return {"rows": rows, "batches": batches}


def chunk_size(tagger: Tagger, n: int, k: int) -> int:
    """Files per call: a model batch at most (visual taggers: batch_size // frames files), and small enough
    that every replica gets about four calls, so the last calls end together."""
    per_file = getattr(tagger.prep, "n", 1) if tagger.modality == "visual" else 1
    return max(1, min(max(1, tagger.batch_size // per_file), -(-n // (4 * k))))


def run_replicas(
    tagger: Tagger, todo: list[tuple[str, Path]], k: int, on_rows: Callable[[list[Row], int], None]
) -> None:
    """Tag `todo` on k replicas; `on_rows(rows, batches)` gets each chunk's rows in submission order (the
    caller commits them), with a bounded number of chunks in flight."""
    pool = pool_for(tagger, k)
    size = chunk_size(tagger, len(todo), k)
    chunks = iter([[(sha, str(p)) for sha, p in todo[i : i + size]] for i in range(0, len(todo), size)])
    try:
        queue: deque = deque(pool.submit(tag_chunk, c) for _, c in zip(range(4 * k), chunks))
        while queue:
            res = queue.popleft().result()
            nxt = next(chunks, None)
            if nxt is not None:
                queue.append(pool.submit(tag_chunk, nxt))
            on_rows(res["rows"], res["batches"])
    except BrokenProcessPool:  # a replica died (killed, out of memory): the next run starts fresh ones
        _POOLS.pop(_key(tagger, k), None)
        raise
