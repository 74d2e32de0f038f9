"""mmabench: build, serve and use modality-conflict benchmarks for audio-visual MLLMs.

Python API first; the `mmabench` CLI is a thin layer over it::

    from mmabench import build, Manifest
    report = build(split="conflict")                 # embedded demo corpus, ./mmabench_data
    items = list(Manifest().items(split="conflict"))
"""
from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__", "build", "Manifest", "BuildConfig"]


def __getattr__(name: str):  # lazy: keep `import mmabench` (and `mmabench --help`) fast
    if name == "build":
        from mmabench.builder.build import build
        return build
    if name == "Manifest":
        from mmabench.db.manifest import Manifest
        return Manifest
    if name == "BuildConfig":
        from mmabench.config import BuildConfig
        return BuildConfig
    raise AttributeError(name)
