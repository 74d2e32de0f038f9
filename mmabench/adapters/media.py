"""What a model is actually sent: sampled frames (JPEG) and the soundtrack (16-kHz mono WAV), from the
variant file itself — so an audio_removed variant sends its silence (or nothing, if the stream was
dropped), never the original track. Every part is hashed and recorded per prediction."""

from __future__ import annotations

import base64
import hashlib
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Optional

import av
import numpy as np

from mmabench.media import load_audio, sample_video_frames, wav_bytes


@dataclass
class MediaParts:
    frames: tuple[bytes, ...] = ()  # JPEG
    audio_wav: Optional[bytes] = None  # None: the file has no audio stream
    audio_seconds: float = 0.0
    audio_peak_dbfs: float = float("-inf")
    video_mp4: Optional[bytes] = None
    sent: dict = field(default_factory=dict)

    # base64 forms, computed once per file (API adapters send the same clip for several items)
    @cached_property
    def frames_b64(self) -> tuple[str, ...]:
        return tuple(base64.b64encode(f).decode() for f in self.frames)

    @cached_property
    def audio_b64(self) -> Optional[str]:
        return None if self.audio_wav is None else base64.b64encode(self.audio_wav).decode()

    @cached_property
    def video_b64(self) -> Optional[str]:
        return None if self.video_mp4 is None else base64.b64encode(self.video_mp4).decode()


def _jpeg(frame: av.VideoFrame) -> bytes:
    cc = av.CodecContext.create("mjpeg", "w")
    cc.width, cc.height, cc.pix_fmt = frame.width, frame.height, "yuvj420p"
    cc.time_base = frame.time_base or 1
    out = b"".join(bytes(p) for p in cc.encode(frame.reformat(format="yuvj420p")))
    return out + b"".join(bytes(p) for p in cc.encode(None))


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:16]


@lru_cache(maxsize=128)
def load_parts(path: str, n_frames: int = 8, rate: int = 16000, with_video_bytes: bool = False) -> MediaParts:
    """n evenly spaced frames (JPEG) and the audio resampled to mono `rate` (WAV), from the file itself."""
    with av.open(path) as c:
        has_video = bool(c.streams.video) and n_frames > 0
    frames = [_jpeg(f) for f in sample_video_frames(path, n_frames)] if has_video else []
    wav, seconds, peak = None, 0.0, float("-inf")
    x = load_audio(path, rate)
    if x is not None:
        seconds = len(x) / rate
        p = float(np.abs(x).max(initial=0.0))
        peak = 20 * np.log10(p) if p > 0 else float("-inf")
        wav = wav_bytes(x, rate)
    video = Path(path).read_bytes() if with_video_bytes else None
    sent = {
        "frames": len(frames),
        "frames_sha256": _sha(b"".join(frames)) if frames else None,
        "audio": None
        if wav is None
        else {
            "seconds": round(float(seconds), 3),
            "peak_dbfs": round(float(peak), 1) if np.isfinite(peak) else None,
            "sha256": _sha(wav),
            "silent": bool(not np.isfinite(peak) or peak < -60),
        },
    }
    return MediaParts(tuple(frames), wav, float(seconds), float(peak), video, sent)
