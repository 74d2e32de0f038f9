"""NVDEC frame sampling: the GPU resize/crop against the CPU reference on real frames, and the clear
one-line refusal where there is no GPU decoder (this machine has no GPU; the decode itself is measured by
benchmarks/bench_gpu_tag.py on a GPU host)."""

import numpy as np
import pytest
from typer.testing import CliRunner

from mmabench.media import crop_frame, sample_video_frames
from mmabench.media.nvdec import nvdec_problem, resize_crop
from mmabench.sources.demo import DEMO_DIR


def test_resize_crop_matches_the_cpu_reference():
    """Same geometry as crop_frame (short side to 224, centre square); pixels within resize-filter rounding."""
    import torch

    frames = sample_video_frames(DEMO_DIR / "clips" / "cat_1.mp4", 4)
    full = np.stack([f.to_ndarray(format="rgb24") for f in frames])  # 320x240 RGB
    got = resize_crop(torch.from_numpy(full), 224).numpy()
    ref = np.stack([crop_frame(f, 224) for f in frames])
    assert got.shape == ref.shape == (4, 224, 224, 3) and got.dtype == np.uint8
    diff = np.abs(got.astype(int) - ref.astype(int))
    assert diff.mean() < 2.0  # the same picture (a one-pixel shift alone gives ~10 on this footage)
    shifted = np.abs(np.roll(ref, 1, axis=2).astype(int) - ref.astype(int)).mean()
    assert shifted > 3 * diff.mean()


def test_no_gpu_decoder_is_a_one_line_refusal(tmp_path):
    from mmabench.cli import app
    from mmabench.pipeline.build import build
    from mmabench.taggers import taggers

    assert nvdec_problem() and "\n" not in nvdec_problem()
    with pytest.raises(RuntimeError, match="NVDEC"):
        taggers.get("imagenet")(decoder="nvdec")
    with pytest.raises(ValueError, match="decoder"):
        taggers.get("imagenet")(decoder="gpu")
    build("conflict", home=tmp_path, progress=False)
    r = CliRunner().invoke(app, ["tag", "--home", str(tmp_path), "--tagger", "imagenet", "--decode", "nvdec"])
    assert r.exit_code == 2 and "NVDEC" in r.output and "Traceback" not in r.output
