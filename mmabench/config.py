"""Settings (where things live) and BuildConfig (what a build makes; its hash guards against drift)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field, computed_field, field_serializer

from mmabench.schema.ids import canonical_json
from mmabench.schema.redact import redact_options

DEFAULT_HOME = "mmabench_data"


def home_dir(home: str | Path | None = None) -> Path:
    return Path(home or os.environ.get("MMABENCH_HOME") or DEFAULT_HOME).expanduser().resolve()


def db_url(db: str | None = None, home: str | Path | None = None) -> str:
    """--db / MMABENCH_DB, else a SQLite file in the workspace. A bare path is taken as a SQLite file."""
    url = db or os.environ.get("MMABENCH_DB")
    if not url:
        return f"sqlite:///{home_dir(home) / 'manifest.db'}"
    if "://" not in url:
        return f"sqlite:///{Path(url).expanduser().resolve()}"
    if url.startswith(("postgresql://", "postgres://")):  # psycopg 3 is the driver we ship, not psycopg2
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def media_url(url: str | None = None, home: str | Path | None = None) -> str:
    """--media-url / MMABENCH_MEDIA_URL (a folder, file:// or any fsspec URL), else the workspace's media/."""
    return url or os.environ.get("MMABENCH_MEDIA_URL") or str(home_dir(home) / "media")


def media_cache(home: str | Path | None = None) -> Path:
    """Local copies of a remote store's media for decoding: MMABENCH_MEDIA_CACHE, else <home>/media-cache."""
    return Path(os.environ.get("MMABENCH_MEDIA_CACHE") or home_dir(home) / "media-cache").expanduser().resolve()


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = "demo"
    options: dict[str, Any] = Field(default_factory=dict)  # e.g. folder: {"root": ..., "labels": ...}
    # How to fetch, not what: retries, timeouts, rate, cookies, proxy. Not hashed, not stored.
    runtime: dict[str, Any] = Field(default_factory=dict, exclude=True)

    @field_serializer("options")
    def _public(self, options: dict[str, Any]) -> dict[str, Any]:
        # a token in --url-template is how to fetch, not what: stored and hashed without it (the source
        # object still gets the real template from `options`)
        return redact_options(options)


class BuildConfig(BaseModel):
    """Everything that decides the *content* of a build. Paths and worker counts are not part of it."""

    model_config = ConfigDict(extra="forbid")
    name: str = "default"
    seed: int = 0
    sources: list[SourceConfig] = Field(default_factory=lambda: [SourceConfig()])
    classes: Optional[list[str]] = None  # restrict to these labels; None = all the sources offer
    per_class: Optional[int] = None  # cap clips per class (first by clip id, stable)
    min_duration: float = 1.0  # shorter clips are rejected as too_short
    silence_dbfs: float = -60.0  # peak below this = silent clip
    shuffle_options: bool = False  # option order per item: fixed (sorted) or seeded shuffle
    long_context_letters: int = 10_000  # letters (not characters: they are space-separated) in the distractor
    audio_removed_mode: str = "silence"  # "silence" (digital silence, equal length) or "drop"
    template_version: int = 2  # synth/items.py TEMPLATES (v2: quoted options)
    normalize: Optional[int] = None  # study preprocessing: centre square crop, NxN, first 10 s, H.264+AAC
    filter: Optional[dict[str, Any]] = None  # stage-2 consistency filter (FilterConfig fields); None = off
    train: bool = False  # a tuning build (`build --split train`): its pool must be disjoint from the test builds'

    @computed_field  # type: ignore[prop-decorator]
    @property
    def pool(self) -> list[str]:
        """The source pool, recorded with the config: `audioset:balanced_train`, `folder:<labels>`, `demo` …"""
        out = []
        for s in self.sources:
            o = s.options
            what = o.get("segments") or o.get("labels") or o.get("path") or o.get("root")
            out.append(f"{s.name}:{','.join(what) if isinstance(what, list) else what}" if what else s.name)
        return out

    def content_hash(self) -> str:
        data = self.model_dump(mode="json")
        data.pop("name")
        return hashlib.sha256(canonical_json(data).encode()).hexdigest()[:16]

    def diff(self, other: "BuildConfig") -> dict[str, tuple[Any, Any]]:
        a, b = self.model_dump(mode="json"), other.model_dump(mode="json")
        return {k: (a[k], b.get(k)) for k in a if a[k] != b.get(k) and k != "name"}
