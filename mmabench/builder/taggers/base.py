"""The tagger contract and helpers shared by taggers (frame sampling, weight hashing)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Optional

import av
import numpy as np

from mmabench.builder.media import sample_video_frames, sha256_file


class Tagger:
    name = "tagger"
    modality = "visual"            # "visual" or "audio"
    version = 1
    model_id = ""
    weights_sha256 = ""

    def tag(self, path: str | Path) -> dict[str, float]:
        """Per-class scores in [0, 1] for one media file, keyed by AudioSet class name."""
        raise NotImplementedError

    def score(self, scores: dict[str, float], label: str) -> Optional[float]:
        """The score for a label, or None when this tagger cannot see/hear that class at all."""
        return scores.get(label)


@lru_cache(maxsize=16)
def file_sha256(path: str) -> str:
    """Weights files are hashed once per process (they key the tags cache)."""
    return sha256_file(path)


def sample_frames(path: str | Path, n: int = 8, size: int = 224) -> np.ndarray:
    """n evenly spaced frames as (n, size, size, 3) uint8, centre-cropped after a short-side resize."""
    return np.stack([_crop(f, size) for f in sample_video_frames(path, n)])


def _crop(frame: av.VideoFrame, size: int) -> np.ndarray:
    w, h = frame.width, frame.height
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    img = frame.reformat(width=nw, height=nh, format="rgb24").to_ndarray()
    y, x = (nh - size) // 2, (nw - size) // 2
    return img[y:y + size, x:x + size]
