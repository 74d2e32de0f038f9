"""Tag media with registered taggers, cached by content: (sha256, tagger, model, weights, version).

A pipeline per tagger: worker threads decode and preprocess files ahead of the model (PyAV, numpy and
onnxruntime/torch all release the GIL), the calling thread fills batches across clips (by model units:
frames or clips) and runs the model, and results are upserted batch by batch, so a killed run keeps what it
finished. A file that fails to decode is reported with its reason and the rest go on. A second run over the
same content performs zero model calls.
"""
from __future__ import annotations

import time
from contextlib import nullcontext
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional, Sequence

from sqlalchemy import select

from mmabench.builder.stages import make_progress
from mmabench.builder.taggers import taggers as registry
from mmabench.builder.taggers.base import Tagger
from mmabench.db.manifest import Manifest
from mmabench.db.models import TagRow
from mmabench.schema import ClipStatus


@dataclass
class TagReport:
    tagger: str
    planned: int
    tagged: int
    model_calls: int               # files that went through the model (0 on a cached re-run)
    seconds: float
    forward_seconds: float = 0.0   # time inside the model; seconds - forward_seconds = decode/I/O not hidden
    batches: int = 0
    failed: dict[str, str] = field(default_factory=dict)   # sha256 -> reason


def load_taggers(names: Sequence[str], options: Optional[dict[str, dict]] = None) -> list[Tagger]:
    """options: tagger name -> constructor kwargs; the key "*" applies to all (e.g. device, batch_size)."""
    common = (options or {}).get("*", {})
    out = []
    for n in names:
        cls = registry.get(n)
        kw = {**{k: v for k, v in common.items() if k in _params(cls)}, **(options or {}).get(n, {})}
        out.append(cls(**kw))
    return out


def _params(cls) -> set[str]:
    import inspect
    return set(inspect.signature(cls.__init__).parameters)


def cached_scores(m: Manifest, tagger: Tagger, shas: Sequence[str]) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with m.session() as s:
        for i in range(0, len(shas), 500):
            q = select(TagRow.sha256, TagRow.scores).where(
                TagRow.sha256.in_(list(shas[i:i + 500])), TagRow.tagger == tagger.name,
                TagRow.model_id == tagger.model_id, TagRow.weights_sha256 == tagger.weights_sha256,
                TagRow.version == tagger.version)
            out.update({sha: scores for sha, scores in s.execute(q)})
    return out


def tag_files(m: Manifest, tagger: Tagger, files: dict[str, Path], workers: int = 2, bar=None) -> TagReport:
    """files: sha256 -> path. Tags what is not cached; returns counts (model_calls == 0 on a re-run)."""
    t0 = time.perf_counter()
    have = cached_scores(m, tagger, list(files))
    todo = [(sha, p) for sha, p in files.items() if sha not in have]
    rep = TagReport(tagger.name, len(todo), 0, 0, 0.0)
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
            m.upsert(TagRow, [dict(sha256=sha, tagger=tagger.name, model_id=tagger.model_id,
                                   weights_sha256=tagger.weights_sha256, version=tagger.version,
                                   modality=tagger.modality, scores=s, seconds=round(dt / len(batch), 4))
                              for (sha, _), s in zip(batch, scores)])
            rep.model_calls += len(batch)
            rep.tagged += len(batch)
            progress.advance(task, len(batch))
            batch.clear()

        units = 0
        with ThreadPoolExecutor(max(1, workers), thread_name_prefix=f"decode-{tagger.name}") as pool:
            queue, it = deque(), iter(todo)
            for sha, path in it:                       # prefetch: a few batches' worth of files in flight
                queue.append((sha, path, pool.submit(tagger.prepare, path)))
                if len(queue) >= 4 * max(1, workers):
                    break
            while queue:
                sha, path, fut = queue.popleft()
                nxt = next(it, None)
                if nxt is not None:
                    queue.append((*nxt, pool.submit(tagger.prepare, nxt[1])))
                try:
                    x = fut.result()
                except Exception as e:                 # corrupt file: record, go on
                    rep.failed[sha] = f"{Path(path).name}: {type(e).__name__}: {e}"
                    progress.advance(task)
                    continue
                batch.append((sha, x))
                units += tagger.units(x)
                if units >= tagger.batch_size:
                    flush()
                    units = 0
            flush()
    rep.seconds = time.perf_counter() - t0
    return rep


def tag_clips(names: Sequence[str], *, home=None, db=None, workers: int = 2, progress: bool = True,
              console=None, options: Optional[dict[str, dict]] = None) -> list[TagReport]:
    with Manifest(db, home) as m:
        files = {c.sha256: m.media_root / c.path for c in m.clips(status=ClipStatus.ok)}
        with make_progress(progress, console) as bar:
            return [tag_files(m, t, files, workers, bar) for t in load_taggers(names, options)]
