"""Tiny real media for tests, encoded with PyAV: a moving pattern with a tone, and the bad cases."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Optional

import av
import numpy as np


def make_clip(
    path: Path,
    *,
    seconds: float = 2.0,
    video: bool = True,
    audio: bool = True,
    freq: float = 440.0,
    silent: bool = False,
    size=(64, 48),
    fps: int = 10,
    rate: int = 16000,
    gop: int = 10,
    faststart: bool = True,
    sar: Optional[Fraction] = None,
    x264: Optional[dict] = None,
    texture: bool = False,
) -> Path:
    """x264: encoder options over the defaults (ultrafast, `gop`); texture: a random image scrolling sideways
    (what makes x264 choose referenced B-frames) instead of the bars."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w", format="mp4", options={"movflags": "+faststart"} if faststart else {}) as out:
        vs = as_ = None
        if video:
            vs = out.add_stream("libx264", rate=fps, options={"preset": "ultrafast", "g": str(gop), **(x264 or {})})
            vs.width, vs.height, vs.pix_fmt = size[0], size[1], "yuv420p"
            if sar:  # non-square pixels: in the H.264 VUI and the mp4's pasp box
                vs.codec_context.sample_aspect_ratio = sar
        if audio:
            as_ = out.add_stream("aac", rate=rate, layout="mono")
        if vs:
            base = np.random.default_rng(0).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
            for i in range(int(seconds * fps)):
                if texture:
                    img = np.roll(base, 2 * i, axis=1)
                else:
                    img = np.zeros((size[1], size[0], 3), np.uint8)
                    img[:, (i * 4) % size[0] :, 0] = 200
                img[: (i * 3) % size[1], :, 1] = 120
                f = av.VideoFrame.from_ndarray(img, format="rgb24")
                f.pts, f.time_base = i, Fraction(1, fps)
                for p in vs.encode(f):
                    out.mux(p)
            for p in vs.encode(None):
                out.mux(p)
        if as_:
            n = int(seconds * rate)
            t = np.arange(n) / rate
            wave = np.zeros(n, np.float32) if silent else (0.3 * np.sin(2 * np.pi * freq * t)).astype(np.float32)
            for i in range(0, n, 1024):
                chunk = wave[i : i + 1024][None]
                f = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="fltp", layout="mono")
                f.sample_rate, f.pts, f.time_base = rate, i, Fraction(1, rate)
                for p in as_.encode(f):
                    out.mux(p)
            for p in as_.encode(None):
                out.mux(p)
    return path


def packets(path: Path, kind: str) -> list[bytes]:
    with av.open(str(path)) as c:
        return [bytes(p) for p in c.demux(getattr(c.streams, kind)[0]) if p.size]


def truncate(src: Path, dst: Path, fraction: float = 0.5) -> Path:
    data = src.read_bytes()
    dst.write_bytes(data[: int(len(data) * fraction)])
    return dst
