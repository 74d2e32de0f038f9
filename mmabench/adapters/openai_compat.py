"""Any OpenAI-compatible chat server (vLLM serving Qwen2.5-Omni, …), posted to directly with `httpx`.

Video goes as sampled frames (`image_url` data URLs, the portable default) or as one `video_url` data
URL (`video_mode="url"`, vLLM's extension); audio always as a separate `input_audio` WAV part, so a
server that ignores the soundtrack inside a video still gets the sound. Sent parts are recorded.

Why not the `openai` client: it re-walks and copies the whole multi-hundred-kB message per request in its
parameter transform (~5 ms CPU, vs 0.3 ms to post the same bytes), and its retries are switched off here
anyway (the runner's are counted and classified). A request body is the media parts, serialised once per
file, spliced between a per-adapter head and the prompt; one shared `httpx.Client` keeps connections alive.
Status mapping as before: 429 and 5xx, timeouts and connection errors are transient; other 4xx permanent.
"""

from __future__ import annotations

import base64
import json
import os
import threading
from collections import Counter
from pathlib import Path
from typing import Any, Optional

import httpx

from mmabench.adapters.base import Adapter, Capabilities, PermanentError, Request, Response, TransientError
from mmabench.adapters.media import PREP_VERSION, MediaParts, PayloadSpec
from mmabench.adapters.payloads import PayloadStore
from mmabench.schema.redact import redact_options, url_secrets


def _cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


class OpenAICompatAdapter(Adapter):
    name = "openai-compat"
    capabilities = Capabilities(video_frames=True, audio=True, audio_in_video=False)
    send_media = True

    def __init__(
        self,
        model: str = "",
        base_url: Optional[str] = None,
        api_key_env: str = "OPENAI_API_KEY",
        frames: int = 8,
        video_mode: str = "frames",
        send_audio: bool = True,
        max_tokens: int = 32,
        temperature: float = 0.0,
        timeout: float = 60.0,
        **options: Any,
    ):
        super().__init__(
            model,
            frames=frames,
            video_mode=video_mode,
            send_audio=send_audio,
            max_tokens=max_tokens,
            temperature=temperature,
            **options,
        )
        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1"
        key = os.environ.get(api_key_env) or "EMPTY"  # read from env; never logged or stored
        self._key = key
        self.client = httpx.Client(
            headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
            timeout=httpx.Timeout(timeout),
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=256),
        )
        self.url = self.base_url.rstrip("/") + "/chat/completions"
        self.deterministic = temperature == 0.0
        url_mode = video_mode == "url"
        self.spec = PayloadSpec(frames=0 if url_mode else frames, audio=send_audio, mp4=url_mode)
        self._head = json.dumps(
            {"model": self.model, "max_tokens": max_tokens, "temperature": temperature, "messages": None}
        ).encode()[: -len(b"null}")]
        self._store: Optional[PayloadStore] = None
        self._store_lock = threading.Lock()
        self.media_counts: Counter[str] = Counter()  # how payloads were had: decoded / shared / disk / failed
        self.media_made: Counter[str] = Counter()  # stream parts decoded: frames / audio

    def options(self) -> dict[str, Any]:
        # the media format is part of what was asked: a new PREP_VERSION is a new run and new fingerprints
        prep = {"media_prep": PREP_VERSION} if self.send_media else {}
        return redact_options({**self.opts, "base_url": self.base_url, **prep})

    def secrets(self) -> list[str]:
        return [*super().secrets(), *([self._key] if self._key != "EMPTY" else []), *url_secrets(self.base_url)]

    # --- media, prepared ahead in worker processes (see payloads.py) -------------------------------------
    def start(self, cache_dir: Optional[Path] = None, concurrency: int = 1) -> None:
        if self.send_media:
            self.finish()
            workers = min(max(1, concurrency), _cores(), 8)
            self._store = PayloadStore(cache_dir, workers=workers, keep=max(256, 8 * concurrency))

    def ahead(self, request: Request) -> None:
        store = self._store
        if store is not None and store.workers and request.media_path is not None:  # no workers: asked when sent
            store.prefetch(request.media_path, request.media_sha256, self.spec)

    def finish(self) -> None:
        with self._store_lock:
            store, self._store = self._store, None
        if store is not None:
            store.close()
            self.media_counts.update(store.counts)
            self.media_made.update(store.made)

    def store(self) -> PayloadStore:
        with self._store_lock:  # used outside the runner (the judge): prepared in the asking thread, no disk
            if self._store is None:
                self._store = PayloadStore(None, workers=0)
            return self._store

    def _media_json(self, media: MediaParts, request: Request) -> tuple[bytes, dict[str, Any]]:
        """The media parts as a JSON list's items (with a trailing comma) and what they hold; once per file.
        Spliced as bytes around the base64 (which never needs escaping): `json.dumps` of the same parts scans
        and copies each multi-hundred-kB string three more times (2.4 vs 0.7 ms a file, in the request process)."""
        hit = media.memo.get("openai")
        if hit is not None:
            return hit
        parts: list[bytes] = []
        sent: dict[str, Any] = {}
        if self.spec.mp4:
            parts.append(_part("video_url", b'{"url": "data:video/mp4;base64,', media.video_mp4 or b"", b'"}'))
            sent["video"] = {"sha256": request.media_sha256}
        else:
            parts += [_part("image_url", b'{"url": "data:image/jpeg;base64,', f, b'"}') for f in media.frames]
            sent["frames"], sent["frames_sha256"] = media.sent["frames"], media.sent["frames_sha256"]
        if self.opts["send_audio"] and media.audio_wav is not None:
            parts.append(_part("input_audio", b'{"data": "', media.audio_wav, b'", "format": "wav"}'))
            sent["audio"] = media.sent["audio"]
        out = (b"".join(parts), sent)
        media.memo["openai"] = out
        return out

    def body(self, request: Request) -> tuple[bytes, dict[str, Any]]:
        """The request body and what it sends: head + media parts (prepared bytes) + the prompt."""
        sent: dict[str, Any] = {"frames": 0, "audio": None, "video": None}
        media = b""
        if self.send_media and request.media_path is not None:
            media, what = self._media_json(
                self.store().get(request.media_path, request.media_sha256, self.spec), request
            )
            sent.update(what)
        text = json.dumps({"type": "text", "text": request.item.prompt}).encode()
        return b"".join((self._head, b'[{"role":"user","content":[', media, text, b"]}]}")), sent

    def generate(self, request: Request) -> Response:
        body, sent = self.body(request)
        try:
            r = self.client.post(self.url, content=body)
        except httpx.TransportError as e:  # timeouts, refused/reset connections, protocol errors
            raise TransientError(f"{type(e).__name__}: {e}") from e
        if r.status_code == 429 or r.status_code >= 500:
            raise TransientError(f"HTTP {r.status_code}: {r.text[:2000]}")
        if r.status_code >= 400:
            raise PermanentError(f"HTTP {r.status_code}: {r.text[:2000]}")
        try:
            data = r.json()
            choices = data.get("choices") or []
            text = (choices[0]["message"].get("content") or "") if choices else ""
            usage = data.get("usage") or {}
        except (ValueError, KeyError, TypeError, AttributeError, IndexError) as e:
            raise PermanentError(f"unreadable response ({type(e).__name__}): {r.text[:200]}") from e
        return Response(text, sent, usage.get("prompt_tokens"), usage.get("completion_tokens"))


def _part(kind: str, head: bytes, data: bytes, tail: bytes) -> bytes:
    """`json.dumps({"type": kind, kind: {...}}) + ","` for an object whose one string value is `head`'s
    prefix + base64(data): the same bytes, built without re-encoding the base64."""
    return b'{"type": "%s", "%s": %s%s%s},' % (kind.encode(), kind.encode(), head, base64.b64encode(data), tail)


class TextOnlyAdapter(OpenAICompatAdapter):
    """The same server and prompt, no media: how far the text alone (and the model's priors) gets."""

    name = "text-only"
    capabilities = Capabilities()
    send_media = False
