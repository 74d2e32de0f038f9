"""Records: nouns. Operations (verbs in builder/conflicts.py) take records and return new ones."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from mmabench.schema.enums import ClipStatus, Condition, Modality, Split
from mmabench.schema.ids import derive_id


class _Record(BaseModel):
    model_config = ConfigDict(frozen=True, use_enum_values=False)


class ClipSpec(_Record):
    """What a source offers before ingest: where the media is and what it is labelled."""

    source: str
    source_ref: str  # file path relative to the source, YTID, URL …
    label: str  # class name in the build vocabulary
    label_mid: Optional[str] = None  # AudioSet ontology id when known
    start: Optional[float] = None  # section in seconds; None = whole file
    end: Optional[float] = None
    uri: Optional[str] = None  # where to read it from (absolute path / URL)
    normalize: Optional[int] = None  # re-encoded to NxN (study preprocessing); part of the identity
    provenance: dict[str, Any] = Field(default_factory=dict)  # licences, assets, attribution

    @property
    def id(self) -> str:
        key = [self.source, self.source_ref, self.start, self.end]
        return derive_id("clip", key + [self.normalize] if self.normalize else key)


class Clip(_Record):
    id: str
    source: str
    source_ref: str
    label: str
    label_mid: Optional[str] = None
    start: Optional[float] = None
    end: Optional[float] = None
    status: ClipStatus = ClipStatus.ok
    error: Optional[str] = None
    path: Optional[str] = None  # relative to the workspace media root
    sha256: Optional[str] = None
    bytes: Optional[int] = None
    duration: Optional[float] = None
    fps: Optional[float] = None
    width: Optional[int] = None
    height: Optional[int] = None
    video_codec: Optional[str] = None
    audio_codec: Optional[str] = None
    sample_rate: Optional[int] = None
    provenance: dict[str, Any] = Field(default_factory=dict)
    attempts: int = 1


class Variant(_Record):
    """A rendered stimulus, defined entirely by its recipe (sources, op, params, op version)."""

    id: str
    condition: Condition
    op: str
    op_version: int
    video_clip_id: str
    audio_clip_id: Optional[str]  # None when the audio was removed
    params: dict[str, Any] = Field(default_factory=dict)
    path: Optional[str] = None
    sha256: Optional[str] = None
    bytes: Optional[int] = None
    tool_versions: dict[str, str] = Field(default_factory=dict)

    @property
    def recipe(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "op_version": self.op_version,
            "condition": self.condition.value,
            "video_clip_id": self.video_clip_id,
            "audio_clip_id": self.audio_clip_id,
            "params": self.params,
        }


class Item(_Record):
    """One question about one variant, for one prompted modality."""

    id: str
    build: str
    variant_id: str
    split: Split
    condition: Condition
    prompt_modality: Modality
    prompt: str
    options: list[str]
    answer: str
    abstain_expected: bool = False  # the prompted modality is missing: ideal answer "None of the above"
    template_version: int = 1


class Build(_Record):
    name: str
    config: dict[str, Any]
    config_hash: str
    seed: int
    versions: dict[str, str] = Field(default_factory=dict)
    timings: dict[str, float] = Field(default_factory=dict)
    created_at: Optional[datetime] = None
    updated_at: Optional[datetime] = None
