"""Readers shared by taggers, model adapters and exporters: sampled frames, mono audio, WAV bytes."""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any, Optional

import av
import numpy as np
from av.video.reformatter import VideoReformatter

# --- readers shared by taggers, model adapters and exporters -------------------------------------------------

DECODE_THREADS = int(os.environ.get("MMABENCH_DECODE_THREADS", "1"))  # 0 = FFmpeg's default (auto)


def sample_video_frames(path: str | Path, n: int) -> list:
    """n evenly spaced decoded frames (av.VideoFrame), decoding no more than needed.

    The packets are demuxed once (cheap, no decode). Where keyframes are dense enough that every sample
    time has a keyframe within half a sample spacing, only those keyframes are decoded (intra-coded: no
    reference chain). Otherwise one sequential decode that skips non-reference frames keeps the sampled
    frames (or, failing that, a plain sequential decode): seeking per sample is
    slower whenever keyframes are sparse (measured: 0.45 s for 8 seeks vs. 0.18 s for a full decode of a
    10-s clip), and keeping every frame would hold the whole clip in memory."""
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        return sample_stream_frames(v, [p for p in c.demux(v) if p.size], n)


def sample_stream_frames(v: av.video.stream.VideoStream, packets: list, n: int) -> list:
    """`sample_video_frames` on a video stream whose packets (non-empty, in file order) were demuxed already:
    a caller that reads several streams of one file demuxes it once."""
    # one decoder thread: parallelism comes from decoding several clips at once, and FFmpeg's default
    # (a thread per core, per decoder) oversubscribes a machine running many decode workers
    v.codec_context.thread_count = DECODE_THREADS
    pts = sorted(p.pts for p in packets if p.pts is not None)
    total = len(packets)
    want = np.linspace(0, max(total - 1, 0), n).round().astype(int)
    index = {t: i for i, t in enumerate(pts)}
    dense = _dense_keyframes(packets, index, want, total / max(n, 1)) if len(pts) == total else None
    if dense is not None:
        keys, nearest = dense
        frames = [f for p in keys for f in v.codec_context.decode(p)] + list(v.codec_context.decode(None))
        by_pts = {f.pts: f for f in frames}
        out = [by_pts[pts[i]] for i in nearest if pts[i] in by_pts]
        if len(out) == n:
            return out
        v.codec_context.flush_buffers()
    if len(pts) == total and total:
        # frames nothing refers to (most B-frames) are not decoded; each sample takes the nearest decoded
        # frame (measured: 35 -> 21 ms for 8 of 125 frames, at most one frame off)
        v.codec_context.skip_frame = "NONREF"
        fed, expect = _without_unused_gop_tails(v, packets, index, want)
        for attempt in (fed, packets) if fed is not packets else (packets,):
            best: list = [None] * n
            out_idx: list[int] = []
            for f in (f for p in attempt + [None] for f in v.codec_context.decode(p)):
                i = index.get(f.pts)
                out_idx += [] if i is None else [i]
                for k, w in enumerate(want if i is not None else ()):
                    if best[k] is None or abs(i - w) < abs(index[best[k].pts] - w):
                        best[k] = f
            if attempt is fed and fed is not packets and out_idx != expect:  # not the frames foreseen: all again
                v.codec_context.flush_buffers()
                continue
            break
        if all(f is not None and abs(index[f.pts] - w) <= 2 for f, w in zip(best, want)):
            return best
        v.codec_context.flush_buffers()
        v.codec_context.skip_frame = "DEFAULT"
    wanted, out, last = set(want.tolist()), [], None
    frames = (f for p in packets + [None] for f in v.codec_context.decode(p))
    for i, frame in enumerate(frames):
        last = frame
        if i in wanted:
            out.append(frame)
    while len(out) < n and last is not None:  # stream shorter than its header said
        out.append(last)
    return out[:n]


def _without_unused_gop_tails(v: Any, packets: list, index: dict, want: np.ndarray) -> tuple[list, list[int]]:
    """The packets a NONREF decode needs to give the same samples, and the frames (presentation indices, in
    order) it will then output; (packets, []) where that cannot be told.

    An H.264 slice says whether anything refers to it (nal_ref_idc), so which frames a NONREF decode makes
    is known before decoding, and with it the nearest decoded frame to each sample. A frame after the last
    such frame of its GOP (in decode order) and before the next IDR is needed by nothing kept: IDR pictures
    reset the references. Those are not decoded (about a quarter of the reference frames of the demo's
    5-s clips, sampled 8 times). The caller checks the frames it gets against the ones foreseen."""
    refs = _h264_refs(v, packets)
    if refs is None or not refs[0][1]:
        return packets, []
    made = [index[p.pts] for p, (ref, _) in zip(packets, refs) if ref]
    if not made:
        return packets, []
    best = [min(made, key=lambda i: (abs(i - w), i)) for w in want.tolist()]
    if any(abs(b - w) > 2 for b, w in zip(best, want.tolist())):
        return packets, []  # the caller decodes everything anyway
    order = {index[p.pts]: k for k, p in enumerate(packets)}
    idr = [k for k, (_, is_idr) in enumerate(refs) if is_idr]
    last: dict[int, int] = {}
    for b in best:
        k = order[b]
        gop = max(g for g in idr if g <= k)
        last[gop] = max(last.get(gop, k), k)
    keep = [False] * len(packets)
    for j, g in enumerate(idr):
        for k in range(g, min(last.get(g, g - 1) + 1, idr[j + 1] if j + 1 < len(idr) else len(packets))):
            keep[k] = True
    fed = [p for p, k in zip(packets, keep) if k]
    return fed, sorted(index[p.pts] for p, k, (ref, _) in zip(packets, keep, refs) if k and ref)


def _h264_refs(v: Any, packets: list) -> Optional[list[tuple[bool, bool]]]:
    """(referenced, IDR) per packet of an H.264 stream in MP4 form (length-prefixed NAL units), from its slice
    headers' first byte; None for anything else, or a packet whose slices disagree."""
    cc = v.codec_context
    ex = cc.extradata or b""
    if cc.name != "h264" or len(ex) < 7 or ex[0] != 1:
        return None
    size_len = (ex[4] & 3) + 1
    out = []
    for p in packets:
        b, at, got = bytes(p), 0, None
        while at + size_len <= len(b):
            size = int.from_bytes(b[at : at + size_len], "big")
            at += size_len
            if size == 0 or at + size > len(b):
                return None
            kind, ref = b[at] & 0x1F, (b[at] >> 5) & 3
            if kind in (1, 5):  # a slice: of an IDR picture (5) or not
                this = (kind == 5 or ref != 0, kind == 5)
                if got is not None and got != this:
                    return None
                got = this
            at += size
        if got is None or at != len(b) or got[1] != bool(p.is_keyframe):
            return None
        out.append(got)
    return out


def _dense_keyframes(packets: list, index: dict, want: np.ndarray, spacing: float) -> Optional[tuple]:
    """(the keyframe packets nearest each wanted frame index, those frames' indices), or None when some
    sample has no keyframe within half a spacing. `index`: pts -> presentation index."""
    key_idx = np.array(sorted(index[p.pts] for p in packets if p.is_keyframe))
    if len(key_idx) < len(set(want.tolist())):
        return None
    nearest = key_idx[np.abs(key_idx[None, :] - want[:, None]).argmin(axis=1)]
    if np.abs(nearest - want).max() > spacing / 2:
        return None
    near = set(nearest.tolist())
    chosen = {t for t, i in index.items() if i in near}
    return [p for p in packets if p.is_keyframe and p.pts in chosen], nearest


def load_audio(path: str | Path, rate: int = 16000) -> Optional[np.ndarray]:
    """The first audio stream as mono float32 at `rate` (channels averaged); None when the file has no audio
    stream.

    Decoded frames are taken as they come (AAC, MP3, Opus and Vorbis decode to float already; other sample
    formats go through swresample for the format only): each frame's planes are appended as bytes and
    viewed as one array at the end, then averaged to mono and resampled in one call with soxr (HQ).
    Measured on 5-s 48-kHz mono AAC clips: `to_ndarray` per frame (236 of them) cost 2.5 ms of a 7-ms
    decode; soxr 0.9 ms per clip against 5.6-10 ms for swresample through PyAV's AudioResampler. No decoder
    in use here can emit 16 kHz directly (AAC and MP3 decode at the coded rate), so a stream that is already
    at `rate` skips the resampler and any other gets exactly one resampling pass."""
    with av.open(str(path), options=PROBE) as c:
        if not c.streams.audio:
            return None
        stream = c.streams.audio[0]
        return decode_audio(stream, [p for p in c.demux(stream) if p.size], rate)


def decode_audio(stream: av.audio.stream.AudioStream, packets: list, rate: int = 16000) -> np.ndarray:
    """`load_audio` on an audio stream whose packets (non-empty, in file order) were demuxed already."""
    src, planes, to_float = 0, None, None
    for frame in (f for p in packets + [None] for f in stream.codec_context.decode(p)):
        src = src or frame.sample_rate
        if frame.format.name not in ("fltp", "flt"):
            to_float = to_float or av.AudioResampler(format="fltp", layout=frame.layout, rate=frame.sample_rate)
            for f in to_float.resample(frame):
                planes = _append(planes, f)
        else:
            planes = _append(planes, frame)
    if to_float is not None:
        for f in to_float.resample(None):
            planes = _append(planes, f)
    if planes is None:
        return np.zeros(0, np.float32)
    x = _mono(planes)
    if src != rate:
        import soxr  # one resampling pass over the whole soundtrack, not one per decoded frame

        x = soxr.resample(x, src, rate)
    return np.ascontiguousarray(x, dtype=np.float32)


# rate and layout are read from the decoded frames, so the open need not estimate what the header gives
# (as writers.PROBES["store"]; measured 1.1 ms per clip less)
PROBE = {"analyzeduration": "1"}


class _Planes:
    """Float samples gathered frame by frame as raw bytes: planar, one buffer per channel; packed, one
    interleaved buffer."""

    def __init__(self, channels: int, planar: bool):
        self.channels, self.planar = channels, planar
        self.bufs = [bytearray() for _ in range(channels if planar else 1)]


def _append(planes: Optional[_Planes], frame: av.AudioFrame) -> _Planes:
    channels, planar = frame.layout.nb_channels, frame.format.is_planar
    if planes is None:
        planes = _Planes(channels, planar)
    elif (planes.channels, planes.planar) != (channels, planar):
        raise ValueError(f"audio layout changed mid-stream ({planes.channels} -> {channels} channels)")
    n = frame.samples * 4 * (1 if planar else channels)  # plane buffers may be padded past the samples
    for buf, plane in zip(planes.bufs, frame.planes):
        buf += memoryview(plane)[:n]
    return planes


def _mono(planes: _Planes) -> np.ndarray:
    """The gathered samples as 1-D mono: channels averaged in float32 (as (channels, n).mean(axis=0))."""
    if planes.planar:
        chans = [np.frombuffer(b, np.float32) for b in planes.bufs]
        return chans[0] if len(chans) == 1 else np.stack(chans).mean(axis=0, dtype=np.float32)
    x = np.frombuffer(planes.bufs[0], np.float32)
    return x if planes.channels == 1 else x.reshape(-1, planes.channels).T.mean(axis=0, dtype=np.float32)


def preload() -> None:
    """Import what `decode_audio` and `wav_bytes` import on first use (~35 ms of CPU, most of it soxr and the
    numpy.typing it pulls in). For a process about to fork decode workers: imported once here, each worker
    has it, instead of each importing it again on its first file. Imported lazily for everyone else, so
    `import mmabench.media` stays light."""
    import wave  # noqa: F401

    import soxr  # noqa: F401


def wav_bytes(samples: np.ndarray, rate: int = 16000) -> bytes:
    """16-bit mono WAV."""
    import io
    import wave

    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return buf.getvalue()


def sample_frames(path: str | Path, n: int = 8, size: int = 224) -> np.ndarray:
    """n evenly spaced frames as (n, size, size, 3) uint8, centre-cropped after a short-side resize."""
    return np.stack([crop_frame(f, size) for f in sample_video_frames(path, n)])


def crop_frame(frame: av.VideoFrame, size: int) -> np.ndarray:
    """Short side resized to `size` (bilinear), then the centre size x size square, as RGB uint8."""
    w, h = frame.width, frame.height
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    # bilinear: half the cost of swscale's default (bicubic) and what torchvision's Resize uses
    img = _reformatter().reformat(frame, width=nw, height=nh, format="rgb24", interpolation="BILINEAR").to_ndarray()
    y, x = (nh - size) // 2, (nw - size) // 2
    return img[y : y + size, x : x + size]


_LOCAL = threading.local()


def _reformatter() -> VideoReformatter:
    """One swscale context per thread, reused while the geometry stays the same: `frame.reformat` builds a
    new one per frame (measured 1.0 -> 0.86 ms per 320x240 frame, same pixels)."""
    r = getattr(_LOCAL, "reformatter", None)
    if r is None:
        r = _LOCAL.reformatter = VideoReformatter()
    return r
