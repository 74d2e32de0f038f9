"""The tagger contract and helpers shared by taggers (frame sampling, devices, weight hashing).

A tagger is split in two so the driver (tagging/runner.py) can overlap decoding with inference and batch
the model across clips: `prep`, a small picklable callable, is the CPU work on one file (decode, resample,
crop) and runs in worker threads or processes; `forward(batch)` runs the model once on the prepared inputs
of several files (normalisation happens there, on the model's device).
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np

from mmabench.media import load_audio, sample_frames, sha256_file


class Tagger:
    name = "tagger"
    modality = "visual"  # "visual", "audio" or "speech"
    version = 1
    model_id = ""
    weights_sha256 = ""
    device = "cpu"
    batch_size = 16  # model units per forward call (frames for visual taggers, clips otherwise)
    # data-parallel CPU replicas pay (tagging/replicas.py): the model alone does not keep the cores busy
    replicate = False
    spec: Optional[tuple[str, dict]] = None  # (registry name, constructor kwargs), set by load_taggers

    prep: Callable[[Any], Any]  # picklable: path -> prepared input (no model state)

    def prepare(self, path: str | Path) -> Any:
        """Decode and preprocess one file (thread-safe, no model call)."""
        return self.prep(path)

    def forward(self, batch: Sequence[Any]) -> list[dict[str, float]]:
        """Per-class scores in [0, 1] for each prepared input, keyed by AudioSet class name."""
        raise NotImplementedError

    def units(self, prepared: Any) -> int:
        """How many model units (frames, clips) one prepared input holds; batches are filled by units."""
        return 1

    def tag(self, path: str | Path) -> dict[str, float]:
        return self.forward([self.prepare(path)])[0]

    def score(self, scores: dict[str, float], label: str) -> Optional[float]:
        """The score for a label, or None when this tagger cannot see/hear that class at all."""
        return scores.get(label)


def resolve_device(device: str = "auto") -> str:
    """auto -> cuda, then mps, then cpu; an explicit device that is not there is an error, not a fallback."""
    import torch

    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise RuntimeError(f"--device {device}: torch sees no CUDA GPU here (use --device auto or cpu)")
    if device == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("--device mps: MPS is not available here (use --device auto or cpu)")
    return device


_THREADS: Optional[int] = None


def set_threads(n: int = 0) -> int:
    """Intra-op threads for every model in this process, decided once (later calls keep the first value):
    torch's pool now and every onnxruntime session made afterwards. n = 0: all cores. The tagging runner
    passes what the decode workers and other model workers leave (see `load_taggers`), so nothing
    oversubscribes the cores."""
    global _THREADS
    if _THREADS is None:
        keep_freed_memory()
        _THREADS = max(1, n or os.cpu_count() or 1)
        if "torch" in sys.modules:
            sys.modules["torch"].set_num_threads(_THREADS)
    return _THREADS


def keep_freed_memory() -> bool:
    """Let glibc keep freed blocks up to 32 MB for reuse instead of handing each back to the kernel.

    By default an array over 128 kB gets its own mmap and goes back to the kernel when freed, so the next
    one page-faults every 4-kB page in again: the log-mel's intermediates (a 5-s clip: 2 MB of FFT output)
    spent most of their time there (measured on 2 cores: YAMNet patches 7 -> 2-3 ms per clip, decode
    8.5-12.7 -> 7.2-8.7 ms). Costs at most ~64 MB of retained heap per process. False where not glibc."""
    import ctypes
    import ctypes.util

    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    m_trim_threshold, m_mmap_threshold = -1, -3
    return bool(mallopt(m_mmap_threshold, 32 << 20)) and bool(mallopt(m_trim_threshold, 64 << 20))


def process_threads() -> int:
    """The process's model threads: what `set_threads` decided, all cores until it is called."""
    return _THREADS or os.cpu_count() or 1


def ort_threads(threads: int = 0) -> int:
    """onnxruntime intra-op threads: the process's setting unless a tagger is given its own."""
    return threads or process_threads()


def ort_session(model: str | bytes, threads: int):
    """A CPU onnxruntime session with `threads` intra-op threads that do not spin between ops.

    Spinning workers burn the core that the decode workers need (the model shares the machine with them):
    measured on 2 cores, EfficientNet-Lite0 forward with 2 spinning threads ran at 46 frames/s against 70
    with one thread and 76 with two that sleep."""
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = threads
    so.inter_op_num_threads = 1
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(model, so, providers=["CPUExecutionProvider"])


def default_workers() -> int:
    """Decode threads: enough to feed a GPU on a big machine, two on a laptop."""
    return max(2, min(8, (os.cpu_count() or 2) - 1))


@lru_cache(maxsize=16)
def file_sha256(path: str) -> str:
    """Weights files are hashed once per process (they key the tags cache)."""
    return sha256_file(path)


@dataclass(frozen=True)
class FramePrep:
    """n evenly spaced frames, centre-cropped to size x size, uint8 NHWC (4x less to move than float)."""

    n: int
    size: int

    def __call__(self, path) -> np.ndarray:
        return sample_frames(path, self.n, self.size)


@dataclass(frozen=True)
class AudioPrep:
    """Mono float32 samples at `rate`; None for no audio stream or digital silence."""

    rate: int

    def __call__(self, path) -> Optional[np.ndarray]:
        wav = load_audio(path, self.rate)
        return None if wav is None or not len(wav) or not np.any(wav) else wav


def normalise(frames: np.ndarray, mean: np.ndarray, std: np.ndarray) -> np.ndarray:
    """uint8 NHWC -> float32 NCHW, contiguous (CPU backends): the uint8 planes are transposed (1 byte a
    value), then each looked up in a 256-entry table holding exactly `(x / 255 - mean) / std` in float32.
    Measured: 0.35 vs 1.2 ms per 224x224 frame, time the model thread spent outside the model."""
    lut = _norm_table(mean.astype(np.float32).tobytes(), std.astype(np.float32).tobytes())
    planes = np.ascontiguousarray(frames.transpose(0, 3, 1, 2))
    out = np.empty(planes.shape, np.float32)
    for c in range(planes.shape[1]):
        out[:, c] = lut[c][planes[:, c]]
    return out


@lru_cache(maxsize=8)
def _norm_table(mean: bytes, std: bytes) -> np.ndarray:
    m, s = np.frombuffer(mean, np.float32), np.frombuffer(std, np.float32)
    return ((np.arange(256, dtype=np.float32)[None, :] / 255.0 - m[:, None]) / s[:, None]).astype(np.float32)


def normalise_torch(frames: np.ndarray, mean: np.ndarray, std: np.ndarray, device: str, half: bool):
    """uint8 NHWC -> normalised NCHW tensor on the device: the bytes cross the bus as uint8."""
    import torch

    x: Any = frames if torch.is_tensor(frames) else torch.from_numpy(frames)  # NVDEC frames are already on the GPU
    x = x.to(device, non_blocking=True).permute(0, 3, 1, 2)
    m = torch.as_tensor(mean, device=device).view(1, 3, 1, 1)
    s = torch.as_tensor(std, device=device).view(1, 3, 1, 1)
    x = ((x.float() / 255.0 - m) / s).contiguous()
    return x.half() if half else x


def concat(batch: Sequence[Any]) -> Any:
    """Prepared frame arrays of several files as one: numpy from CPU decoding, a CUDA tensor from NVDEC."""
    if batch and not isinstance(batch[0], np.ndarray):
        import torch

        return torch.cat(list(batch))
    return np.concatenate(batch)


def frame_prep(frames: int, size: int, decoder: str, device: str) -> Any:
    """The frame sampler a visual tagger uses: "cpu" (PyAV, worker processes or threads) or "nvdec"
    (the GPU's video decoder, in threads of this process; needs the model on that GPU)."""
    if decoder == "cpu":
        return FramePrep(frames, size)
    if decoder != "nvdec":
        raise ValueError(f"decoder must be cpu or nvdec, not {decoder!r}")
    from mmabench.media.nvdec import NvdecFramePrep, nvdec_problem

    problem = nvdec_problem() or (None if device.startswith("cuda") else "NVDEC decoding needs --device cuda")
    if problem:
        raise RuntimeError(problem)
    return NvdecFramePrep(frames, size, int(device.partition(":")[2] or 0))


def split_counts(x: np.ndarray, counts: Sequence[int]) -> list[np.ndarray]:
    return np.split(x, np.cumsum(counts)[:-1])


def label_cover(mids: Sequence[str]) -> dict[str, list[int]]:
    """AudioSet class name -> indices of the model outputs that count for it: the class and its ontology
    descendants (Dog covers Bark, Yip, Howl ...), for every class with at least one output. Outputs that
    are not AudioSet classes keep their own name."""
    from mmabench.taxonomy.ontology import default_ontology

    onto = default_ontology()
    pos: dict[str, list[int]] = {}
    for i, m in enumerate(mids):
        pos.setdefault(m, []).append(i)
    out = {}
    for mid in onto.nodes:
        cover = sorted(i for m in {mid} | onto.descendants(mid) for i in pos.get(m, []))
        if cover:
            out[onto.name(mid)] = cover
    for m, idx in pos.items():
        if m not in onto.nodes:
            out.setdefault(m, idx)
    return out


def torch_setup(device: str, fp16: Optional[bool]) -> tuple[Any, str, bool]:
    """(torch, resolved device, fp16): half precision by default on CUDA only."""
    import torch

    if _THREADS is not None and torch.get_num_threads() != _THREADS:  # torch imported after set_threads
        torch.set_num_threads(_THREADS)
    dev = resolve_device(device)
    return torch, dev, (dev == "cuda" if fp16 is None else fp16)


class SpeechTagger(Tagger):
    """Speech activity: score "Speech" = fraction of the soundtrack inside detected speech (16 kHz mono)."""

    modality = "speech"
    rate = 16000
    prep = AudioPrep(16000)

    def speech_seconds(self, wav: np.ndarray) -> float:
        raise NotImplementedError

    def forward(self, batch) -> list[dict[str, float]]:
        return [
            {"Speech": 0.0 if wav is None else round(min(1.0, self.speech_seconds(wav) * self.rate / len(wav)), 4)}
            for wav in batch
        ]
