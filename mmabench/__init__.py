"""mmabench: build, serve and use modality-conflict benchmarks for audio-visual MLLMs.

Python API first; the `mmabench` CLI is a thin layer over it::

    from mmabench import build, Manifest, evaluate
    report = build(split="conflict")                 # embedded demo corpus, ./mmabench_data
    items = list(Manifest().items(split="conflict"))
    run = evaluate("random", split="conflict")       # any registered model adapter
"""

from __future__ import annotations

import importlib

from mmabench.version import __version__

# name -> "module:attr"; imported on first use, so `import mmabench` (and `mmabench --help`) stay fast
_API = {
    "build": "mmabench.pipeline.build:build",
    "ingest": "mmabench.pipeline.build:ingest",
    "verify": "mmabench.pipeline.verify:verify",
    "BuildConfig": "mmabench.config:BuildConfig",
    "Manifest": "mmabench.db.manifest:Manifest",
    "tag_clips": "mmabench.tagging.runner:tag_clips",
    "run_filter": "mmabench.tagging.filter:run_filter",
    "evaluate": "mmabench.eval.runner:evaluate",
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name not in _API:
        raise AttributeError(f"module 'mmabench' has no attribute {name!r}")
    module, _, attr = _API[name].partition(":")
    return getattr(importlib.import_module(module), attr)
