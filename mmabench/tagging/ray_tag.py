"""Tagging on Ray: per tagger, a pool of actors that each load the model once and tag chunks of files.

Each actor decodes *and* runs the model: it gets (sha256, path) chunks, prepares the files in its own decode
pool (threads, or spawned processes on a big node: tagging/runner.py `_executor`), fills batches across the
chunk's files by model units as the local path does, and returns scores. Why not CPU tasks for `prep` and
actors for `forward`: a prepared clip is 8 x 224 x 224 x 3 frames (1.2 MB) or seconds of float audio, which
would be serialised into the object store and, across nodes, sent over the network, for a decode that
costs less than the copy; inside the actor it is handed over in memory. Scale decode with `workers` per
actor (and `cpus_per_actor` to reserve them) and the model with `actors`. Two calls run in an actor at once
(one decodes while the other is in the model; the model itself is used under a lock).

Only ids, paths and scores travel. The driver commits rows in batches with the local path's `commit_tags`
(upserts on the tag identity), so a call re-sent after an actor died cannot duplicate a row.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from mmabench.cluster import ActorPool, chunks, init
from mmabench.db.manifest import Manifest
from mmabench.logs import get_logger, make_progress
from mmabench.media.store import MediaStore
from mmabench.taggers.base import Tagger
from mmabench.tagging.batches import score_in_batches
from mmabench.tagging.runner import TagReport, _executor, _local, cached_scores, commit_tags, load_taggers

log = get_logger(__name__)
COMMIT_ROWS, COMMIT_SECONDS = 64, 1.0


@dataclass
class RayTagOptions:
    address: Optional[str] = None  # None: RAY_ADDRESS, else a local Ray (or the session already open)
    actors: int = 1  # model copies per tagger
    gpus_per_actor: float = 0.0  # 0 on CPU; 1 (or 0.5 to share a GPU) on GPU nodes
    cpus_per_actor: float = 1.0
    workers: int = 2  # decode threads (or processes) inside each actor
    decode: str = "thread"  # thread, process or auto (auto looks at the node's cores)
    chunk: int = 0  # files per call; 0: enough for a few calls per actor, at most 64


class RemoteTagger(Tagger):
    """A tagger's identity (what keys the tags cache) without its model: the model lives in the actors."""

    def __init__(self, name: str, model_id: str, weights_sha256: str, version: int, modality: str, batch_size: int):
        self.name, self.model_id, self.weights_sha256 = name, model_id, weights_sha256
        self.version, self.modality, self.batch_size = version, modality, batch_size


class TagActor:
    def __init__(self, name: str, options: Optional[dict], workers: int, decode: str):
        self.tagger = load_taggers([name], options)[0]
        self.pool, prep = _executor(self.tagger, max(1, workers), decode, 1 << 30)
        self.prep: Callable[[str], Any] = prep  # type: ignore[assignment]  # _executor returns it as object
        self.lock = threading.Lock()

    def identity(self) -> dict[str, Any]:
        t = self.tagger
        return dict(
            name=t.name,
            model_id=t.model_id,
            weights_sha256=t.weights_sha256,
            version=t.version,
            modality=t.modality,
            batch_size=t.batch_size,
            pid=os.getpid(),
        )

    def tag(self, files: list[tuple[str, str]]) -> dict[str, Any]:
        """(sha256, path) -> rows (sha256, scores or None, seconds in the model, error or None), in order."""
        futures = [(sha, path, self.pool.submit(self.prep, path)) for sha, path in files]
        rows, batches = score_in_batches(self.tagger, ((sha, path, f.result) for sha, path, f in futures), self.lock)
        return {"rows": rows, "batches": batches, "pid": os.getpid()}


def tag_files_ray(
    m: Manifest,
    name: str,
    options: Optional[dict],
    files: dict[str, Path],
    opts: RayTagOptions,
    bar=None,
    store: Optional[MediaStore] = None,
) -> tuple[Tagger, TagReport]:
    """Tag `files` (sha256 -> path, or -> store key with `store`) with tagger `name` on a Ray actor pool; returns
    the tagger's identity (for `cached_scores`) and the same report as `tag_files` (model_calls == 0 on a re-run).
    Keys are resolved to files by the driver: the actors need the store on a path every node sees (a folder
    or NFS); a remote store's cache copies are the driver's."""
    t0 = time.perf_counter()
    init(opts.address)
    pool = ActorPool(
        TagActor,
        (name, options, opts.workers, opts.decode),
        actors=opts.actors,
        num_gpus=opts.gpus_per_actor,
        num_cpus=opts.cpus_per_actor,
        max_concurrency=2,
        in_flight=2,
        name=f"mmabench-tag-{name}-{uuid.uuid4().hex[:6]}",
    )
    try:
        ids = pool.call_all("identity")  # waits for every model to load: start-up, not tagging time
        keys = {tuple(v for k, v in i.items() if k != "pid") for i in ids}
        if len(keys) > 1:
            raise RuntimeError(f"tagger {name}: the actors loaded different models ({len(keys)} identities)")
        tagger = RemoteTagger(**{k: v for k, v in ids[0].items() if k != "pid"})
        have = cached_scores(m, tagger, list(files))
        todo = [(sha, str(p)) for sha, p in files.items() if sha not in have]
        rep = TagReport(name, len(todo), 0, 0, 0.0, startup_seconds=time.perf_counter() - t0)
        if store is not None:
            todo = [(sha, str(p)) for sha, p in _local(store, todo, rep)]
        size = opts.chunk or max(1, min(64, -(-len(todo) // (4 * len(pool.actors)))))
        pids: set[int] = set()
        with make_progress(False) if bar is None else nullcontext(bar) as progress:
            task = progress.add_task(f"tag {name} (ray)", total=len(todo))
            pending: list[tuple[str, dict, float]] = []
            last = time.monotonic()
            for res in pool.map_unordered("tag", chunks(todo, size)):
                pids.add(res["pid"])
                rep.batches += res["batches"]
                for sha, scores, dt, error in res["rows"]:
                    if error is not None:
                        rep.failed[sha] = error
                        log.warning("tag %s: skipped %s", name, error, extra={"tagger": name})
                    else:
                        pending.append((sha, scores, dt))
                        rep.forward_seconds += dt
                if len(pending) >= COMMIT_ROWS or time.monotonic() - last > COMMIT_SECONDS:
                    commit_tags(m, tagger, pending)
                    rep.model_calls += len(pending)
                    pending, last = [], time.monotonic()
                progress.advance(task, len(res["rows"]))
            if pending:
                commit_tags(m, tagger, pending)
                rep.model_calls += len(pending)
    finally:
        pool.close()
    rep.tagged = rep.model_calls
    rep.seconds = time.perf_counter() - t0
    log.info(
        "tag %s on ray: %d files, %d model calls, %d failed in %.2f s (%d actors, %d actor processes seen)",
        name,
        len(files),
        rep.model_calls,
        len(rep.failed),
        rep.seconds,
        len(pool.actors),
        len(pids),
        extra={"tagger": name, "seconds": round(rep.seconds, 3), "actor_pids": len(pids)},
    )
    return tagger, rep
