"""`hf-audio`: any transformers audio-classification checkpoint trained on AudioSet (AST, e.g. a local copy
of MIT/ast-finetuned-audioset-10-10-0.4593; or another AutoModelForAudioClassification), in PyTorch on the
chosen device, fp16 on CUDA by default, batched across clips.

The checkpoint's `id2label` names (or AudioSet mids) are mapped onto the ontology, and a class's score
counts its descendants, as for `yamnet`. AudioSet is multi-label, so scores are sigmoids of the logits.
A hub id works where the hub is reachable (with `HF_TOKEN` when gated); offline, pass a directory.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import numpy as np

from mmabench.media import load_audio
from mmabench.taggers.base import AudioPrep, Tagger, file_sha256, label_cover, torch_setup

WEIGHT_FILES = ("*.safetensors", "*.bin", "*.pt")


@dataclass(frozen=True)
class FeaturePrep:
    """The model's features (e.g. AST's 1024x128 fbank) for the whole soundtrack; None for no/silent audio."""

    extractor: object

    def __call__(self, path) -> Optional[np.ndarray]:
        rate = self.extractor.sampling_rate
        wav = load_audio(path, rate)
        if wav is None or not len(wav) or not np.any(wav):
            return None
        feats = self.extractor(wav, sampling_rate=rate, return_tensors="np")
        return feats[self.extractor.model_input_names[0]][0]


class HFAudioTagger(Tagger):
    name = "hf-audio"
    modality = "audio"
    version = 2  # 2: soxr resampling in load_audio

    def __init__(
        self,
        checkpoint: Optional[str] = None,
        device: str = "auto",
        batch_size: int = 0,
        fp16: Optional[bool] = None,
        frontend: str = "auto",
    ):
        if not checkpoint:
            raise ImportError(
                "the hf-audio tagger needs an AudioSet checkpoint: --audio-checkpoint DIR "
                "(e.g. a local copy of MIT/ast-finetuned-audioset-10-10-0.4593)"
            )
        try:
            import torch  # noqa: F401  (a clear error before any work)
            from transformers import AutoFeatureExtractor, AutoModelForAudioClassification
        except ImportError as e:
            raise ImportError(
                "the hf-audio tagger needs transformers and torch: pip install 'mmabench[hf-model]'"
            ) from e
        self.torch, self.device, self.fp16 = torch_setup(device, fp16)
        try:
            self.extractor = AutoFeatureExtractor.from_pretrained(checkpoint)
            self.net = AutoModelForAudioClassification.from_pretrained(checkpoint)
        except OSError as e:
            raise ImportError(
                f"cannot load audio checkpoint {checkpoint!r} ({str(e)[:160]}…). Offline, pass a "
                "directory holding config.json, the weights and preprocessor_config.json"
            ) from e
        self.net = self.net.to(self.device).eval()
        self.net = self.net.half() if self.fp16 else self.net
        self.batch_size = batch_size or (64 if self.device != "cpu" else 8)
        # "torch": workers only decode; AST's fbank runs batched on the model's device (taggers/fbank.py, equal
        # to the extractor's output) — on a GPU host the per-clip CPU fbank, not the model, was the limit
        if frontend == "auto":
            frontend = (
                "torch" if self.device != "cpu" and type(self.extractor).__name__ == "ASTFeatureExtractor" else "cpu"
            )
        if frontend not in ("cpu", "torch"):
            raise ValueError(f"frontend must be auto, cpu or torch, not {frontend!r}")
        self.frontend = frontend
        self.prep = AudioPrep(self.extractor.sampling_rate) if frontend == "torch" else FeaturePrep(self.extractor)
        from mmabench.taxonomy.ontology import default_ontology

        onto = default_ontology()
        labels = [self.net.config.id2label[i] for i in range(self.net.config.num_labels)]
        self.cover = label_cover([onto.mid(x) or x for x in labels])
        p = Path(checkpoint)
        weights = sorted(f for pat in WEIGHT_FILES for f in p.glob(pat)) if p.is_dir() else []
        self.weights_sha256 = (
            hashlib.sha256("".join(file_sha256(str(f)) for f in weights).encode()).hexdigest()
            if weights
            else hashlib.sha256(checkpoint.encode()).hexdigest()
        )
        self.model_id = f"hf-audio/{self.net.config.model_type}/{p.name if p.is_dir() else checkpoint}" + (
            "@fp16" if self.fp16 else ""
        )

    def forward(self, batch) -> list[dict[str, float]]:
        torch = self.torch
        live = [x for x in batch if x is not None]
        probs = np.zeros((0, self.net.config.num_labels), np.float32)
        if live:
            with torch.inference_mode():
                if self.frontend == "torch":
                    from mmabench.taggers.fbank import ast_inputs

                    x = ast_inputs(live, self.extractor, self.device)
                else:
                    x = torch.from_numpy(np.stack(live)).to(self.device, non_blocking=True)
                logits = self.net(x.half() if self.fp16 else x).logits
                probs = torch.sigmoid(logits.float()).cpu().numpy()
        it = iter(probs)
        out = []
        for x in batch:
            p = next(it) if x is not None else np.zeros(self.net.config.num_labels, np.float32)
            out.append({label: round(float(p[idx].max()), 4) for label, idx in self.cover.items()})
        return out
