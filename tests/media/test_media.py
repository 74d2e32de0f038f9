import os
from fractions import Fraction

import av
import numpy as np
import pytest

from mmabench import media
from mmabench.schema import ClipStatus
from tests.mediagen import packets, truncate


def test_swap_audio_is_stream_copy_byte_identical(clip_factory, tmp_path):
    v = clip_factory("v.mp4", seconds=2, freq=300)
    a = clip_factory("a.mp4", seconds=3, freq=900)  # longer donor: trimmed to the video
    out = tmp_path / "swap.mp4"
    info = media.swap_audio(v, a, out)
    assert packets(out, "video") == packets(v, "video")
    swapped = packets(out, "audio")
    assert swapped == packets(a, "audio")[: len(swapped)]
    assert len(swapped) < len(packets(a, "audio"))
    assert abs(info["audio_s"] - info["video_s"]) < 0.1


def test_remove_audio_writes_equal_length_digital_silence(clip_factory, tmp_path):
    v = clip_factory("v.mp4", seconds=2)
    out = tmp_path / "silent.mp4"
    info = media.remove_audio(v, out)
    assert packets(out, "video") == packets(v, "video")
    assert media.audio_peak_dbfs(out) == float("-inf")
    assert abs(info["seconds"] - 2.0) < 0.1 and media.probe(out).sample_rate == 16000
    dropped = tmp_path / "dropped.mp4"
    media.remove_audio(v, dropped, mode="drop")
    assert not media.probe(dropped).has_audio and packets(dropped, "video") == packets(v, "video")


def test_zero_frames_keeps_count_size_timestamps_and_audio(clip_factory, tmp_path):
    v = clip_factory("v.mp4", seconds=2, size=(64, 48), fps=10)
    out = tmp_path / "black.mp4"
    media.zero_frames(v, out)
    assert packets(out, "audio") == packets(v, "audio")
    with av.open(str(v)) as a, av.open(str(out)) as b:
        src = [(f.pts, f.width, f.height) for f in a.decode(video=0)]
        frames = list(b.decode(video=0))
        assert [(f.pts * f.time_base, f.width, f.height) for f in frames] == [
            (p * a.streams.video[0].time_base, w, h) for p, w, h in src
        ]
        assert max(int(np.abs(f.to_ndarray(format="rgb24").astype(int)).max()) for f in frames) <= 2


def test_remux_section_cuts_on_keyframes_without_reencoding(clip_factory, tmp_path):
    v = clip_factory("v.mp4", seconds=4, fps=10, gop=10)
    out = tmp_path / "cut.mp4"
    media.remux(v, out, start=1.0, end=3.0)
    cut = packets(out, "video")
    assert 19 <= len(cut) <= 21 and set(cut) <= set(packets(v, "video"))
    assert abs(media.probe(out).duration - 2.0) < 0.2


def _frames(path):
    with av.open(str(path)) as c:
        return [(float(f.pts * f.time_base), f.to_ndarray(format="rgb24").astype(int)) for f in c.decode(video=0)]


@pytest.mark.parametrize("start", [4.0, 4.03])
def test_remux_section_between_keyframes_is_exact(clip_factory, tmp_path, start):
    """Keyframes every 2.5 s; asked 4-6 s: 2.0 s +- one frame whose first frame is the source's at 4 s (the
    old cut started at the keyframe before, 2.5 s, and gave 3.5 s)."""
    v = clip_factory("v.mp4", seconds=10, fps=10, gop=25)
    out = tmp_path / "cut.mp4"
    info = media.remux(v, out, start=start, end=6.0)
    assert info["cut"]["video"] == "reencode" and info["cut"]["vcodec"] == "libx264" and info["cut"]["frames"] == 20
    assert abs(media.probe(out).duration - 2.0) <= 0.1
    got, src = _frames(out), dict(_frames(v))
    assert len(got) == 20 and got[0][0] == 0.0
    near = {t: f for t, f in src.items() if 3.5 <= t <= 4.5}  # the test pattern repeats every 1.6 s
    best = min(near, key=lambda t: np.abs(near[t] - got[0][1]).mean())
    assert abs(best - 4.0) < 1e-6
    with av.open(str(out)) as c:
        a = [p for p in c.demux(c.streams.audio[0]) if p.size]
        assert abs(float(a[0].pts * a[0].time_base)) < 1e-6 and len(a) >= int(2.0 * 16000 / 1024) - 1


def test_remux_section_on_a_keyframe_is_stream_copied(clip_factory, tmp_path):
    v = clip_factory("v.mp4", seconds=10, fps=10, gop=25)
    info = media.remux(v, tmp_path / "cut.mp4", start=5.0, end=7.0)
    assert info == {"cut": {"start": 5.0, "end": 7.0, "video": "copy"}}
    assert set(packets(tmp_path / "cut.mp4", "video")) <= set(packets(v, "video"))


@pytest.mark.parametrize(
    "kwargs,status",
    [
        (dict(audio=False), ClipStatus.no_audio),
        (dict(video=False), ClipStatus.no_video),
        (dict(silent=True), ClipStatus.silent),
        (dict(seconds=0.5), ClipStatus.too_short),
    ],
)
def test_validate_rejects_bad_clips_with_a_reason(clip_factory, kwargs, status):
    with pytest.raises(media.MediaError) as e:
        media.validate(clip_factory("bad.mp4", **kwargs))
    assert e.value.status is status and str(e.value)


def test_validate_rejects_empty_junk_truncated_and_missing(clip_factory, tmp_path):
    good = clip_factory("good.mp4", seconds=3)
    assert media.validate(good).duration == pytest.approx(3.0, abs=0.1)
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "junk.mp4").write_text("not a video")
    cases = {
        tmp_path / "empty.mp4": ClipStatus.empty,
        tmp_path / "junk.mp4": ClipStatus.unreadable,
        truncate(good, tmp_path / "trunc.mp4", 0.5): ClipStatus.truncated,
        tmp_path / "nope.mp4": ClipStatus.missing,
    }
    for path, status in cases.items():
        with pytest.raises(media.MediaError) as e:
            media.validate(path)
        assert e.value.status is status, path


def test_atomic_output_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x" / "out.mp4"
    with pytest.raises(RuntimeError):
        with media.atomic_output(target) as tmp:
            tmp.write_bytes(b"half")
            raise RuntimeError("killed")
    assert not target.exists() and list(target.parent.iterdir()) == []


def test_sweep_partials_removes_only_dead_writers_files(tmp_path):
    import subprocess
    import sys

    from mmabench.media import sweep_partials

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a pid that no longer runs
    dead = tmp_path / "v" / f".abc.2024.mp4.{gone.pid}.7f00aa.part.mp4"
    live = tmp_path / "v" / f".abd.mp4.{os.getpid()}.7f00ab.part.mp4"
    dead.parent.mkdir()
    for f in (dead, live, tmp_path / "v" / "keep.mp4"):
        f.write_bytes(b"x")
    assert sweep_partials(tmp_path) == 1
    assert not dead.exists() and live.exists() and (tmp_path / "v" / "keep.mp4").exists()


@pytest.mark.parametrize("op", ["zero_frames", "remove_audio", "swap_audio", "remux", "remux_cut"])
def test_every_writer_renders_byte_identical_under_parallel_load(op, clip_factory, tmp_path):
    """A variant must re-render from its recipe to the same sha256 (verify --repair relies on it): 20 renders
    of each writer, 4 at a time beside a CPU-burning thread, all hash alike (black and silence from one shared
    track folder the threads race to fill)."""
    import threading
    from concurrent.futures import ThreadPoolExecutor

    src = clip_factory("src.mp4", seconds=2, size=(96, 64), freq=300)
    donor = clip_factory("donor.mp4", seconds=3, freq=900)
    render = {
        "zero_frames": lambda d: media.zero_frames(src, d, tracks=tmp_path / "tracks"),
        "remove_audio": lambda d: media.remove_audio(src, d, tracks=tmp_path / "tracks"),
        "swap_audio": lambda d: media.swap_audio(src, donor, d),
        "remux": lambda d: media.remux(src, d),
        "remux_cut": lambda d: media.remux(src, d, 0.55, 1.75),  # between keyframes: the re-encoded cut
    }[op]
    stop = threading.Event()
    burner = threading.Thread(target=lambda: [sum(range(10_000)) for _ in iter(stop.is_set, True)])
    burner.start()
    try:
        outs = [tmp_path / f"out{i}.mp4" for i in range(20)]
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(render, outs))
    finally:
        stop.set()
        burner.join()
    assert len({media.sha256_file(p) for p in outs}) == 1
    if op == "zero_frames":  # x264 picks its thread count from the CPUs it sees: pinned to 1, stated in its SEI
        assert b" threads=1 lookahead_threads=1 " in outs[0].read_bytes()


@pytest.mark.parametrize(
    "kw",
    [
        dict(fps=10, rate=16000),
        dict(fps=25, rate=48000, gop=12, faststart=False),
        dict(fps=25, rate=44100, sar=Fraction(3, 4)),  # non-square pixels: the pasp box must survive
    ],
)
def test_store_probes_give_the_bytes_of_a_full_probe(kw, tmp_path, monkeypatch):
    """Writers open store clips reading the header only (no decoder opened, no frame decoded, the aspect
    ratio from the pasp box): every variant must still be byte for byte what a full probe gives."""
    from mmabench.media import writers
    from tests.mediagen import make_clip

    src = make_clip(tmp_path / "src.mp4", seconds=3, size=(96, 64), **kw)
    donor = make_clip(tmp_path / "donor.mp4", seconds=4, freq=900, **kw)
    render = {
        "zero_frames": lambda d: media.zero_frames(src, d, tracks=tmp_path / "tracks"),
        "remove_audio": lambda d: media.remove_audio(src, d, tracks=tmp_path / "tracks"),
        "drop_audio": lambda d: media.remove_audio(src, d, "drop"),
        "swap_audio": lambda d: media.swap_audio(src, donor, d),
        "remux": lambda d: media.remux(src, d, probe="store"),
        "remux_cut": lambda d: media.remux(src, d, 0.55, 1.75, probe="store"),  # decodes, from a bare header
    }
    for name, fn in render.items():
        fn(tmp_path / f"{name}-store.mp4")
    monkeypatch.setattr(writers, "PROBES", {k: {} for k in writers.PROBES})
    for name, fn in render.items():
        fn(tmp_path / f"{name}-full.mp4")
        assert media.sha256_file(tmp_path / f"{name}-store.mp4") == media.sha256_file(tmp_path / f"{name}-full.mp4")
