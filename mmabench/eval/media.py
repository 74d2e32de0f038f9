"""What a model is actually sent: sampled frames (JPEG) and the soundtrack (16-kHz mono WAV), from the
variant file itself — so an audio_removed variant sends its silence (or nothing, if the stream was
dropped), never the original track. Every part is hashed and recorded per prediction."""
from __future__ import annotations

import base64
import hashlib
import io
import wave
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Optional

import av
import numpy as np


@dataclass
class MediaParts:
    frames: tuple[bytes, ...] = ()           # JPEG
    audio_wav: Optional[bytes] = None        # None: the file has no audio stream
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


def _wav(samples: np.ndarray, rate: int) -> bytes:
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:16]


@lru_cache(maxsize=128)
def load_parts(path: str, n_frames: int = 8, rate: int = 16000, with_video_bytes: bool = False) -> MediaParts:
    """Decode once: n evenly spaced frames (only those converted) and the audio resampled to mono `rate`."""
    frames: list[bytes] = []
    with av.open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        if v is not None and n_frames:
            decoded = list(c.decode(v))
            idx = np.linspace(0, len(decoded) - 1, min(n_frames, len(decoded))).round().astype(int)
            frames = [_jpeg(decoded[i]) for i in sorted(set(idx))]
    wav, seconds, peak = None, 0.0, float("-inf")
    with av.open(path) as c:
        if c.streams.audio:
            r = av.AudioResampler(format="flt", layout="mono", rate=rate)
            chunks = [f.to_ndarray().reshape(-1) for fr in c.decode(audio=0) for f in r.resample(fr)]
            chunks += [f.to_ndarray().reshape(-1) for f in r.resample(None)]
            x = np.concatenate(chunks) if chunks else np.zeros(0, np.float32)
            seconds = len(x) / rate
            p = float(np.abs(x).max(initial=0.0))
            peak = 20 * np.log10(p) if p > 0 else float("-inf")
            wav = _wav(x, rate)
    video = Path(path).read_bytes() if with_video_bytes else None
    sent = {"frames": len(frames), "frames_sha256": _sha(b"".join(frames)) if frames else None,
            "audio": None if wav is None else {"seconds": round(float(seconds), 3), "peak_dbfs": round(float(peak), 1)
                                                 if np.isfinite(peak) else None, "sha256": _sha(wav),
                                                 "silent": bool(not np.isfinite(peak) or peak < -60)}}
    return MediaParts(tuple(frames), wav, float(seconds), float(peak), video, sent)
