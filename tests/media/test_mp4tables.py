"""Stream digests from an MP4's sample tables: a stream copied into another file keeps its digest (whatever the
interleaving, the tracks beside it or the bitrate its muxer states); a change to its samples or their timing
changes it; a file the reader does not fully cover gets None (its caller digests the demuxed packets)."""

import av
import numpy as np
import pytest

from mmabench.media import remux, swap_audio
from mmabench.media.mp4tables import stream_digests
from tests.mediagen import make_clip, truncate


def digests(path):
    got = stream_digests(path.read_bytes())
    assert got is not None, path.name
    return got


@pytest.fixture
def clips(tmp_path):
    a = make_clip(tmp_path / "a.mp4", seconds=2.0, size=(96, 64), freq=440.0)
    b = make_clip(tmp_path / "b.mp4", seconds=2.0, size=(96, 64), freq=660.0, gop=5)
    return a, b


def test_a_stream_copy_keeps_its_digest_and_a_cut_changes_it(clips, tmp_path):
    a, b = clips
    swap, twin, cut = tmp_path / "swap.mp4", tmp_path / "twin.mp4", tmp_path / "cut.mp4"
    swap_audio(a, b, swap)  # a's video, b's audio, interleaved anew; the muxer states bitrates the clips did not
    remux(a, twin)
    remux(a, cut, 0.0, 1.0)
    da, db, ds, dt, dc = (digests(p) for p in (a, b, swap, twin, cut))
    assert len({a.read_bytes(), swap.read_bytes(), twin.read_bytes()}) == 3
    assert ds == {"video": da["video"], "audio": db["audio"]} and dt == da
    assert da["video"] != db["video"] and da["audio"] != db["audio"]
    assert dc["video"] != da["video"] and dc["audio"] != da["audio"]


def test_one_changed_byte_of_a_sample_changes_that_streams_digest_only(clips, tmp_path):
    a, _ = clips
    with av.open(str(a)) as c:
        pos = [p.pos for p in c.demux(c.streams.video[0]) if p.size][3]
    data = bytearray(a.read_bytes())
    data[pos + 6] ^= 0xFF
    got = stream_digests(bytes(data))
    assert got is not None
    assert got["video"] != digests(a)["video"] and got["audio"] == digests(a)["audio"]


def test_only_the_tracks_a_file_has(tmp_path):
    silent_film = make_clip(tmp_path / "v.mp4", audio=False)
    radio = make_clip(tmp_path / "a.mp4", video=False)
    assert digests(silent_film)["audio"] is None and digests(silent_film)["video"] is not None
    assert digests(radio)["video"] is None and digests(radio)["audio"] is not None


def test_timing_is_digested_not_only_the_samples(clips):
    """The same coded bytes at other times (the video's sample durations rewritten): another stream."""
    a, _ = clips
    data = bytearray(a.read_bytes())
    at = data.index(b"stts") + 4 + 8  # the first track's (video's) first run: sample count, sample delta
    count, delta = int.from_bytes(data[at : at + 4], "big"), int.from_bytes(data[at + 4 : at + 8], "big")
    assert count > 1
    data[at + 4 : at + 8] = (2 * delta).to_bytes(4, "big")
    got = stream_digests(bytes(data))
    assert got is not None
    assert got["video"] != digests(a)["video"] and got["audio"] == digests(a)["audio"]


def _fragmented(src, dst):
    with (
        av.open(str(src)) as i,
        av.open(str(dst), "w", format="mp4", options={"movflags": "frag_keyframe+empty_moov"}) as o,
    ):
        s = o.add_stream_from_template(i.streams.video[0])
        for p in i.demux(i.streams.video[0]):
            if p.size:
                p.stream = s
                o.mux(p)
    return dst


def _two_videos(src, dst):
    with av.open(str(src)) as i, av.open(str(dst), "w", format="mp4") as o:
        outs = [o.add_stream_from_template(i.streams.video[0]) for _ in range(2)]
        for p in [p for p in i.demux(i.streams.video[0]) if p.size]:
            for s in outs:
                q = av.Packet(bytes(p))
                q.pts, q.dts, q.time_base, q.is_keyframe, q.stream = p.pts, p.dts, p.time_base, p.is_keyframe, s
                o.mux(q)
    return dst


def test_what_it_does_not_cover_gets_none(clips, tmp_path):
    a, _ = clips
    assert stream_digests(b"") is None and stream_digests(b"not a video at all") is None
    assert stream_digests(truncate(a, tmp_path / "half.mp4").read_bytes()) is None
    assert stream_digests(_fragmented(a, tmp_path / "frag.mp4").read_bytes()) is None
    assert stream_digests(_two_videos(a, tmp_path / "two.mp4").read_bytes()) is None
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    assert stream_digests(noise) is None
