"""Probe and validate media: what a file holds, and whether a clip is usable (a reason when not)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Optional

import av
import numpy as np

from mmabench.media.files import MediaError
from mmabench.schema import ClipStatus


@dataclass
class MediaInfo:
    duration: float
    width: Optional[int]
    height: Optional[int]
    fps: Optional[float]
    video_codec: Optional[str]
    audio_codec: Optional[str]
    sample_rate: Optional[int]
    has_video: bool
    has_audio: bool

    def as_dict(self) -> dict:
        return asdict(self)


def _open(path: str | Path):
    path = Path(path)
    if not path.exists():
        raise MediaError(ClipStatus.missing, f"file not found: {path}")
    if path.stat().st_size == 0:
        raise MediaError(ClipStatus.empty, "file is empty (0 bytes)")
    try:
        return av.open(str(path))
    except av.error.FFmpegError as e:
        raise MediaError(ClipStatus.unreadable, f"cannot open as media: {e}") from e


def probe(path: str | Path) -> MediaInfo:
    """Header-level facts (no demux)."""
    with _open(path) as c:
        v = c.streams.video[0] if c.streams.video else None
        a = c.streams.audio[0] if c.streams.audio else None
        duration = (c.duration or 0) / av.time_base
        return MediaInfo(
            duration=duration,
            width=v.codec_context.width if v else None,
            height=v.codec_context.height if v else None,
            fps=float(v.average_rate) if v is not None and v.average_rate else None,
            video_codec=v.codec_context.name if v else None,
            audio_codec=a.codec_context.name if a else None,
            sample_rate=a.codec_context.sample_rate if a else None,
            has_video=v is not None,
            has_audio=a is not None,
        )


def audio_peak_dbfs(path: str | Path) -> float:
    peak = 0.0
    with _open(path) as c:
        try:
            for frame in c.decode(audio=0):
                arr = frame.to_ndarray()
                if arr.dtype.kind in "iu":
                    arr = arr.astype(np.float32) / np.iinfo(arr.dtype).max
                peak = max(peak, float(np.abs(arr).max(initial=0.0)))
        except av.error.FFmpegError as e:
            raise MediaError(ClipStatus.truncated, f"audio does not decode to the end: {e}") from e
    return 20 * np.log10(peak) if peak > 0 else float("-inf")


def validate(
    path: str | Path, *, want_duration: Optional[float] = None, min_duration: float = 1.0, silence_dbfs: float = -60.0
) -> MediaInfo:
    """Probe, then demux every packet (no decode) to catch truncation; decode audio once to catch silence.

    Raises MediaError with the first reason found; returns MediaInfo for a usable clip.
    """
    info = probe(path)
    if not info.has_video:
        raise MediaError(ClipStatus.no_video, "no video stream")
    if not info.has_audio:
        raise MediaError(ClipStatus.no_audio, "no audio stream")
    by_stream: dict[str, list] = {"video": [], "audio": []}
    try:
        with _open(path) as c:
            for pkt in c.demux(c.streams.video[0], c.streams.audio[0]):
                if pkt.size:
                    by_stream[pkt.stream.type].append(pkt)
    except av.error.FFmpegError as e:
        raise MediaError(ClipStatus.truncated, f"demux failed mid-file: {e}") from e
    ends = {k: _end(v) for k, v in by_stream.items()}
    declared = info.duration
    if declared and min(ends.values()) < declared - 0.5:
        raise MediaError(
            ClipStatus.truncated, f"packets end at {min(ends.values()):.2f}s but the header declares {declared:.2f}s"
        )
    real = min(ends.values())
    info.duration = round(real, 3)
    if real < min_duration or (want_duration and real < want_duration - 0.1):
        need = max(min_duration, want_duration or 0)
        raise MediaError(ClipStatus.too_short, f"{real:.2f}s long, {need:.2f}s required")
    peak = audio_peak_dbfs(path)
    if peak < silence_dbfs:
        raise MediaError(ClipStatus.silent, f"audio is silent (peak {peak:.1f} dBFS < {silence_dbfs} dBFS)")
    return info


def _times(packets, attr: str = "dts") -> list[float]:
    if not packets:
        return []
    tb = float(packets[0].time_base)
    return [getattr(p, attr) * tb for p in packets]


def _end(packets) -> float:
    if not packets:
        return 0.0
    tb = float(packets[0].time_base)
    return max((p.pts + (p.duration or 0)) * tb for p in packets if p.pts is not None)
