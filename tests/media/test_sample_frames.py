"""Sampled frames: a NONREF decode of H.264 leaves out the GOP tails no sample needs (frames after the last
needed one of a GOP, before the next IDR picture) and gives exactly the frames of the full NONREF decode."""

from fractions import Fraction

import av
import numpy as np
import pytest

from mmabench.media import decode
from tests.mediagen import make_clip


def _clip(path, *, seconds=5, fps=25, gop=25, bframes=3, size=(96, 64)):
    """x264 with B-frames (some referenced, some not: a B-pyramid) and an IDR picture every `gop` frames."""
    x264 = {"preset": "fast", "keyint_min": str(gop), "bf": str(bframes), "threads": "1"}
    return make_clip(
        path, seconds=seconds, fps=fps, gop=gop, size=size, audio=False, faststart=False, x264=x264, texture=True
    )


def _sampled(path, n):
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        packets = [p for p in c.demux(v) if p.size]
        frames = decode.sample_stream_frames(v, packets, n)
        return [(f.pts, *(bytes(p) for p in f.planes)) for f in frames], packets


@pytest.mark.parametrize("gop,n", [(25, 8), (10, 8), (25, 6), (50, 8)])  # too few keyframes for the keyframes-only path
def test_gop_tails_no_sample_needs_are_not_decoded_and_the_frames_are_the_same(tmp_path, monkeypatch, gop, n):
    path = _clip(tmp_path / "clip.mp4", gop=gop)
    fed = []
    real = decode._without_unused_gop_tails
    monkeypatch.setattr(decode, "_without_unused_gop_tails", lambda *a: fed.append(real(*a)) or fed[-1])
    got, packets = _sampled(path, n)
    monkeypatch.setattr(decode, "_without_unused_gop_tails", lambda v, p, i, w: (p, []))
    want, _ = _sampled(path, n)
    assert got == want
    ((kept, expected),) = fed
    assert 0 < len(kept) < len(packets) and expected  # something was left out, and the check had frames to see


def test_a_stream_it_cannot_read_is_decoded_whole(tmp_path):
    """MPEG-4 part 2 (no nal_ref_idc to read): every packet goes to the decoder, as before."""
    path = tmp_path / "m4v.mp4"
    with av.open(str(path), "w", format="mp4") as out:
        s = out.add_stream("mpeg4", rate=10)
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(30):
            f = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 8 * i, np.uint8), format="rgb24")
            f.pts, f.time_base = i, Fraction(1, 10)
            for p in s.encode(f):
                out.mux(p)
        for p in s.encode(None):
            out.mux(p)
    with av.open(str(path)) as c:
        v = c.streams.video[0]
        packets = [p for p in c.demux(v) if p.size]
        index = {t: i for i, t in enumerate(sorted(p.pts for p in packets))}
        kept, expected = decode._without_unused_gop_tails(v, packets, index, np.linspace(0, 29, 8).round().astype(int))
    assert kept is packets and expected == []


def test_frames_other_than_foreseen_mean_a_decode_of_every_packet(tmp_path, monkeypatch):
    """The safety net: were the slice headers misread, the frames out of the shortened decode would not be the
    ones foreseen, and the samples come from a decode of all packets instead."""
    path = _clip(tmp_path / "clip.mp4")
    want, _ = _sampled(path, 8)
    monkeypatch.setattr(decode, "_without_unused_gop_tails", lambda v, p, i, w: (p[:30], [0, 1, 2]))
    got, _ = _sampled(path, 8)
    assert got == want
