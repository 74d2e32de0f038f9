"""What a model is actually sent: sampled frames (JPEG) and the soundtrack (16-kHz mono WAV), from the
variant file itself — so an audio_removed variant sends its silence (or nothing, if the stream was
dropped), never the original track. Every part is hashed and recorded per prediction.

A payload is two parts, each a function of one stream: the frames of the video stream, the WAV of the audio
stream. `Demuxed` opens a file once and digests its streams; `make_part` is the CPU-bound half (decode + JPEG
encode, decode + resample), which `payloads.PayloadStore` runs once per (stream digest, spec) in worker
processes, keeping each part on disk in the `to_bytes` form; `prepare_parts` is the same without a cache.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import struct
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Optional

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from mmabench.media import decode_audio, sample_stream_frames, wav_bytes
from mmabench.schema.ids import canonical_json
from mmabench.version import __version__

# v2: one MJPEG encoder per file at a fixed quantiser. v1 opened a rate-controlled encoder per frame, so each
# frame's quality was that encoder's first-frame guess (q 2-6 by content); a shared rate-controlled encoder
# drifts frame to frame, a fixed one does not (and encodes each frame exactly as a fresh one would).
PREP_VERSION = 2
JPEG_Q = 3  # ~ the old median quality and size (88 vs 83 kB for 8 frames of 320x240)
MAGIC = b"MMAPAYL2"


@dataclass(frozen=True)
class PayloadSpec:
    """Which parts of a file a request sends; with the file's sha256 and PREP_VERSION, the cache key."""

    frames: int = 8  # evenly spaced JPEG frames; 0: none
    audio: bool = True  # the soundtrack as mono WAV at `rate`
    rate: int = 16000
    mp4: bool = False  # the file's own bytes: read, never decoded nor cached (the file is on disk already)

    def key(self, media_sha256: str) -> str:
        what = {"media": media_sha256, "frames": self.frames, "audio": self.audio, "rate": self.rate}
        # the decoders' versions too: a new FFmpeg (or resampler in mmabench.media) may change the bytes
        how = {"prep": PREP_VERSION, "pyav": av.__version__, "mmabench": __version__}
        return hashlib.sha256(canonical_json({**what, **how}).encode()).hexdigest()


@dataclass
class MediaParts:
    frames: tuple[bytes, ...] = ()  # JPEG
    audio_wav: Optional[bytes] = None  # None: no audio stream, or not asked for
    audio_seconds: float = 0.0
    audio_peak_dbfs: float = float("-inf")
    video_mp4: Optional[bytes] = None
    sent: dict = field(default_factory=dict)
    memo: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)  # adapter-built forms

    def to_bytes(self, key: str) -> bytes:
        """MAGIC, a 4-byte header length, a JSON header (key, part lengths, body sha256), the parts."""
        body = b"".join(self.frames) + (self.audio_wav or b"")
        peak = self.audio_peak_dbfs if math.isfinite(self.audio_peak_dbfs) else None
        head = {
            "key": key,
            "frames": [len(f) for f in self.frames],
            "audio": None if self.audio_wav is None else len(self.audio_wav),
            "seconds": self.audio_seconds,
            "peak": peak,
            "sent": self.sent,
            "sha256": hashlib.sha256(body).hexdigest(),
        }
        h = json.dumps(head).encode()
        return MAGIC + len(h).to_bytes(4, "big") + h + body

    @classmethod
    def from_bytes(cls, data: bytes, key: str) -> Optional["MediaParts"]:
        """The parts, or None unless `data` is a complete, intact payload written for `key`."""
        try:
            if data[:8] != MAGIC:
                return None
            n = int.from_bytes(data[8:12], "big")
            head = json.loads(data[12 : 12 + n])
            body = memoryview(data)[12 + n :]
            sizes = head["frames"] + ([head["audio"]] if head["audio"] is not None else [])
            if head["key"] != key or sum(sizes) != len(body) or hashlib.sha256(body).hexdigest() != head["sha256"]:
                return None
            parts, at = [], 0
            for s in sizes:
                parts.append(bytes(body[at : at + s]))
                at += s
            wav = parts.pop() if head["audio"] is not None else None
            peak = float("-inf") if head["peak"] is None else float(head["peak"])
            return cls(tuple(parts), wav, float(head["seconds"]), peak, None, head["sent"])
        except (ValueError, KeyError, TypeError):
            return None


def _jpegs(frames: list) -> list[bytes]:
    """One MJPEG encoder for all frames of a file (they share one geometry); intra-only at a fixed
    quantiser, so each frame encodes as it would alone and nothing is held back for a flush. One swscale
    context too: `frame.reformat` builds one per frame (measured 3-5 -> 0.8-1.2 ms for 8 frames of 320x240,
    the same pixels)."""
    if not frames:
        return []
    f0 = frames[0]
    cc = av.CodecContext.create("mjpeg", "w")
    cc.width, cc.height, cc.pix_fmt = f0.width, f0.height, "yuvj420p"
    cc.time_base = f0.time_base or 1
    cc.qmin = cc.qmax = JPEG_Q
    sws = VideoReformatter()
    out = [b"".join(bytes(p) for p in cc.encode(sws.reformat(f, format="yuvj420p"))) for f in frames]
    if any(cc.encode(None)) or not all(out):
        raise RuntimeError("the MJPEG encoder held frames back")
    return out


def _sha(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()[:16]


# An open probes no further than the header and decodes nothing ("store-nodecode" in media.writers: the
# variants are mp4s we wrote): ~1 ms instead of ~2.5, when the open is most of what a file with shared
# streams costs. The decoders still get everything (the frames and samples are those of a default open).
OPEN_OPTIONS = {"analyzeduration": "1", "skip_frame": "all"}


class Demuxed:
    """One file open once: its first video and audio stream and their packets (demuxed, nothing decoded).
    `data`: the file's bytes, read already: demuxed from memory, so what is decoded is what was read.
    `kinds`: the streams ("video", "audio") whose packets are wanted; the others' are skipped unread."""

    def __init__(self, path: str | Path, data: Optional[bytes] = None, kinds: Iterable[str] = ("video", "audio")):
        src: Any = str(path) if data is None else io.BytesIO(data)
        self.container = av.open(src, options=OPEN_OPTIONS)
        c = self.container
        self.video = c.streams.video[0] if c.streams.video else None
        self.audio = c.streams.audio[0] if c.streams.audio else None
        kinds = set(kinds)
        streams = [s for s in (self.video, self.audio) if s is not None and s.type in kinds]
        self.packets: dict[int, list] = {s.index: [] for s in streams}
        for pkt in c.demux(streams) if streams else ():
            if pkt.size:
                self.packets[pkt.stream.index].append(pkt)

    def __enter__(self) -> "Demuxed":
        return self

    def __exit__(self, *exc: object) -> None:
        self.container.close()

    def digest(self, stream: Any) -> str:
        """sha256 of all that decoding `stream` reads: codec parameters and every packet (bytes, times, flags,
        side data). Streams stream-copied from one source (a clip, its av_swap and audio_removed variants; every
        black or silent track of one geometry) share a digest, so their part is prepared once."""
        cc = stream.codec_context
        head: dict[str, Any] = {
            "type": stream.type,
            "codec": cc.name,
            "time_base": str(stream.time_base),
            "extradata": (cc.extradata or b"").hex(),
        }
        if stream.type == "video":
            head.update(width=cc.width, height=cc.height, format=cc.format.name if cc.format else None)
        else:
            head.update(rate=cc.sample_rate, layout=cc.layout.name, format=cc.format.name if cc.format else None)
        h = hashlib.sha256(canonical_json(head).encode())
        none = -(1 << 63)
        for pkt in self.packets[stream.index]:
            flags = pkt.is_keyframe | pkt.is_discard << 1 | pkt.is_corrupt << 2
            h.update(_TIMES.pack(_or(pkt.pts, none), _or(pkt.dts, none), pkt.duration or 0, flags, pkt.size))
            h.update(pkt)
            for side in pkt.iter_sidedata():  # e.g. the samples an edit list skips (AAC priming)
                name = str(side.data_type).encode()
                h.update(_SIDE.pack(len(name), side.data_size) + name)
                h.update(side)
        return h.hexdigest()


_TIMES = struct.Struct("<qqqBq")
_SIDE = struct.Struct("<qq")


def _or(x: Optional[int], default: int) -> int:
    return default if x is None else x


# A payload is two parts, each a function of one stream (plus the spec): the frames of the video stream, the WAV
# of the audio stream. Each is a MediaParts holding only its own fields and `sent` entries.
PARTS = ("frames", "audio")


def needed(spec: PayloadSpec) -> tuple[str, ...]:
    return tuple(k for k, on in zip(PARTS, (spec.frames > 0, spec.audio)) if on)


def part_key(kind: str, digest: str, spec: PayloadSpec) -> str:
    what = {"part": kind, "stream": digest, **({"frames": spec.frames} if kind == "frames" else {"rate": spec.rate})}
    how = {"prep": PREP_VERSION, "pyav": av.__version__, "mmabench": __version__}
    return hashlib.sha256(canonical_json({**what, **how}).encode()).hexdigest()


def part_stream(d: Demuxed, kind: str) -> Any:
    return d.video if kind == "frames" else d.audio


def make_part(d: Demuxed, kind: str, spec: PayloadSpec) -> MediaParts:
    """The CPU-bound half: decode + JPEG encode (frames), decode + resample (audio)."""
    if kind == "frames":
        v = d.video
        frames = _jpegs(sample_stream_frames(v, d.packets[v.index], spec.frames)) if v is not None else []
        sha = _sha(b"".join(frames)) if frames else None
        return MediaParts(tuple(frames), sent={"frames": len(frames), "frames_sha256": sha})
    a = d.audio
    if a is None:
        return MediaParts()
    x = decode_audio(a, d.packets[a.index], spec.rate)
    seconds = len(x) / spec.rate
    p = float(np.abs(x).max(initial=0.0))
    peak = 20 * np.log10(p) if p > 0 else float("-inf")
    wav = wav_bytes(x, spec.rate)
    audio = {
        "seconds": round(float(seconds), 3),
        "peak_dbfs": round(float(peak), 1) if np.isfinite(peak) else None,
        "sha256": _sha(wav),
        "silent": bool(not np.isfinite(peak) or peak < -60),
    }
    return MediaParts((), wav, float(seconds), float(peak), sent={"audio": audio})


def joined(got: dict[str, MediaParts]) -> MediaParts:
    """One payload from its parts (a part not asked for, or whose stream the file lacks, is absent)."""
    f, a = got.get("frames") or MediaParts(), got.get("audio") or MediaParts()
    sent = {"frames": len(f.frames), "frames_sha256": f.sent.get("frames_sha256"), "audio": a.sent.get("audio")}
    return MediaParts(f.frames, a.audio_wav, a.audio_seconds, a.audio_peak_dbfs, None, sent)


def prepare_parts(path: str | Path, spec: PayloadSpec) -> MediaParts:
    """`spec.frames` evenly spaced frames (JPEG) and the audio resampled to mono `spec.rate` (WAV), from the
    file itself, with no cache (`payloads` keeps each part on disk by its stream's digest). CPU-bound (~30 ms
    for a 5-s 320x240 clip): run it in a worker, not a request thread."""
    with Demuxed(path) as d:
        got = {k: make_part(d, k, spec) for k in needed(spec) if part_stream(d, k) is not None}
    parts = joined(got)
    parts.video_mp4 = Path(path).read_bytes() if spec.mp4 else None
    return parts
