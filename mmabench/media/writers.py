"""Writers: each takes input paths and an output path, returns facts, and writes atomically.

Stream copy wherever the container allows: aligned, av_swap, and audio_removed / frames_zeroed, whose silence
or black video is a shared track encoded once (`media.tracks`); re-encoding only for an exact cut between
keyframes and the study's preprocessing (`normalize`).

`fsync=False` is for files the caller can re-make and checks (variants: the manifest records each one's
sha256 and size, the next build re-renders a file whose size disagrees and `verify --repair` one whose hash
does); the temp-then-rename stays, so a killed writer never leaves a half file under the final name."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any, Optional

import av
from av.stream import Discard
from av.video.frame import PictureType

from mmabench.media.files import MUX_OPTIONS, MediaError, atomic_output
from mmabench.media.probe import _end, _times
from mmabench.media.tracks import black_video, silence
from mmabench.schema import ClipStatus

# --- writers: each takes input paths and an output path, returns facts, writes atomically ------------------


# How much of an input `av.open` reads before demuxing (PyAV always runs avformat_find_stream_info):
# - "full": everything it wants (ingest reads downloads of any container);
# - "store": a clip of the media store or a shared track, an mp4 we wrote: its header (moov) says all the
#   muxer needs, so no decoder is opened (`codec_whitelist` matches none; opening H.264's or AAC's builds
#   tables and buffers, and decoding a first frame for facts the header holds was most of an open's cost)
#   and one packet at most is read ahead. The one fact the muxer takes from a decoded frame that codec
#   parameters then lack is the video's sample aspect ratio, read from the header's `pasp` box instead
#   (`_Input.track`); our muxer wrote that box from the decoded ratio, so the variants' bytes are those of a
#   full probe (tests/media: over mediagen, demo and study-like clips);
# - "store-aac": the same, with the AAC decoder opened (not H.264's): its init says the channel layout and
#   rate a decoder gives, which the silence that replaces the track must match.
PROBES: dict[str, dict[str, str]] = {
    "full": {},
    "store": {"analyzeduration": "1", "probesize": "32", "codec_whitelist": "none"},
    "store-aac": {"analyzeduration": "1", "probesize": "32", "codec_whitelist": "aac"},
}


class _Input:
    """One open input: its first video/audio stream and their packets (demuxed once, no decode; only the
    streams in `kinds` are read, the others discarded in the demuxer, which then never reads their bytes).
    Times are floats computed with a float time base: Fraction arithmetic per packet costs more than the
    mux. `probe`: a key of PROBES; a store probe also names the container (no format sniffing)."""

    def __init__(self, path: str | Path, kinds: tuple[str, ...] = ("video", "audio"), probe: str = "full"):
        self.header_only = probe != "full"
        self.container = av.open(str(path), format="mp4" if self.header_only else None, options=PROBES[probe])
        self.kinds = kinds
        self._cache: dict[str, list] = {}

    def stream(self, kind: str):
        return getattr(self.container.streams, kind)[0]

    def packets(self, kind: str) -> list:
        if kind not in self._cache:
            wanted = [getattr(self.container.streams, k)[0] for k in self.kinds if getattr(self.container.streams, k)]
            for s in self.container.streams:
                s.discard = Discard.default if s in wanted else Discard.all
            by_index: dict[int, list] = {s.index: self._cache.setdefault(s.type, []) for s in wanted}
            for k in self.kinds:
                self._cache.setdefault(k, [])
            for p in self.container.demux(wanted):
                if p.size and p.dts is not None:  # not the flush packets demux ends with
                    by_index[p.stream_index].append(p)
        return self._cache[kind]

    def end(self, kind: str) -> float:
        """Where `kind`'s packets end, in seconds. An audio stream not among `kinds` of a store clip is read
        from its last index entry on (a seek), not demuxed: its timestamps only grow, so its last packets
        end it."""
        if kind in self.kinds or not self.header_only or kind != "audio":
            return _end(self.packets(kind))
        for k in self.kinds:  # demuxed first: the seek leaves the demuxer at the end
            self.packets(k)
        s = self.stream(kind)
        entries = s.index_entries
        for o in self.container.streams:
            o.discard = Discard.default if o is s else Discard.all
        self.container.seek(entries[len(entries) - 1].timestamp if len(entries) else 0, stream=s)
        return _end([p for p in self.container.demux(s) if p.size and p.dts is not None])

    def track(self, kind: str, packets: Optional[list] = None) -> tuple:
        """(template stream, packets, sample aspect ratio to set on the output or None) for `_mux`."""
        s = self.stream(kind)
        sar = None
        if kind == "video" and self.header_only and not s.codec_context.sample_aspect_ratio:
            sar = s.sample_aspect_ratio  # the container's pasp box (the stream's own, not a decoder's)
        return s, self.packets(kind) if packets is None else packets, sar

    def __enter__(self) -> "_Input":
        return self

    def __exit__(self, *exc) -> None:
        self.container.close()


def _mux(dst: Path, tracks: list[tuple], fsync: bool = True) -> None:
    """tracks: (template stream, packets[, sample aspect ratio]). Packets are interleaved by dts, then muxed
    by stream copy."""
    with atomic_output(dst, fsync=fsync) as tmp:
        with av.open(str(tmp), "w", format="mp4", options=MUX_OPTIONS) as out:
            streams = []
            for tpl, pkts, *sar in tracks:
                s = out.add_stream_from_template(tpl)
                if sar and sar[0]:
                    s.codec_context.sample_aspect_ratio = sar[0]
                streams.append((s, pkts))
            _interleave(out, streams)


# the one re-encode an exact cut needs (the section's video; audio is cut on its packet grid, one AAC frame)
CUT_RECIPE = {"vcodec": "libx264", "preset": "veryfast", "crf": 18, "pix_fmt": "yuv420p", "threads": 1}


def remux(
    src: str | Path,
    dst: str | Path,
    start: Optional[float] = None,
    end: Optional[float] = None,
    *,
    fsync: bool = True,
    probe: str = "full",
) -> dict[str, Any]:
    """Stream-copy both streams, optionally keeping [start, end). The cut is exact: video starts at the frame
    at `start` (nearest, half a frame either way). When `start` falls on a keyframe everything is stream
    copied; otherwise the section's video is decoded from the keyframe before and re-encoded (CUT_RECIPE,
    single-threaded so it re-renders byte for byte). Returns what was done, for the clip's provenance.
    `probe="store"` for a clip of the media store (see PROBES)."""
    with _Input(src, probe=probe) as inp:
        vp, ap = inp.packets("video"), inp.packets("audio")
        if start is None and end is None:
            _mux(Path(dst), [inp.track("video"), inp.track("audio")], fsync)
            return {}
        v = inp.stream("video")
        half = 0.5 / float(v.average_rate or 25)
        lo, hi = start or 0.0, end if end is not None else float("inf")
        vt = _times(vp, "pts")
        on_key = any(p.is_keyframe and abs(t - lo) <= half for t, p in zip(vt, vp)) or lo <= half
        ap = _shifted([p for t, p in zip(_times(ap, "pts"), ap) if lo - 1e-6 <= t < hi])
        if on_key:
            kept = _shifted([p for t, p in zip(vt, vp) if lo - half <= t < hi - half])
            _mux(Path(dst), [inp.track("video", kept), inp.track("audio", ap)], fsync)
            return {"cut": {"start": start, "end": end, "video": "copy"}}
        frames = _encode_section(inp, vp, vt, lo - half, hi - half, Path(dst), ap)
        return {"cut": {"start": start, "end": end, "video": "reencode", "frames": frames, **CUT_RECIPE}}


def _shifted(pkts: list) -> list:
    shift = pkts[0].pts if pkts else 0
    for p in pkts:
        p.pts -= shift
        p.dts -= shift
    return pkts


def _encode_section(inp: "_Input", vp: list, vt: list[float], lo: float, hi: float, dst: Path, ap: list) -> int:
    """Decode from the last keyframe at or before `lo`, re-encode the frames in [lo, hi) from pts 0."""
    v = inp.stream("video")
    first = max((i for i, (t, p) in enumerate(zip(vt, vp)) if p.is_keyframe and t <= lo), default=0)  # dts order
    tb = v.time_base
    frames = []
    for p in vp[first:]:
        frames += [f for f in v.codec_context.decode(p) if lo <= f.pts * float(tb) < hi]
    frames += [f for f in v.codec_context.decode(None) if lo <= f.pts * float(tb) < hi]
    frames.sort(key=lambda f: f.pts)
    if not frames:
        raise MediaError(ClipStatus.too_short, f"no video frame in [{lo:.3f}, {hi:.3f})")
    r = CUT_RECIPE
    with atomic_output(dst) as tmp:
        with av.open(str(tmp), "w", format="mp4", options=MUX_OPTIONS) as out:
            ov = out.add_stream(
                r["vcodec"],
                rate=v.average_rate or Fraction(25),
                options={"crf": str(r["crf"]), "preset": r["preset"], "threads": str(r["threads"])},
            )
            ov.codec_context.thread_count = 1
            ov.width, ov.height, ov.pix_fmt, ov.time_base = frames[0].width, frames[0].height, r["pix_fmt"], tb
            ov.codec_context.time_base = tb
            oa = out.add_stream_from_template(inp.stream("audio"))
            encoded, shift = [], frames[0].pts
            for f in frames:
                g = f.reformat(format=r["pix_fmt"])
                g.pts, g.time_base, g.pict_type = f.pts - shift, tb, PictureType.NONE  # let x264 choose
                encoded += ov.encode(g)
            encoded += ov.encode(None)
            _interleave(out, [(ov, encoded), (oa, ap)])
    return len(frames)


def swap_audio(video_src: str | Path, audio_src: str | Path, dst: str | Path, *, fsync: bool = True) -> dict:
    """Frames of `video_src` with the soundtrack of `audio_src`, trimmed to the video's length; stream copy.
    Like remove_audio and zero_frames, it reads mp4 clips of the media store (PROBES["store"])."""
    with _Input(video_src, ("video",), "store") as vin, _Input(audio_src, ("audio",), "store") as ain:
        vp = vin.packets("video")
        video_end = _end(vp)
        aps = ain.packets("audio")
        ap = [p for t, p in zip(_times(aps, "pts"), aps) if t < video_end]
        _mux(Path(dst), [vin.track("video"), ain.track("audio", ap)], fsync)
        return {"video_s": round(video_end, 3), "audio_s": round(_end(ap), 3)}


def remove_audio(
    src: str | Path, dst: str | Path, mode: str = "silence", *, tracks: Optional[Path] = None, fsync: bool = True
) -> dict:
    """Video stream copied; audio replaced by digital silence of the original track's length and format
    (mode="silence") or dropped (mode="drop"). The silence is a shared track (`media.tracks`): encoded once
    per (sample rate, layout, length) into `tracks`, stream-copied from there."""
    if mode not in ("silence", "drop"):
        raise ValueError(f"audio_removed mode must be 'silence' or 'drop', not {mode!r}")
    if mode == "drop":
        with _Input(src, ("video",), "store") as inp:
            _mux(Path(dst), [inp.track("video")], fsync)
        return {"audio": "dropped"}
    inp = _Input(src, ("video",), "store-aac")
    try:
        if inp.stream("audio").codec_context.name != "aac":  # only AAC's decoder was opened: ask the full probe
            inp.container.close()
            inp = _Input(src, ("video", "audio"), "full")
    except BaseException:  # no audio stream: closed, then raised as before
        inp.container.close()
        raise
    with inp:
        a = inp.stream("audio")
        rate, layout = a.codec_context.sample_rate, a.codec_context.layout.name
        seconds = inp.end("audio")
        with silence(tracks, sample_rate=rate, layout=layout, samples=int(round(seconds * rate))) as track:
            with _Input(track, ("audio",), "store") as quiet:
                _mux(Path(dst), [inp.track("video"), quiet.track("audio")], fsync)
        return {
            "audio": "silence",
            "seconds": round(seconds, 3),
            "sample_rate": rate,
            "layout": layout,
            "source_codec": a.codec_context.name,
        }


def zero_frames(
    src: str | Path, dst: str | Path, crf: int = 18, *, tracks: Optional[Path] = None, fsync: bool = True
) -> dict:
    """Black frames with the source's size, rate, count and timestamps (H.264); audio stream copied.

    Reads only video packet timestamps — nothing of the source video is decoded. The black video is a shared
    track (`media.tracks`): encoded once per (size, time base, rate, timestamps, crf) into `tracks`."""
    with _Input(src, probe="store") as inp:
        v = inp.stream("video")
        w, h, tb = v.codec_context.width, v.codec_context.height, v.time_base
        rate = v.average_rate or Fraction(25)
        pts = sorted(p.pts for p in inp.packets("video") if p.pts is not None)
        with black_video(tracks, width=w, height=h, time_base=tb, rate=rate, pts=pts, crf=crf) as track:
            with _Input(track, ("video",), "store") as black:
                _mux(Path(dst), [black.track("video"), inp.track("audio")], fsync)
        return {
            "frames": len(pts),
            "width": w,
            "height": h,
            "fps": float(rate),
            "codec": "libx264",
            "crf": crf,
            "threads": 1,
        }


def _interleave(out, tracks: list[tuple]) -> None:
    """Mux (output stream, packets) tracks in dts order; packets are re-pointed at their output stream."""
    packets: list = []
    times: list[float] = []
    for stream, pkts in tracks:
        for p in pkts:
            p.stream = stream
        packets += pkts
        times += _times(pkts)
    # a stable sort on dts alone keeps (track, index) order among equal times; one call muxes them all
    out.mux([packets[i] for i in sorted(range(len(packets)), key=times.__getitem__)])


# --- re-encoding: the study's preprocessing (the one place a clip is transcoded) ---------------------------

NORMALIZE_RECIPE = {
    "crop": "centre square",
    "max_seconds": 10.0,
    "vcodec": "libx264",
    "preset": "veryfast",
    "crf": 18,
    "pix_fmt": "yuv420p",
    "acodec": "aac",
    "audio_bitrate": "128k",
}


def normalize(
    src: str | Path, dst: str | Path, size: int = 504, start: Optional[float] = None, end: Optional[float] = None
) -> None:
    """Centre-crop to a square, scale to size x size, keep the first 10 s (of [start, end)), H.264 + AAC.

    An ffmpeg filter graph (ffmpeg-python over the imageio-ffmpeg binary): this is a real transcode, where a
    process per clip costs nothing next to the encode."""
    import ffmpeg
    import imageio_ffmpeg

    r = NORMALIZE_RECIPE
    seconds = r["max_seconds"] if end is None else min(r["max_seconds"], end - (start or 0.0))
    inp = ffmpeg.input(str(src), **({"ss": start} if start else {}))
    v = inp.video.filter("crop", "min(iw,ih)", "min(iw,ih)").filter("scale", size, size).filter("setsar", 1)
    with atomic_output(dst) as tmp:
        try:
            (
                ffmpeg.output(
                    v,
                    inp.audio,
                    str(tmp),
                    t=seconds,
                    vcodec=r["vcodec"],
                    preset=r["preset"],
                    crf=r["crf"],
                    pix_fmt=r["pix_fmt"],
                    acodec=r["acodec"],
                    audio_bitrate=r["audio_bitrate"],
                    movflags="+faststart",
                    format="mp4",
                )
                .overwrite_output()
                .run(cmd=imageio_ffmpeg.get_ffmpeg_exe(), quiet=True)
            )
        except ffmpeg.Error as e:
            tail = (e.stderr or b"").decode(errors="replace").strip().splitlines()[-1:] or ["ffmpeg failed"]
            raise MediaError(ClipStatus.error, f"normalise failed: {tail[0]}") from e
