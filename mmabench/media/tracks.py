"""Shared encoded tracks: black video and digital silence, encoded once and muxed into variants by stream copy.

A frames_zeroed or audio_removed variant differs from its source by one track that depends only on the
source's geometry, timestamps and audio format, so it is the same for every clip of one kind (the `full`
split spent 87% of its synthesis re-encoding it per clip). Each track is encoded once into a folder (the
workspace's `media/.tracks`) under a key that hashes every parameter of the encode plus the library versions,
and stored by its content hash: `<folder>/<kind>-<key>/<sha256[:16]>.mp4`. A reader re-hashes the file (tens
of KB) before use and re-encodes on a mismatch, so a damaged entry is never muxed into a variant.

Safe under concurrent workers and processes: a track is written to a temp name (the `atomic_output` pattern,
swept after a kill) and renamed, without fsync (readers re-hash it before each use); the stage's threads
encode a key once (single flight), and two processes that race on one key produce the same bytes (x264 and
AAC run single-threaded) and rename atomically, so either wins. With no folder the track is encoded into a
temporary one: the same bytes, nothing kept. Silence costs the same for any length (`_silence_packets`).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import tempfile
import threading
from fractions import Fraction
from pathlib import Path
from typing import Callable, Iterator, Optional

import av
import numpy as np

from mmabench.media.files import sha256_file

TRACKS_DIR = ".tracks"  # under the media root, beside .scratch


def _versions() -> dict:
    return {"pyav": av.__version__, "libavcodec": list(av.library_versions["libavcodec"])}


_flights: dict[Path, threading.Lock] = {}
_flights_guard = threading.Lock()


@contextlib.contextmanager
def _track(folder: Optional[Path], kind: str, params: dict, encode: Callable[[Path], None]) -> Iterator[Path]:
    if folder is None:
        with tempfile.TemporaryDirectory(prefix="mmabench-track-") as scratch:
            encode(Path(scratch) / "track.mp4")
            yield Path(scratch) / "track.mp4"
        return
    key = hashlib.sha256(json.dumps({"kind": kind, **params, **_versions()}, sort_keys=True).encode()).hexdigest()
    d = Path(folder) / f"{kind}-{key[:32]}"
    with _flights_guard:
        flight = _flights.setdefault(d, threading.Lock())
    with flight:  # single flight within a process (the stage's threads); across processes the rename decides
        path = _lookup(d) or _publish(d, encode)
    yield path


def _lookup(d: Path) -> Optional[Path]:
    for f in sorted(d.glob("[!.]*.mp4")) if d.is_dir() else []:
        if sha256_file(f)[:16] == f.stem:
            return f
        f.unlink(missing_ok=True)  # damaged: never muxed; encoded again
    return None


def _publish(d: Path, encode: Callable[[Path], None]) -> Path:
    d.mkdir(parents=True, exist_ok=True)
    tmp = d / f".track.{os.getpid()}.{secrets.token_hex(6)}.part.mp4"  # sweep_partials' pattern
    try:
        encode(tmp)  # no fsync: a file torn by a power loss fails the hash every reader checks, and is re-made
        final = d / f"{sha256_file(tmp)[:16]}.mp4"
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)
    return final


def black_video(
    folder: Optional[Path], *, width: int, height: int, time_base: Fraction, rate: Fraction, pts: list[int], crf: int
) -> contextlib.AbstractContextManager[Path]:
    """An mp4 holding only black H.264 frames (x264 veryfast, one thread), one at each of `pts`."""
    params = {"width": width, "height": height, "time_base": str(time_base), "rate": str(rate), "crf": crf}
    params["pts"] = pts

    def encode(dst: Path) -> None:
        black = av.VideoFrame.from_ndarray(np.zeros((height, width, 3), np.uint8), format="rgb24")
        black = black.reformat(format="yuv420p")
        with av.open(str(dst), "w", format="mp4") as out:
            # one x264 thread: threaded encodes may differ byte for byte across machines and load, and a
            # variant must re-render to the same sha256 from its recipe
            ov = out.add_stream("libx264", rate=rate, options={"crf": str(crf), "preset": "veryfast", "threads": "1"})
            ov.codec_context.thread_count = 1
            ov.width, ov.height, ov.pix_fmt, ov.time_base = width, height, "yuv420p", time_base
            ov.codec_context.time_base = time_base
            for t in pts:
                frame = black.reformat()  # a fresh frame per timestamp; the encoder may keep references
                frame.pts, frame.time_base = t, time_base
                out.mux(ov.encode(frame))
            out.mux(ov.encode(None))

    return _track(folder, f"black-{width}x{height}", params, encode)


def silence(
    folder: Optional[Path], *, sample_rate: int, layout: str, samples: int
) -> contextlib.AbstractContextManager[Path]:
    """An mp4 holding only `samples` samples of AAC digital silence (the encoder's defaults)."""

    def encode(dst: Path) -> None:
        with av.open(str(dst), "w", format="mp4") as out:
            oa = out.add_stream("aac", rate=sample_rate, layout=layout)
            packets = _silence_packets(oa, samples)
            if packets is None:  # not the steady form the shortcut relies on: encode all of it
                out.close()
                with av.open(str(dst), "w", format="mp4") as again:
                    a = again.add_stream("aac", rate=sample_rate, layout=layout)
                    again.mux(_encode_zeros(a, samples))
                return
            for p in packets:
                out.mux(p)

    kind = f"silence-{sample_rate}-{layout.replace('(', '').replace(')', '')}"
    return _track(folder, kind, {"sample_rate": sample_rate, "layout": layout, "samples": samples}, encode)


def _encode_zeros(oa, samples: int) -> list:
    """AAC packets of `samples` zero samples, encoder flushed: frames of 1024 from pts 0."""
    channels = oa.codec_context.layout.nb_channels
    rate, layout = oa.codec_context.sample_rate, oa.codec_context.layout.name
    out = []
    for i in range(0, samples, 1024):
        n = min(1024, samples - i)
        frame = av.AudioFrame.from_ndarray(np.zeros((channels, n), np.float32), format="fltp", layout=layout)
        frame.sample_rate, frame.pts, frame.time_base = rate, i, Fraction(1, rate)
        out += oa.encode(frame)
    return out + oa.encode(None)


PROBE_FRAMES = 8  # silence encoded to learn its two packets
INFO_PERIOD = 256  # aacenc writes a fill element naming itself into frames 1, 257, 513, ... ((frame_num & 0xFF) == 1)


def _silence_packets(oa, samples: int) -> Optional[Iterator]:
    """The packets a full encode of `samples` zeros gives, from a short one, or None when the short one is not
    in the form this relies on. AAC digital silence is one identical packet per 1024 samples once the encoder
    has primed (its state no longer changes), the last cut short by its duration, except every INFO_PERIOD-th
    packet from the first, which adds the encoder's name: encoding PROBE_FRAMES frames and repeating those two
    costs the same for any length (a 10-s track took ~50 ms to encode). Same bytes as the full encode
    (tests/media, across lengths past INFO_PERIOD frames)."""
    probe = PROBE_FRAMES * 1024
    if samples <= probe:
        return None
    pkts = _encode_zeros(oa, probe)
    expected = [(1024 * (i - 1), 1024) for i in range(PROBE_FRAMES + 1)]
    if [(p.pts, p.duration) for p in pkts] != expected or len({bytes(p) for p in pkts[1:]}) != 1:
        return None
    if not all(p.dts == p.pts and p.is_keyframe for p in pkts):
        return None
    first, steady = pkts[0], pkts[1]

    def gen() -> Iterator:
        for i, t in enumerate(range(-1024, samples, 1024)):  # re-stamped and muxed again (the muxer takes a ref)
            p = first if i % INFO_PERIOD == 0 else steady
            p.pts = p.dts = t
            p.duration = min(1024, samples - t)
            yield p

    return gen()
