"""Frame sampling on the GPU's video decoder (NVDEC, through PyNvVideoCodec): the n sampled frames are decoded,
colour-converted, resized and cropped on the GPU and come back as a CUDA tensor, so a GPU tagger's input never
crosses the host. The CPU path (`sample_frames`) stays the reference; scores from the two differ by decoder
rounding and resize filters, so taggers key their cache by which one ran.

Decoders are kept per thread (creating one costs milliseconds; `reconfigure_decoder` reuses it for the next
file), so a thread pool in the process that owns the GPU is the unit of parallelism — an H200 has 7 NVDEC
engines. Needs `pip install PyNvVideoCodec` and a driver exposing libnvcuvid (containers: the `video` driver
capability).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, ClassVar, Optional

import numpy as np

_local = threading.local()


def nvdec_problem() -> Optional[str]:
    """None when NVDEC decoding can run here, else one line saying why not."""
    try:
        import torch
    except ImportError:
        return "NVDEC decoding needs torch"
    if not torch.cuda.is_available():
        return "NVDEC decoding needs a CUDA GPU (torch sees none)"
    try:
        import PyNvVideoCodec  # noqa: F401
    except Exception as e:  # ImportError, or the driver check the package runs at import
        return f"NVDEC decoding needs PyNvVideoCodec (pip install PyNvVideoCodec): {type(e).__name__}: {e}"
    return None


def _decoder(path: str, gpu: int) -> Any:
    import PyNvVideoCodec as nvc

    dec = getattr(_local, "dec", None)
    if dec is None:
        dec = nvc.SimpleDecoder(path, gpu_id=gpu, use_device_memory=True, output_color_type=nvc.OutputColorType.RGB)
        _local.dec = dec
    else:
        dec.reconfigure_decoder(path)
    return dec


def resize_crop(frames: Any, size: int) -> Any:
    """uint8 NHWC tensor -> short side resized to `size` (bilinear, antialiased like swscale's downscale),
    centre size x size crop, uint8 NHWC, on the tensor's device."""
    import torch
    import torch.nn.functional as F

    h, w = frames.shape[1:3]
    scale = size / min(w, h)
    nw, nh = max(size, round(w * scale)), max(size, round(h * scale))
    x = frames.permute(0, 3, 1, 2).float()
    x = F.interpolate(x, size=(nh, nw), mode="bilinear", align_corners=False, antialias=(nh < h))
    y0, x0 = (nh - size) // 2, (nw - size) // 2
    x = x[:, :, y0 : y0 + size, x0 : x0 + size]
    return x.round_().clamp_(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous()


@dataclass(frozen=True)
class NvdecFramePrep:
    """n evenly spaced frames of a file, centre-cropped to size x size, as a uint8 NHWC CUDA tensor."""

    n: int
    size: int
    gpu: int = 0
    in_process: ClassVar[bool] = True  # CUDA tensors: run in threads of the GPU's process, never a pool

    def __call__(self, path) -> Any:
        import torch

        dec = _decoder(str(path), self.gpu)
        total = len(dec)
        want = np.linspace(0, max(total - 1, 0), self.n).round().astype(int).tolist()
        got = dec.get_batch_frames_by_index(sorted(set(want)))
        by_index = dict(zip(sorted(set(want)), got))
        with torch.cuda.device(self.gpu):
            frames = torch.stack([torch.from_dlpack(by_index[i]) for i in want])  # (n, H, W, 3) uint8
            return resize_crop(frames, self.size)
