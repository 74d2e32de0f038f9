"""A loopback test peer speaking OpenAI chat-completions and Gemini generateContent. It answers
deterministically from the request, records what it received (image parts, decoded audio), and injects
faults (429, 500, slow, empty) from a per-call schedule."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
import wave
from http.server import BaseHTTPRequestHandler

import numpy as np

from tests.loopback import Loopback


def options_of(prompt: str) -> list[str]:
    m = re.search(r"Options: (.*?)\. Answer using", prompt, re.S)
    if not m:
        return []
    quoted = re.findall(r'"([^"]*)"', m.group(1))  # template v2 quotes each option
    return quoted or [o.strip() for o in m.group(1).split(", ")]


def b64(data: str) -> bytes:
    """Standard or URL-safe base64, padding optional (google-genai sends URL-safe)."""
    return base64.urlsafe_b64decode(data.replace("+", "-").replace("/", "_") + "=" * (-len(data) % 4))


def wav_peak(b64: str) -> float:
    with wave.open(io.BytesIO(base64.b64decode(b64))) as w:
        x = np.frombuffer(w.readframes(w.getnframes()), "<i2")
    return float(np.abs(x).max(initial=0)) / 32767


class LLMPeer(Loopback):
    def __init__(self, latency: float = 0.0, faults: list[str] | None = None, answer=None, inspect: bool = True):
        self.latency, self.faults, self.inspect = latency, list(faults or []), inspect
        self.answer = answer or (
            lambda prompt, opts: opts[int(hashlib.sha256(prompt.encode()).hexdigest(), 16) % len(opts)]
        )
        self.calls: list[dict] = []
        self.lock = threading.Lock()
        peer = self

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out as separate writes

            def log_message(self, *a):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with peer.lock:
                    fault = peer.faults.pop(0) if peer.faults else ""
                if fault in ("429", "500"):
                    return self.send(int(fault), {"error": {"message": f"injected {fault}", "code": int(fault)}})
                if fault == "401":  # a real server's habit: echo the credentials it refused
                    seen = f"{self.headers.get('Authorization')} {self.headers.get('x-goog-api-key')} {self.path}"
                    return self.send(401, {"error": {"message": f"Incorrect API key provided: {seen}", "code": 401}})
                if fault == "slow":
                    time.sleep(5)
                if peer.latency:
                    time.sleep(peer.latency)
                if self.path.endswith("/chat/completions"):
                    parts = body["messages"][0]["content"]
                    prompt = next(p["text"] for p in parts if p["type"] == "text")
                    rec = {
                        "api": "openai",
                        "prompt": prompt,
                        "images": sum(p["type"] == "image_url" for p in parts),
                        "video": sum(p["type"] == "video_url" for p in parts),
                        "audio_peak": [
                            wav_peak(p["input_audio"]["data"]) if peer.inspect else None
                            for p in parts
                            if p["type"] == "input_audio"
                        ],
                    }
                    text = "" if fault == "empty" else f"{peer.answer(prompt, options_of(prompt))}."
                    out = {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {"index": 0, "finish_reason": "stop", "message": {"role": "assistant", "content": text}}
                        ],
                        "usage": {"prompt_tokens": len(prompt) // 4, "completion_tokens": 2, "total_tokens": 0},
                    }
                else:  # gemini generateContent
                    parts = body["contents"][0]["parts"]
                    prompt = next(p["text"] for p in parts if "text" in p)
                    inline = [p.get("inlineData") or p.get("inline_data") for p in parts if "text" not in p]
                    rec = {
                        "api": "gemini",
                        "prompt": prompt,
                        "videos": [i["mimeType" if "mimeType" in i else "mime_type"] for i in inline],
                        "video_sha": [hashlib.sha256(b64(i["data"])).hexdigest() for i in inline],
                    }
                    text = "" if fault == "empty" else peer.answer(prompt, options_of(prompt))
                    out = {
                        "candidates": [
                            {"content": {"role": "model", "parts": [{"text": text}]}, "finishReason": "STOP"}
                        ],
                        "usageMetadata": {"promptTokenCount": 7, "candidatesTokenCount": 1},
                    }
                with peer.lock:
                    peer.calls.append(rec)
                self.send(200, out)

            def send(self, code, obj):
                data = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                try:
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self._serve(H)


if __name__ == "__main__":  # run standalone for manual checks / the benchmark: python -m tests.llmpeer 0.1
    import sys

    with LLMPeer(latency=float(sys.argv[1]) if len(sys.argv) > 1 else 0.0, inspect=False) as p:
        print(p.url, flush=True)
        threading.Event().wait()
