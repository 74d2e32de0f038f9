"""Gemini through Google's `google-genai` client: the mp4 (with its soundtrack) sent inline.

Key from GEMINI_API_KEY / GOOGLE_API_KEY (never stored); `base_url` reaches a proxy or a test peer."""

from __future__ import annotations

import os
from typing import Any, Optional

from mmabench.adapters.base import Adapter, Capabilities, PermanentError, Request, Response, TransientError
from mmabench.schema.redact import redact_options, url_secrets


class GeminiAdapter(Adapter):
    name = "gemini"
    capabilities = Capabilities(video_frames=True, audio=True, audio_in_video=True, max_context=1_000_000)

    def __init__(
        self,
        model: str = "gemini-2.5-flash",
        base_url: Optional[str] = None,
        max_tokens: int = 32,
        temperature: float = 0.0,
        timeout: float = 120.0,
        **options: Any,
    ):
        super().__init__(model, max_tokens=max_tokens, temperature=temperature, **options)
        from google import genai
        from google.genai import types

        key = os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY")
        if not key:
            raise PermanentError("set GEMINI_API_KEY (or GOOGLE_API_KEY) to use the gemini adapter")
        # retries are the runner's (counted, classified); the client's own retry is switched off
        http = types.HttpOptions(
            base_url=base_url, timeout=int(timeout * 1000), retry_options=types.HttpRetryOptions(attempts=1)
        )
        self.base_url = base_url
        self._key = key
        self.client = genai.Client(api_key=key, http_options=http)
        self.types = types
        self.deterministic = temperature == 0.0

    def options(self) -> dict[str, Any]:
        return redact_options({**self.opts, "base_url": self.base_url})

    def secrets(self) -> list[str]:
        return [*super().secrets(), self._key, *url_secrets(self.base_url)]

    def generate(self, request: Request) -> Response:
        from google.genai import errors

        t = self.types
        parts, sent = [], {"video": None, "audio": None}
        if request.media_path is not None:
            data = request.media_path.read_bytes()
            parts.append(t.Part.from_bytes(data=data, mime_type="video/mp4"))
            sent["video"] = {"sha256": request.media_sha256, "bytes": len(data), "audio_in_video": True}
        parts.append(t.Part.from_text(text=request.item.prompt))
        try:
            r = self.client.models.generate_content(
                model=self.model,
                contents=[t.Content(role="user", parts=parts)],
                config=t.GenerateContentConfig(
                    max_output_tokens=self.opts["max_tokens"], temperature=self.opts["temperature"]
                ),
            )
        except errors.APIError as e:
            code = getattr(e, "code", None) or 0
            if code == 429 or code >= 500:
                raise TransientError(f"gemini {code}: {e}") from e
            raise PermanentError(f"gemini {code}: {e}") from e
        except (TimeoutError, ConnectionError) as e:
            raise TransientError(f"{type(e).__name__}: {e}") from e
        um = r.usage_metadata
        return Response(
            r.text or "", sent, getattr(um, "prompt_token_count", None), getattr(um, "candidates_token_count", None)
        )
