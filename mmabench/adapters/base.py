"""The adapter contract: declare capabilities, answer one request, say which media parts were sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, Sequence

from mmabench.schema import Item
from mmabench.schema.redact import redact_options


class TransientError(RuntimeError):
    """Worth retrying with backoff (429, 5xx, timeouts, connection errors)."""


class PermanentError(RuntimeError):
    """Retrying will not help (bad request, auth, unsupported input)."""


@dataclass(frozen=True)
class Capabilities:
    video_frames: bool = False  # accepts images / sampled frames
    audio: bool = False  # accepts a separate audio part
    audio_in_video: bool = False  # accepts a video file and uses its soundtrack
    max_context: Optional[int] = None


@dataclass
class Request:
    item: Item
    media_path: Optional[Path]
    media_sha256: Optional[str]


@dataclass
class Response:
    text: str
    sent: dict[str, Any] = field(default_factory=dict)
    tokens_in: Optional[int] = None
    tokens_out: Optional[int] = None


class Adapter:
    name = "adapter"
    capabilities = Capabilities()
    deterministic = True  # only deterministic requests may be served from the cache

    def __init__(self, model: str = "", **options: Any):
        self.model = model or self.name
        self.opts = options

    def options(self) -> dict[str, Any]:
        """What identifies the request besides the prompt and media (never secrets: those are redacted)."""
        return redact_options(dict(self.opts))

    def secrets(self) -> list[str]:
        """Values that must never be stored (keys sent to a server); errors and responses are scrubbed of them."""
        return [str(v) for k, v in self.opts.items() if isinstance(v, str) and v != redact_options({k: v})[k]]

    def prepare(self, items: Sequence[Item]) -> None:
        """Called once with the run's items before any request (e.g. an answer prior)."""

    def start(self, cache_dir: Optional[Path] = None, concurrency: int = 1) -> None:
        """Before the requests, from the thread that will send them, before it starts any other: where media
        payloads may be kept on disk, and how many requests will be in flight (e.g. to size media workers)."""

    def ahead(self, request: Request) -> None:
        """A request that will be sent soon (called in sending order): start preparing its media now."""

    def finish(self) -> None:
        """After the last request: release what `start` took (worker processes)."""

    def generate(self, request: Request) -> Response:
        raise NotImplementedError
