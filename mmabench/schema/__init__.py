"""Typed records and enums: plain data, importing nothing else of mmabench."""

from mmabench.schema.enums import (
    CONDITION_SPLIT,
    NONE_OF_THE_ABOVE,
    SPLIT_CONDITIONS,
    ClipStatus,
    Condition,
    Modality,
    Split,
    conditions_for,
)
from mmabench.schema.ids import derive_id, rendezvous, rng_for
from mmabench.schema.records import Build, Clip, ClipSpec, Item, Variant

__all__ = [
    "CONDITION_SPLIT",
    "NONE_OF_THE_ABOVE",
    "SPLIT_CONDITIONS",
    "ClipStatus",
    "Condition",
    "Modality",
    "Split",
    "conditions_for",
    "derive_id",
    "rng_for",
    "rendezvous",
    "Build",
    "Clip",
    "ClipSpec",
    "Item",
    "Variant",
]
