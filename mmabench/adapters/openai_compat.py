"""Any OpenAI-compatible chat server (vLLM serving Qwen2.5-Omni, …) through the `openai` client.

Video goes as sampled frames (`image_url` data URLs, the portable default) or as one `video_url` data
URL (`video_mode="url"`, vLLM's extension); audio always as a separate `input_audio` WAV part, so a
server that ignores the soundtrack inside a video still gets the sound. Sent parts are recorded.
"""

from __future__ import annotations

import os
from typing import Any, Optional

from mmabench.adapters.base import Adapter, Capabilities, PermanentError, Request, Response, TransientError
from mmabench.adapters.media import load_parts
from mmabench.schema.redact import redact_options, url_secrets


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
        from openai import OpenAI

        self.base_url = base_url or os.environ.get("OPENAI_BASE_URL") or "http://127.0.0.1:8000/v1"
        key = os.environ.get(api_key_env) or "EMPTY"  # read from env; never logged or stored
        self._key = key
        self.client = OpenAI(base_url=self.base_url, api_key=key, max_retries=0, timeout=timeout)
        self.deterministic = temperature == 0.0

    def options(self) -> dict[str, Any]:
        return redact_options({**self.opts, "base_url": self.base_url})

    def secrets(self) -> list[str]:
        return [*super().secrets(), *([self._key] if self._key != "EMPTY" else []), *url_secrets(self.base_url)]

    def content(self, request: Request) -> tuple[list[dict], dict]:
        parts: list[dict] = []
        sent: dict[str, Any] = {"frames": 0, "audio": None, "video": None}
        if self.send_media and request.media_path is not None:
            media = load_parts(
                str(request.media_path), self.opts["frames"], with_video_bytes=self.opts["video_mode"] == "url"
            )
            if self.opts["video_mode"] == "url":
                parts.append({"type": "video_url", "video_url": {"url": "data:video/mp4;base64," + media.video_b64}})
                sent["video"] = {"sha256": request.media_sha256}
            else:
                parts += [
                    {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64," + f}} for f in media.frames_b64
                ]
                sent["frames"], sent["frames_sha256"] = media.sent["frames"], media.sent["frames_sha256"]
            if self.opts["send_audio"] and media.audio_wav is not None:
                parts.append({"type": "input_audio", "input_audio": {"data": media.audio_b64, "format": "wav"}})
                sent["audio"] = media.sent["audio"]
        parts.append({"type": "text", "text": request.item.prompt})
        return parts, sent

    def generate(self, request: Request) -> Response:
        import openai

        parts, sent = self.content(request)
        try:
            r = self.client.chat.completions.create(
                model=self.model,
                messages=[{"role": "user", "content": parts}],
                max_tokens=self.opts["max_tokens"],
                temperature=self.opts["temperature"],
            )
        except (
            openai.RateLimitError,
            openai.InternalServerError,
            openai.APITimeoutError,
            openai.APIConnectionError,
        ) as e:
            raise TransientError(f"{type(e).__name__}: {e}") from e
        except openai.APIStatusError as e:
            raise PermanentError(f"{type(e).__name__}: {e}") from e
        text = (r.choices[0].message.content or "") if r.choices else ""
        usage = r.usage
        return Response(text, sent, usage.prompt_tokens if usage else None, usage.completion_tokens if usage else None)


class TextOnlyAdapter(OpenAICompatAdapter):
    """The same server and prompt, no media: how far the text alone (and the model's priors) gets."""

    name = "text-only"
    capabilities = Capabilities()
    send_media = False
