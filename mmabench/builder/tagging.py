"""Tag media with registered taggers, cached by content: (sha256, tagger, model, weights, version).

One model instance per tagger per process; files are decoded in worker threads while the model runs
(onnxruntime releases the GIL), and a second run over the same content performs zero model calls.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from sqlalchemy import select

from mmabench.builder.stages import LocalExecutor, Stage, make_progress, run_stage
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
    model_calls: int
    seconds: float


def load_taggers(names: Sequence[str], options: Optional[dict[str, dict]] = None) -> list[Tagger]:
    """options: tagger name -> constructor kwargs (e.g. {"clip": {"pretrained": "/path/model.bin"}})."""
    return [registry.get(n)(**(options or {}).get(n, {})) for n in names]


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
    calls = 0

    def run(unit):
        nonlocal calls
        sha, path = unit
        t = time.perf_counter()
        scores = tagger.tag(path)
        calls += 1
        return dict(sha256=sha, tagger=tagger.name, model_id=tagger.model_id, weights_sha256=tagger.weights_sha256,
                    version=tagger.version, modality=tagger.modality, scores=scores,
                    seconds=round(time.perf_counter() - t, 4))

    stage = Stage(f"tag {tagger.name}", lambda: todo, run, lambda rows: m.upsert(TagRow, rows))
    if bar is None:
        with make_progress(False) as quiet:
            rep = run_stage(stage, LocalExecutor(workers), quiet)
    else:
        rep = run_stage(stage, LocalExecutor(workers), bar)
    return TagReport(tagger.name, len(todo), rep.done, calls, time.perf_counter() - t0)


def tag_clips(names: Sequence[str], *, home=None, db=None, workers: int = 2, progress: bool = True,
              console=None, options: Optional[dict[str, dict]] = None) -> list[TagReport]:
    with Manifest(db, home) as m:
        files = {c.sha256: m.media_root / c.path for c in m.clips(status=ClipStatus.ok)}
        with make_progress(progress, console) as bar:
            return [tag_files(m, t, files, workers, bar) for t in load_taggers(names, options)]
