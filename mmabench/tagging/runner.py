"""Tag media with registered taggers, cached by content: (sha256, tagger, model, weights, version).

A pipeline per tagger: workers decode and preprocess files ahead of the model, the calling thread fills
batches across clips (by model units: frames or clips) and runs the model, and results are upserted batch
by batch, so a killed run keeps what it finished. A file that fails to decode is reported with its reason
and the rest go on. A second run over the same content performs zero model calls.

Workers are threads on small machines and processes on big ones (`decode="auto"`): measured on a 16-core
GPU host, 8 decode threads starved the model thread of the GIL (YAMNet end to end at 9% of its forward
speed) while on 2 cores processes gained nothing over threads. A CPU model that cannot use the cores with
its own threads (YAMNet: `Tagger.replicate`) is instead run as data-parallel replicas, each decoding
for itself (`decode="replicas"`, tagging/replicas.py; auto once a corpus pays for starting them).
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import time
from collections import deque
from concurrent.futures import Executor, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from sqlalchemy import select

from mmabench.db.manifest import Manifest
from mmabench.db.models import TagRow
from mmabench.logs import get_logger, make_progress
from mmabench.media.store import MediaStore, store_for
from mmabench.schema import ClipStatus
from mmabench.taggers import taggers as registry
from mmabench.taggers.base import Tagger, set_threads

log = get_logger(__name__)


@dataclass
class TagReport:
    tagger: str
    planned: int
    tagged: int
    model_calls: int  # files that went through the model (0 on a cached re-run)
    seconds: float
    forward_seconds: float = 0.0  # time inside the model (summed over replicas); seconds - it = decode/I/O not hidden
    startup_seconds: float = 0.0  # until the first file was decoded (worker start-up, model warm-up)
    batches: int = 0
    failed: dict[str, str] = field(default_factory=dict)  # sha256 -> reason


def load_taggers(
    names: Sequence[str], options: Optional[dict[str, dict]] = None, workers: int = 2, model_workers: int = 1
) -> list[Tagger]:
    """options: tagger name -> constructor kwargs; the key "*" applies to all (e.g. device, batch_size).

    The process's model threads are set once, before any model loads: cores // model_workers, at least 1.
    model_workers: processes on this machine running models at once (1 here; an actor pool passes its size),
    so several model processes never oversubscribe the cores. The decode workers run one thread each and
    fill the gaps between the model's ops, since onnxruntime's threads sleep rather than spin there
    (`ort_session`). workers: kept for callers; decode no longer takes cores from the model. Measured on the
    quiet 2-core machine with 2 decode workers (`bench_tag.py --quick`): EfficientNet-Lite0 end to end 92
    frames/s with 2 model threads against 63 with one, YAMNet 32.5 clips/s against 25.3; under a load of
    12-20 one thread had been better, so the figure depends on the machine being shared.
    """
    cores = os.cpu_count() or 1
    set_threads(max(1, cores // max(1, model_workers)))
    common = (options or {}).get("*", {})
    out = []
    for n in names:
        cls = registry.get(n)
        kw = {**{k: v for k, v in common.items() if k in _params(cls)}, **(options or {}).get(n, {})}
        t = cls(**kw)
        t.spec = (n, kw)  # how a replica process loads the same model (tagging/replicas.py)
        out.append(t)
    return out


def _params(cls) -> set[str]:
    import inspect

    return set(inspect.signature(cls.__init__).parameters)


def cached_scores(m: Manifest, tagger: Tagger, shas: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with m.session() as s:
        for i in range(0, len(shas), 500):
            q = select(TagRow.sha256, TagRow.scores).where(
                TagRow.sha256.in_(list(shas[i : i + 500])),
                TagRow.tagger == tagger.name,
                TagRow.model_id == tagger.model_id,
                TagRow.weights_sha256 == tagger.weights_sha256,
                TagRow.version == tagger.version,
            )
            out.update({sha: scores for sha, scores in s.execute(q)})
    return out


def commit_tags(m: Manifest, tagger: Tagger, rows: Sequence[tuple[str, dict[str, float], float]]) -> None:
    """Upsert (sha256, scores, seconds in the model) rows under the tagger's identity: the one write of tags,
    whoever computed them (this process or a Ray actor)."""
    m.upsert(
        TagRow,
        [
            dict(
                sha256=sha,
                tagger=tagger.name,
                model_id=tagger.model_id,
                weights_sha256=tagger.weights_sha256,
                version=tagger.version,
                modality=tagger.modality,
                scores=s,
                seconds=round(dt, 4),
            )
            for sha, s, dt in rows
        ],
    )


_PREP = None


ONE_THREAD = {v: "1" for v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _install(blob: bytes) -> None:
    """Process-pool initializer: the preprocessor, sent once per worker; one compute thread per worker."""
    global _PREP
    _PREP = pickle.loads(blob)
    set_threads(1)  # after unpickling, which may import torch


def _ready(_=None) -> int:
    time.sleep(0.05)  # busy workers make the pool start the next one
    return os.getpid()


def _process_pool(prep, workers: int) -> ProcessPoolExecutor:
    """Spawned workers with one BLAS thread each: the workers are the parallelism (measured on 16 cores:
    14 workers with a BLAS pool each tagged 40 clips/s for YAMNet's front end). BLAS reads its thread count
    when numpy is imported, which in a spawned child happens before any initializer runs, so the limit is
    put in the environment the children inherit, while they start."""
    ctx = multiprocessing.get_context("spawn")  # never fork a process holding CUDA / onnxruntime state
    saved = {k: os.environ.get(k) for k in ONE_THREAD}
    os.environ.update(ONE_THREAD)
    try:
        pool = ProcessPoolExecutor(workers, mp_context=ctx, initializer=_install, initargs=(pickle.dumps(prep),))
        list(pool.map(_ready, range(workers * 2)))  # start every worker now, under the limit
    finally:
        for k, v in saved.items():
            os.environ.pop(k, None) if v is None else os.environ.__setitem__(k, v)
    return pool


def _run_prep(path):
    return _PREP(path)


def _executor(tagger: Tagger, workers: int, decode: str, n: int) -> tuple[Executor, object]:
    """(executor, callable to submit): processes where there are cores to spare and enough files to pay
    for starting them; threads otherwise ("replicas" here, inside a Ray actor that is itself one: threads)."""
    if getattr(tagger.prep, "in_process", False):  # GPU decoding (NVDEC): threads that share the CUDA context
        decode = "thread"
    elif decode == "auto":
        decode = "process" if (os.cpu_count() or 1) > 4 and workers > 2 and n >= 8 * workers else "thread"
    if decode == "process":
        return _process_pool(tagger.prep, workers), _run_prep
    if decode not in ("thread", "replicas"):
        raise ValueError(f"decode must be auto, thread, process or replicas, not {decode!r}")
    return ThreadPoolExecutor(workers, thread_name_prefix=f"decode-{tagger.name}"), tagger.prep


REPLICA_MIN_FILES = 64  # auto starts replicas for this many files (start-up ~1-2 s); running ones are reused


def decode_mode(tagger: Tagger, workers: int, decode: str, n: int) -> str:
    """ "replicas" (tagging/replicas.py), "thread" or "process" (decode workers feeding one model). auto: replicas for taggers
    that gain from them (`Tagger.replicate`) on a CPU model with cores and workers to spare, when they are
    already running or `n` files pay for starting them; an explicit "replicas" on a GPU model or a tagger
    without a recipe falls back to decode threads."""
    from mmabench.tagging import replicas

    if decode not in ("auto", "thread", "process", "replicas"):
        raise ValueError(f"decode must be auto, thread, process or replicas, not {decode!r}")
    k = replicas.replica_count(workers)
    ok = replicas.can_replicate(tagger) and k > 1
    if decode == "replicas":
        return "replicas" if ok else "thread"
    if decode == "auto" and ok and tagger.replicate and (n >= REPLICA_MIN_FILES or replicas.running(tagger, k)):
        return "replicas"
    if getattr(tagger.prep, "in_process", False):
        return "thread"
    if decode == "auto":
        return "process" if (os.cpu_count() or 1) > 4 and workers > 2 and n >= 8 * workers else "thread"
    return decode


def start_models(tagger: Tagger, workers: int = 2, decode: str = "auto") -> int:
    """Start the tagger's replicas now if `tag_files` would use them on a large corpus (model start-up apart
    from tagging time); returns how many run (0: none)."""
    from mmabench.tagging import replicas

    if decode_mode(tagger, workers, decode, REPLICA_MIN_FILES) != "replicas":
        return 0
    k = replicas.replica_count(workers)
    replicas.pool_for(tagger, k)
    return k


def tag_files(
    m: Manifest,
    tagger: Tagger,
    files: dict[str, Path],
    workers: int = 2,
    bar=None,
    decode: str = "auto",
    store: Optional[MediaStore] = None,
) -> TagReport:
    """files: sha256 -> path, or -> store key with `store` (resolved to a local file only when not cached).
    Tags what is not cached; returns counts (model_calls == 0 on a re-run).
    decode: "thread", "process" or "auto" (see the module docstring)."""
    t0 = time.perf_counter()
    have = cached_scores(m, tagger, list(files))
    todo = [(sha, p) for sha, p in files.items() if sha not in have]
    rep = TagReport(tagger.name, len(todo), 0, 0, 0.0)
    if store is not None:
        todo = _local(store, todo, rep)
    with make_progress(False) if bar is None else nullcontext(bar) as progress:
        task = progress.add_task(f"tag {tagger.name}", total=len(todo))
        batch: list = []

        def flush():
            if not batch:
                return
            t = time.perf_counter()
            scores = tagger.forward([x for _, x in batch])
            dt = time.perf_counter() - t
            rep.forward_seconds += dt
            rep.batches += 1
            commit_tags(m, tagger, [(sha, s, dt / len(batch)) for (sha, _), s in zip(batch, scores)])
            rep.model_calls += len(batch)
            rep.tagged += len(batch)
            progress.advance(task, len(batch))
            batch.clear()

        units = 0
        mode = decode_mode(tagger, max(1, workers), decode, len(todo))
        if mode == "replicas":
            _on_replicas(m, tagger, todo, max(1, workers), rep, progress, task, t0)
            todo = []
        pool, prep = _executor(tagger, max(1, workers), mode, len(todo))
        with pool:
            queue, it = deque(), iter(todo)
            for sha, path in it:  # prefetch: a few batches' worth of files in flight
                queue.append((sha, path, pool.submit(prep, str(path))))
                if len(queue) >= max(4 * workers, 64):
                    break
            while queue:
                sha, path, fut = queue.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    queue.append((*nxt, pool.submit(prep, str(nxt[1]))))
                try:
                    x = fut.result()
                    rep.startup_seconds = rep.startup_seconds or time.perf_counter() - t0
                except Exception as e:  # corrupt file: record, go on
                    rep.failed[sha] = f"{Path(path).name}: {type(e).__name__}: {e}"
                    log.warning("tag %s: skipped %s", tagger.name, rep.failed[sha], extra={"tagger": tagger.name})
                    progress.advance(task)
                    continue
                batch.append((sha, x))
                units += tagger.units(x)
                if units >= tagger.batch_size:
                    flush()
                    units = 0
            flush()
    rep.seconds = time.perf_counter() - t0
    log.info(
        "tag %s: %d files, %d model calls, %d failed in %.2f s",
        tagger.name,
        len(files),
        rep.model_calls,
        len(rep.failed),
        rep.seconds,
        extra={"tagger": tagger.name, "seconds": round(rep.seconds, 3)},
    )
    return rep


def _on_replicas(m: Manifest, tagger: Tagger, todo: list, workers: int, rep: TagReport, progress, task, t0) -> None:
    """tag_files on model replicas: each chunk's rows committed as they come back, failures reported."""
    from mmabench.tagging import replicas

    def on_rows(rows: list, batches: int) -> None:
        ok = [(sha, s, dt) for sha, s, dt, err in rows if err is None]
        for sha, _, _, err in rows:
            if err is not None:
                rep.failed[sha] = err
                log.warning("tag %s: skipped %s", tagger.name, err, extra={"tagger": tagger.name})
        if ok:
            commit_tags(m, tagger, ok)
        rep.startup_seconds = rep.startup_seconds or time.perf_counter() - t0
        rep.model_calls += len(ok)
        rep.tagged += len(ok)
        rep.forward_seconds += sum(dt for _, _, dt in ok)  # summed over the replicas
        rep.batches += batches
        progress.advance(task, len(rows))

    replicas.run_replicas(tagger, todo, replicas.replica_count(workers), on_rows)


def _local(store: MediaStore, todo: list, rep: TagReport) -> list[tuple[str, Path]]:
    """Store keys -> local files (a remote store's verified cache copies); one that cannot be fetched fails."""
    out = []
    for sha, key in todo:
        try:
            out.append((sha, store.local_path(str(key), sha)))
        except Exception as e:
            rep.failed[sha] = f"{Path(key).name}: {type(e).__name__}: {e}"
    return out


def tag_clips(
    names: Sequence[str],
    *,
    home=None,
    db=None,
    workers: int = 2,
    progress: bool = True,
    console=None,
    options: Optional[dict[str, dict]] = None,
    decode: str = "auto",
    media_url: Optional[str] = None,
    ray=None,
) -> list[TagReport]:
    """ray: a RayTagOptions (tagging/ray_tag.py) to tag on a Ray actor pool instead of in this process."""
    store = store_for(media_url, home)
    with Manifest(db, home) as m:
        files = {c.sha256: Path(c.path) for c in m.clips(status=ClipStatus.ok) if c.sha256 and c.path}
        with make_progress(progress, console) as bar:
            if ray is not None:
                from mmabench.tagging.ray_tag import tag_files_ray

                return [tag_files_ray(m, n, options, files, ray, bar, store)[1] for n in names]
            try:
                return [
                    tag_files(m, t, files, workers, bar, decode, store) for t in load_taggers(names, options, workers)
                ]
            finally:
                from mmabench.tagging.replicas import close_pools

                close_pools()  # the run is over: no model processes left idle behind it
