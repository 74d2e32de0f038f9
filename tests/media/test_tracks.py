"""Shared tracks (black video, silence): encoded once, stream-copied into each variant, the same bytes whether
the cache is warm, cold, absent, damaged or raced by other processes; variants stay in sync with their source."""

import multiprocessing
import os
import re
import subprocess
import sys

import av
import imageio_ffmpeg

from mmabench import media
from tests.mediagen import make_clip, packets


def _entries(tracks):
    return sorted(p.relative_to(tracks).as_posix() for p in tracks.rglob("*") if p.is_file())


def _stream_facts(path):
    """Per stream: (type, duration in seconds, packets, decoded frames or samples)."""
    out = []
    with av.open(str(path)) as c:
        for s in c.streams:
            n = sum(f.samples if s.type == "audio" else 1 for f in c.decode(s))
            c.seek(0)
            out.append((s.type, float(s.duration * s.time_base), s.frames, n))
    return out


def _ffmpeg_reads(path):
    """What ffmpeg itself makes of the file (no ffprobe in the wheel): the container duration and, per stream,
    the frame count and end time it decodes to."""
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    head = subprocess.run([ff, "-i", str(path)], capture_output=True, text=True).stderr
    out = [line.split(",")[0].strip() for line in head.splitlines() if "Duration:" in line]
    for k in "va":
        args = [ff, "-v", "error", "-i", str(path), "-map", f"0:{k}", "-f", "null", "-", "-stats"]
        stats = subprocess.run(args, capture_output=True, text=True).stderr.strip().split("\r")[-1]
        out += [f"{k}={v}" for k, v in re.findall(r"\b(frame|time)=\s*(\S+)", stats)]
    return out


def test_each_track_is_encoded_once_per_geometry_and_length(clip_factory, tmp_path):
    tracks = tmp_path / "tracks"
    a = clip_factory("a.mp4", seconds=2, size=(96, 64), freq=300)
    b = clip_factory("b.mp4", seconds=2, size=(96, 64), freq=900)  # same geometry and length: same tracks
    c = clip_factory("c.mp4", seconds=3, size=(64, 48))  # another: its own
    for src in (a, b):
        media.zero_frames(src, tmp_path / f"z-{src.name}", tracks=tracks)
        media.remove_audio(src, tmp_path / f"r-{src.name}", tracks=tracks)
    first = _entries(tracks)
    assert len(first) == 2 and {e.split("-")[0] for e in first} == {"black", "silence"}
    stamps = {p: p.stat().st_mtime_ns for p in tracks.rglob("*.mp4")}
    media.zero_frames(a, tmp_path / "again.mp4", tracks=tracks)
    assert {p: p.stat().st_mtime_ns for p in tracks.rglob("*.mp4")} == stamps  # reused, not rewritten
    media.zero_frames(c, tmp_path / "z-c.mp4", tracks=tracks)
    media.remove_audio(c, tmp_path / "r-c.mp4", tracks=tracks)
    assert len(_entries(tracks)) == 4
    # the variants still carry each clip's own other stream (a and b differ only in their tone)
    assert packets(tmp_path / "z-b.mp4", "audio") == packets(b, "audio") != packets(a, "audio")
    assert packets(tmp_path / "r-c.mp4", "video") == packets(c, "video")


def test_variants_match_their_source_stream_for_stream(clip_factory, tmp_path):
    """Durations, packet and frame/sample counts equal the source's (PyAV and ffmpeg's own reading): in sync."""
    src = make_clip(tmp_path / "src.mp4", seconds=3, size=(96, 64), fps=25, rate=48000, gop=12)
    tracks = tmp_path / "tracks"
    zeroed, removed = tmp_path / "z.mp4", tmp_path / "r.mp4"
    media.zero_frames(src, zeroed, tracks=tracks)
    media.remove_audio(src, removed, tracks=tracks)
    want = _stream_facts(src)
    assert _stream_facts(zeroed) == want and _stream_facts(removed) == want
    facts = _ffmpeg_reads(src)
    assert facts == ["Duration: 00:00:03.00", "frame=75", "time=00:00:03.00", "time=00:00:03.00"]
    assert _ffmpeg_reads(zeroed) == facts and _ffmpeg_reads(removed) == facts
    assert media.audio_peak_dbfs(removed) == float("-inf") and media.audio_peak_dbfs(zeroed) > -30


def test_same_bytes_with_a_warm_cold_absent_or_damaged_cache(clip_factory, tmp_path):
    src = clip_factory("src.mp4", seconds=2, size=(96, 64))
    tracks = tmp_path / "tracks"
    for op, kind in ((media.zero_frames, "black"), (media.remove_audio, "silence")):
        outs = [tmp_path / f"{kind}{i}.mp4" for i in range(4)]
        op(src, outs[0], tracks=None)  # nothing kept
        op(src, outs[1], tracks=tracks)  # cold: encodes the track
        op(src, outs[2], tracks=tracks)  # warm: stream copy only
        (track,) = tracks.glob(f"{kind}-*/*.mp4")
        data = bytearray(track.read_bytes())  # damaged: the hash in its name no longer matches
        data[len(data) // 2] ^= 0xFF
        track.write_bytes(bytes(data))
        op(src, outs[3], tracks=tracks)
        assert len({media.sha256_file(p) for p in outs}) == 1, kind
        (again,) = tracks.glob(f"{kind}-*/*.mp4")  # encoded again under the same content name
        assert again == track and media.sha256_file(again)[:16] == again.stem
    assert not [p for p in tracks.rglob("*") if ".part" in p.name]


def _render_in_process(args):
    src, dst, tracks = args
    media.zero_frames(src, dst, tracks=tracks)
    media.remove_audio(src, dst.with_suffix(".r.mp4"), tracks=tracks)
    return os.getpid()


def test_processes_racing_on_a_fresh_cache_agree(clip_factory, tmp_path):
    src = clip_factory("src.mp4", seconds=2, size=(96, 64))
    tracks = tmp_path / "tracks"
    jobs = [(src, tmp_path / f"out{i}.mp4", tracks) for i in range(8)]
    with multiprocessing.get_context("spawn").Pool(4) as pool:
        pids = set(pool.map(_render_in_process, jobs, chunksize=1))
    assert len(pids) > 1
    assert len({media.sha256_file(j[1]) for j in jobs}) == 1
    assert len({media.sha256_file(j[1].with_suffix(".r.mp4")) for j in jobs}) == 1
    assert len(_entries(tracks)) == 2  # one entry per track, no temp left behind


def test_a_killed_track_writer_leaves_a_temp_that_the_sweep_removes(tmp_path):
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    d = tmp_path / media.TRACKS_DIR / "black-96x64-0123"
    d.mkdir(parents=True)
    dead = d / f".track.{gone.pid}.a1b2c3d4e5f6.part.mp4"
    dead.write_bytes(b"half")
    assert media.sweep_partials(tmp_path) == 1 and not dead.exists()


def test_threads_of_one_process_encode_a_track_once(clip_factory, tmp_path, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from mmabench.media import tracks as shared

    src = clip_factory("src.mp4", seconds=2, size=(96, 64))
    published = []
    real = shared._publish
    monkeypatch.setattr(shared, "_publish", lambda d, encode: published.append(d) or real(d, encode))
    outs = [tmp_path / f"z{i}.mp4" for i in range(8)]
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda o: media.zero_frames(src, o, tracks=tmp_path / "tracks"), outs))
    assert len(published) == 1 and len({media.sha256_file(o) for o in outs}) == 1


def test_silence_from_two_packets_is_the_full_encode(tmp_path, monkeypatch):
    """The silence track is built from a short encode (its first packet and its steady one, repeated), yet
    holds the bytes of encoding every sample: across rates, layouts, lengths within the short encode, a
    partial last frame, and past the 256 frames after which the encoder names itself again."""
    from mmabench.media import tracks as shared

    cases = [(48000, "mono", 1000), (48000, "mono", 240000), (16000, "mono", 50715), (44100, "stereo", 300 * 1024 + 7)]
    fast = []
    for rate, layout, samples in cases:
        with media.silence(tmp_path / "fast", sample_rate=rate, layout=layout, samples=samples) as f:
            fast.append(f.read_bytes())
    monkeypatch.setattr(shared, "_silence_packets", lambda oa, samples: None)  # the full encode
    for (rate, layout, samples), data in zip(cases, fast):
        with media.silence(tmp_path / "full", sample_rate=rate, layout=layout, samples=samples) as f:
            assert f.read_bytes() == data, (rate, layout, samples)
    assert abs(media.probe(f).duration - (300 * 1024 + 7) / 44100) < 1e-3  # and it is silence of that length
    assert media.audio_peak_dbfs(f) == float("-inf")
