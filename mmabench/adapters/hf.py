"""`hf`: a local transformers audio-visual model — the Qwen2.5-Omni thinker family — from a path or the HF
cache (no download unless HF_HUB_OFFLINE is off). Frames (evenly sampled) and the soundtrack go in as
explicit video and audio parts, so the audio cannot be silently dropped; an audio_removed variant whose
stream was dropped sends no audio part. Greedy decoding; one model instance, requests serialised on it.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any, Optional

import numpy as np

from mmabench.adapters.base import Adapter, Capabilities, PermanentError, Request, Response
from mmabench.media import sha256_file


def _weight_files(p: Path) -> list[Path]:
    return sorted(p.glob("*.safetensors")) or sorted(p.glob("*.bin"))


def _hash_cache() -> Path:
    base = os.environ.get("MMABENCH_CACHE") or os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "mmabench" / "weights_sha256.json"


def weights_id(src: str, revision: Optional[str] = None) -> str:
    """The model's content identity for the answer cache: sha256 over the weight files' bytes (a merged
    checkpoint in a same-named folder with same-sized shards is another model), or the `revision` the user
    gives. Each file's hash is cached by (path, size, mtime_ns) so a 15-GB model is read once."""
    if revision:
        return f"revision:{revision}"
    p = Path(src)
    if not p.is_dir():
        try:  # a hub id: its local snapshot folder (no download)
            from huggingface_hub import snapshot_download

            p = Path(snapshot_download(src, local_files_only=True))
        except Exception:
            return src
    cache_file = _hash_cache()
    try:
        cache = json.loads(cache_file.read_text())
    except (OSError, ValueError):
        cache = {}
    digests, dirty = [], False
    for f in _weight_files(p):
        st = f.stat()
        key = f"{f.resolve()}|{st.st_size}|{st.st_mtime_ns}"
        if key not in cache:
            cache[key], dirty = sha256_file(f), True
        digests.append((f.name, cache[key]))
    if dirty:
        try:
            cache_file.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache_file.with_name(f".{cache_file.name}.{os.getpid()}")
            tmp.write_text(json.dumps(cache, indent=0, sort_keys=True))
            os.replace(tmp, cache_file)
        except OSError:
            pass  # a read-only home: the identity is still right, only recomputed next time
    return hashlib.sha256(repr(digests).encode()).hexdigest()[:16]


def adapter_sha256(adapter_dir: str) -> str:
    """Content hash of a PEFT adapter (its weight files): the cache identity of a tuned model."""
    files = sorted(Path(adapter_dir).glob("adapter_model.*"))
    if not files:
        raise PermanentError(f"no PEFT adapter (adapter_model.safetensors) in {adapter_dir}")
    return hashlib.sha256("".join(sha256_file(f) for f in files).encode()).hexdigest()


def decode_media(path: str, frames: int, frame_size: int):
    """Evenly sampled frames (n, size, size, 3) uint8 and the 16-kHz mono soundtrack (None if absent): the
    one way a local model sees a variant, in evaluation and in training alike."""
    from mmabench.media import load_audio, sample_frames

    return sample_frames(path, frames, frame_size), load_audio(path, 16000)


def user_turn(prompt: str, has_audio: bool) -> list[dict]:
    """The chat message: video, then audio (only when the file has a soundtrack), then the question."""
    content = [{"type": "video"}] + ([{"type": "audio"}] if has_audio else []) + [{"type": "text", "text": prompt}]
    return [{"role": "user", "content": content}]


class HFOmniAdapter(Adapter):
    name = "hf"
    capabilities = Capabilities(video_frames=True, audio=True, audio_in_video=True)

    def __init__(
        self,
        model: str = "",
        path: Optional[str] = None,
        device: str = "auto",
        dtype: str = "auto",
        frames: int = 8,
        frame_size: int = 224,
        max_new_tokens: int = 16,
        attention: bool = False,
        adapter: Optional[str] = None,
        **options: Any,
    ):
        src = path or model
        revision = options.pop("revision", None)  # the user's own identity for the weights: no hashing
        if not src:
            raise PermanentError("the hf adapter needs a model: --model hf:ORG/NAME or --opt path='\"DIR\"'")
        try:
            import torch
            from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration
        except ImportError as e:
            raise PermanentError(f"the hf adapter needs torch, torchvision and transformers ({e.name} missing)") from e
        super().__init__(
            model or Path(src).name,
            frames=frames,
            frame_size=frame_size,
            max_new_tokens=max_new_tokens,
            weights=weights_id(str(src), revision),
            dtype=dtype,
            **({"adapter": adapter_sha256(adapter)} if adapter else {}),  # a tuned model never hits base answers
            **options,
        )
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
        torch_dtype = {
            "auto": torch.float16 if device == "cuda" else torch.float32,
            "fp16": torch.float16,
            "bf16": torch.bfloat16,
            "fp32": torch.float32,
        }[dtype]
        self.device, self.torch = device, torch
        self.processor = AutoProcessor.from_pretrained(src)
        kw = {"attn_implementation": "eager"} if attention else {}  # eager returns attention maps
        # `self.model` is the model id string (Adapter); the network is `self.net`
        self.net = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(src, dtype=torch_dtype, **kw)
        if adapter:  # a LoRA from `mmabench train lora` (or any PEFT adapter for this base)
            from peft import PeftModel

            self.net = PeftModel.from_pretrained(self.net, adapter)
        self.net.to(device).eval()
        self.lock = threading.Lock()
        self._decoded = lru_cache(maxsize=32)(self._decoded)

    def _decoded(self, path: str):
        """Frames and soundtrack of one file, decoded once: its visual and audio prompts (and the attention
        study's two passes) reuse them."""
        return decode_media(path, self.opts["frames"], self.opts["frame_size"])

    def inputs(self, request: Request):
        frames, wav = self._decoded(str(request.media_path))
        has_audio = wav is not None and len(wav) > 0
        text = self.processor.apply_chat_template(
            user_turn(request.item.prompt, has_audio), add_generation_prompt=True, tokenize=False
        )
        batch = self.processor(
            text=[text], videos=[frames], audio=[wav] if has_audio else None, return_tensors="pt", padding=True
        )
        peak = float(np.abs(wav).max(initial=0.0)) if has_audio else 0.0
        sent = {
            "frames": int(frames.shape[0]),
            "frame_size": int(frames.shape[1]),
            "audio": {
                "seconds": round(len(wav) / 16000, 3),
                "silent": peak == 0.0,
                "sha256": hashlib.sha256(wav.tobytes()).hexdigest()[:16],
            }
            if has_audio
            else None,
        }
        return batch.to(self.device), sent

    def generate(self, request: Request) -> Response:
        batch, sent = self.inputs(request)
        with self.lock, self.torch.inference_mode():
            out = self.net.generate(**batch, max_new_tokens=self.opts["max_new_tokens"], do_sample=False)
        new = out[:, batch["input_ids"].shape[1] :]
        text = self.processor.batch_decode(new, skip_special_tokens=True)[0].strip()
        return Response(text, sent, int(batch["input_ids"].shape[1]), int(new.shape[1]))
