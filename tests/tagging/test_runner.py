"""The tagging pipeline: batches across clips, results equal to one-clip tagging, a bad file reported and
the rest kept, and frame sampling that decodes only keyframes where they are dense."""

import numpy as np
import pytest

from mmabench.db.manifest import Manifest
from mmabench.db.models import TagRow
from mmabench.media import sample_video_frames
from mmabench.sources.demo import DEMO_DIR
from mmabench.tagging.runner import cached_scores, load_taggers, tag_files
from tests.mediagen import make_clip


@pytest.fixture(scope="module")
def imagenet():
    return load_taggers(["imagenet"], {"imagenet": {"batch_size": 16, "device": "cpu"}})[0]


def demo_files(k=4):
    paths = sorted((DEMO_DIR / "clips").glob("*.mp4"))[:k]
    return {f"{i:064x}": p for i, p in enumerate(paths)}


def test_batches_span_clips_and_match_one_clip_tagging(tmp_path, imagenet):
    files = demo_files(4)  # 4 clips x 8 frames in batches of 16 frames
    with Manifest(home=tmp_path) as m:
        rep = tag_files(m, imagenet, files, workers=2)
        assert (rep.model_calls, rep.batches, rep.failed) == (4, 2, {})
        stored = cached_scores(m, imagenet, list(files))
    for sha, path in files.items():
        alone = imagenet.tag(path)
        assert stored[sha].keys() == alone.keys()
        assert max(abs(stored[sha][k] - alone[k]) for k in alone) < 1e-3


def test_unreadable_file_is_reported_and_the_rest_are_tagged(tmp_path, imagenet):
    files = demo_files(3)
    bad = tmp_path / "junk.mp4"
    bad.write_bytes(b"not a video at all")
    files["f" * 64] = bad
    with Manifest(home=tmp_path) as m:
        rep = tag_files(m, imagenet, files)
        assert rep.tagged == 3 and list(rep.failed) == ["f" * 64] and "junk.mp4" in rep.failed["f" * 64]
        again = tag_files(m, imagenet, files)  # only the bad file is tried again
        assert (again.planned, again.model_calls, list(again.failed)) == (1, 0, ["f" * 64])
        with m.session() as s:
            assert s.query(TagRow).count() == 3


def test_dense_keyframes_are_decoded_alone_and_sparse_ones_sequentially(tmp_path):
    def first_column(frame):  # mediagen draws a red bar from column (i * 4) % width on frame i
        return int(np.argmax(frame.to_ndarray(format="rgb24")[5, :, 0] > 100))

    dense = make_clip(tmp_path / "dense.mp4", seconds=4, fps=10, gop=2, size=(160, 48))
    sparse = make_clip(tmp_path / "sparse.mp4", seconds=4, fps=10, gop=40, size=(160, 48))
    ideal = np.linspace(0, 39, 8).round().astype(int)
    got = sample_video_frames(sparse, 8)
    assert [first_column(f) for f in got] == [(i * 4) % 160 for i in ideal]  # exact frames
    got = sample_video_frames(dense, 8)
    assert all(f.key_frame for f in got)
    idx = [first_column(f) // 4 for f in got]
    assert idx == sorted(idx) and max(abs(a - b) for a, b in zip(idx, ideal)) <= 2  # nearest keyframes


def test_process_workers_give_the_same_scores_and_report_bad_files(tmp_path, imagenet):
    files = demo_files(3)
    bad = tmp_path / "junk.mp4"
    bad.write_bytes(b"\x00" * 100)
    files["e" * 64] = bad
    with Manifest(f"sqlite:///{tmp_path}/t.db", tmp_path) as m:
        t = tag_files(m, imagenet, files, workers=2, decode="thread")
    with Manifest(f"sqlite:///{tmp_path}/p.db", tmp_path) as m:
        p = tag_files(m, imagenet, files, workers=2, decode="process")
        assert p.tagged == 3 and list(p.failed) == ["e" * 64]
        by_process = cached_scores(m, imagenet, list(files))
    with Manifest(f"sqlite:///{tmp_path}/t.db", tmp_path) as m:
        assert cached_scores(m, imagenet, list(files)) == by_process and t.failed.keys() == p.failed.keys()
    with pytest.raises(ValueError, match="decode must be"):
        with Manifest(home=tmp_path) as m:
            tag_files(m, imagenet, demo_files(1), decode="fibers")


def test_b_frames_nobody_refers_to_are_skipped_within_a_frame(tmp_path):
    import av

    path = tmp_path / "bframes.mp4"  # x264 "medium": B-frames, sparse keyframes
    with av.open(str(path), "w") as out:
        s = out.add_stream("libx264", rate=25, options={"preset": "medium", "g": "250", "bf": "3"})
        s.width, s.height, s.pix_fmt = 64, 48, "yuv420p"
        for i in range(100):
            img = np.full((48, 64, 3), (i * 7) % 256, np.uint8)
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = i
            out.mux(s.encode(f))
        out.mux(s.encode(None))
    with av.open(str(path)) as c:
        assert sum(p.is_keyframe for p in c.demux(video=0) if p.size) < 8  # too sparse to sample alone
    with av.open(str(path)) as c:
        all_pts = [f.pts for f in c.decode(video=0)]  # presentation order of a full decode
    got = [all_pts.index(f.pts) for f in sample_video_frames(path, 8)]
    ideal = np.linspace(0, len(all_pts) - 1, 8).round().astype(int)
    assert max(abs(g - i) for g, i in zip(got, ideal)) <= 1 and got == sorted(got)
