"""Tables mirror the records in mmabench.schema. Column names are part of the user-facing SQL surface."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Optional

from sqlalchemy import JSON, Boolean, DateTime, Float, ForeignKey, Index, Integer, String, Text, func, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

Json = JSON().with_variant(JSONB(), "postgresql")
Id = String(16)


class Base(DeclarativeBase):
    pass


class BuildRow(Base):
    __tablename__ = "builds"
    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    config_hash: Mapped[str] = mapped_column(String(64))
    seed: Mapped[int] = mapped_column(Integer)
    versions: Mapped[dict[str, Any]] = mapped_column(Json)
    timings: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class ClipRow(Base):
    __tablename__ = "clips"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    source: Mapped[str] = mapped_column(String(64))
    source_ref: Mapped[str] = mapped_column(Text)
    start: Mapped[Optional[float]] = mapped_column(Float)
    end: Mapped[Optional[float]] = mapped_column(Float)
    label: Mapped[str] = mapped_column(String(200))
    label_mid: Mapped[Optional[str]] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(32))
    error: Mapped[Optional[str]] = mapped_column(Text)
    path: Mapped[Optional[str]] = mapped_column(Text)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    bytes: Mapped[Optional[int]] = mapped_column(Integer)
    duration: Mapped[Optional[float]] = mapped_column(Float)
    fps: Mapped[Optional[float]] = mapped_column(Float)
    width: Mapped[Optional[int]] = mapped_column(Integer)
    height: Mapped[Optional[int]] = mapped_column(Integer)
    video_codec: Mapped[Optional[str]] = mapped_column(String(32))
    audio_codec: Mapped[Optional[str]] = mapped_column(String(32))
    sample_rate: Mapped[Optional[int]] = mapped_column(Integer)
    provenance: Mapped[dict[str, Any]] = mapped_column(Json)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("ix_clips_label", "label"),
        Index("ix_clips_status", "status"),
        Index("ix_clips_source", "source", "source_ref"),
    )


class VariantRow(Base):
    __tablename__ = "variants"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    condition: Mapped[str] = mapped_column(String(32))
    op: Mapped[str] = mapped_column(String(64))
    op_version: Mapped[int] = mapped_column(Integer)
    video_clip_id: Mapped[str] = mapped_column(Id, ForeignKey("clips.id"))
    audio_clip_id: Mapped[Optional[str]] = mapped_column(Id, ForeignKey("clips.id"))
    recipe: Mapped[dict[str, Any]] = mapped_column(Json)
    tool_versions: Mapped[dict[str, Any]] = mapped_column(Json)
    path: Mapped[Optional[str]] = mapped_column(Text)
    sha256: Mapped[Optional[str]] = mapped_column(String(64))
    bytes: Mapped[Optional[int]] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (Index("ix_variants_condition", "condition"), Index("ix_variants_video", "video_clip_id"))


class ItemRow(Base):
    __tablename__ = "items"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    build: Mapped[str] = mapped_column(String(200), ForeignKey("builds.name"))
    variant_id: Mapped[str] = mapped_column(Id, ForeignKey("variants.id"))
    split: Mapped[str] = mapped_column(String(32))
    condition: Mapped[str] = mapped_column(String(32))
    prompt_modality: Mapped[str] = mapped_column(String(16))
    prompt: Mapped[str] = mapped_column(Text)
    options: Mapped[list[str]] = mapped_column(Json)
    answer: Mapped[str] = mapped_column(String(200))
    abstain_expected: Mapped[bool] = mapped_column(Boolean, default=False)
    template_version: Mapped[int] = mapped_column(Integer)
    # set when a re-run of the build stopped making this item; kept because predictions may point at it
    superseded_at: Mapped[Optional[datetime]] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    __table_args__ = (
        Index("ix_items_lookup", "build", "split", "condition", "prompt_modality"),
        Index("ix_items_variant", "variant_id"),
    )


# The items_flat view is defined in migrations/versions/0001_initial.py (migrations own the DDL).


class RunRow(Base):
    __tablename__ = "runs"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    model: Mapped[str] = mapped_column(String(300))
    adapter: Mapped[str] = mapped_column(String(64))
    options: Mapped[dict[str, Any]] = mapped_column(Json)
    build: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(32))
    item_limit: Mapped[Optional[int]] = mapped_column(Integer)
    template_version: Mapped[int] = mapped_column(Integer)
    package_version: Mapped[str] = mapped_column(String(32))
    seed: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16))
    counts: Mapped[dict[str, Any]] = mapped_column(Json)
    timings: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PredictionRow(Base):
    __tablename__ = "predictions"
    run_id: Mapped[str] = mapped_column(Id, ForeignKey("runs.id"), primary_key=True)
    item_id: Mapped[str] = mapped_column(Id, ForeignKey("items.id"), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(64))
    response: Mapped[Optional[str]] = mapped_column(Text)
    parsed: Mapped[Optional[str]] = mapped_column(String(200))
    parse_status: Mapped[str] = mapped_column(String(16))  # exact | contained | head | unparsed | error
    correct: Mapped[Optional[bool]] = mapped_column(Boolean)
    abstained: Mapped[Optional[bool]] = mapped_column(Boolean)
    latency_ms: Mapped[Optional[float]] = mapped_column(Float)
    tokens_in: Mapped[Optional[int]] = mapped_column(Integer)
    tokens_out: Mapped[Optional[int]] = mapped_column(Integer)
    sent: Mapped[dict[str, Any]] = mapped_column(Json)  # media parts actually sent
    cached_from: Mapped[Optional[str]] = mapped_column(Id)  # run whose identical request was reused
    error: Mapped[Optional[str]] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # the item's cell, copied at insert (db/bulk.py; a trigger for other writers) so accuracy reads one table
    condition: Mapped[Optional[str]] = mapped_column(String(32))
    prompt_modality: Mapped[Optional[str]] = mapped_column(String(16))
    # what it was scored against, copied when written as `correct` is (migration 0007), so the report reads
    # one index: the item's answer; does the parsed answer name the video clip's / the audio clip's class
    answer: Mapped[Optional[str]] = mapped_column(String(200))
    follows_video: Mapped[Optional[bool]] = mapped_column(Boolean)
    follows_audio: Mapped[Optional[bool]] = mapped_column(Boolean)
    __table_args__ = (
        Index("ix_predictions_fingerprint", "fingerprint"),
        Index(
            "ix_predictions_cell",
            "run_id",
            "condition",
            "prompt_modality",
            "answer",
            "correct",
            "abstained",
            "parse_status",
            "follows_video",
            "follows_audio",
            sqlite_where=text("error IS NULL"),
            postgresql_where=text("error IS NULL"),
        ),
        Index(
            "ix_predictions_errors",
            "run_id",
            "condition",
            "prompt_modality",
            sqlite_where=text("error IS NOT NULL"),
            postgresql_where=text("error IS NOT NULL"),
        ),
    )


class TagRow(Base):
    """Tagger output for one media file's content; the key makes tagging idempotent across clips/variants."""

    __tablename__ = "tags"
    sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    tagger: Mapped[str] = mapped_column(String(64), primary_key=True)
    model_id: Mapped[str] = mapped_column(String(200), primary_key=True)
    weights_sha256: Mapped[str] = mapped_column(String(64), primary_key=True)
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    modality: Mapped[str] = mapped_column(String(16))
    scores: Mapped[dict[str, Any]] = mapped_column(Json)
    seconds: Mapped[Optional[float]] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DecisionRow(Base):
    """Stage-2 consistency decision for one clip under one filter configuration."""

    __tablename__ = "decisions"
    clip_id: Mapped[str] = mapped_column(Id, ForeignKey("clips.id"), primary_key=True)
    filter_hash: Mapped[str] = mapped_column(String(16), primary_key=True)
    kept: Mapped[bool] = mapped_column(Boolean)
    reason: Mapped[Optional[str]] = mapped_column(Text)
    checks: Mapped[dict[str, Any]] = mapped_column(Json)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class TrainRunRow(Base):
    """One LoRA training run: what it learnt from, with what recipe, and where its adapter is."""

    __tablename__ = "train_runs"
    id: Mapped[str] = mapped_column(Id, primary_key=True)
    base_model: Mapped[str] = mapped_column(String(500))
    base_weights: Mapped[str] = mapped_column(String(64))
    build: Mapped[str] = mapped_column(String(200))
    split: Mapped[str] = mapped_column(String(32))
    trainer: Mapped[str] = mapped_column(String(32))  # "lora" (ours) or "llamafactory"
    config: Mapped[dict[str, Any]] = mapped_column(Json)
    items: Mapped[int] = mapped_column(Integer)
    steps: Mapped[int] = mapped_column(Integer)
    final_loss: Mapped[Optional[float]] = mapped_column(Float)
    losses: Mapped[list[Any]] = mapped_column(Json)
    adapter_path: Mapped[Optional[str]] = mapped_column(Text)
    adapter_sha256: Mapped[Optional[str]] = mapped_column(String(64))
    versions: Mapped[dict[str, Any]] = mapped_column(Json)
    status: Mapped[str] = mapped_column(String(16))
    seconds: Mapped[Optional[float]] = mapped_column(Float)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
