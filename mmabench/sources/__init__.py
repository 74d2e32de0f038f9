"""Sources list ClipSpecs; ingest turns each spec into a validated clip in the media store.

A source is any object with `name` and `specs() -> Iterable[ClipSpec]`; register it in mmabench.registry.
"""

from __future__ import annotations

from typing import Iterable, Protocol

from mmabench.schema import ClipSpec


class Source(Protocol):
    name: str

    def specs(self) -> Iterable[ClipSpec]: ...
