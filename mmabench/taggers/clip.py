"""`clip`: open_clip zero-shot over a class vocabulary (prompt ensemble) on evenly sampled frames.

Model and weights by flags: `--clip-model ViT-B-32 --clip-pretrained laion2b_s34b_b79k | FILE | local-dir:DIR`
(default: the widely used LAION ViT-B-32). Tags download from the Hub on first use; offline, pass a file or
a directory — the error says so. Scores: softmax over the vocabulary per frame (CLIP's logit scale),
max over frames; the vocabulary and the prompts are part of the cache key.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Optional, Sequence

import numpy as np

from mmabench.taggers.base import Tagger, concat, file_sha256, frame_prep, normalise_torch, split_counts, torch_setup

PROMPTS = ("a photo of a {}.", "a video frame showing a {}.", "a photo of something making the sound of {}.")
MEAN = np.array([0.48145466, 0.4578275, 0.40821073], np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], np.float32)


def default_vocabulary() -> list[str]:
    from mmabench.taxonomy.curation import Curation

    cur = Curation.load()
    return [cur.ontology.name(m) for m in cur.classes]


class ClipTagger(Tagger):
    name = "clip"
    modality = "visual"
    version = 2  # 2: bilinear resize, keyframe / reference-frame sampling

    def __init__(
        self,
        model: str = "ViT-B-32",
        pretrained: str = "laion2b_s34b_b79k",
        vocabulary: Optional[Sequence[str]] = None,
        frames: int = 8,
        device: str = "auto",
        batch_size: int = 0,
        fp16: Optional[bool] = None,
        decoder: str = "cpu",
    ):
        try:
            import open_clip
            import torch  # noqa: F401  (a clear error before any work)
        except ImportError as e:
            raise ImportError("the clip tagger needs open_clip_torch, torch and torchvision") from e
        self.torch, self.device, self.fp16 = torch_setup(device, fp16)
        random_init = pretrained in ("", "none", "random")  # throughput benchmarks only: scores are noise
        try:
            self.net, _, _ = open_clip.create_model_and_transforms(
                model, pretrained=None if random_init else pretrained
            )
        except RuntimeError as e:
            raise ImportError(
                f"CLIP weights {pretrained!r} for {model} are not available here ({str(e)[:120]}…). "
                "Pass a local file or directory: --clip-pretrained /path/open_clip_model.bin "
                "(or local-dir:/path)"
            ) from e
        self.net = self.net.to(self.device).eval()
        if self.fp16:
            self.net = self.net.half()
        self.tokenizer = open_clip.get_tokenizer(model)
        self.vocabulary = list(vocabulary or default_vocabulary())
        self.frames, self.batch_size = frames, batch_size or (256 if self.device != "cpu" else 32)
        size = self.net.visual.image_size
        self.size = size[0] if isinstance(size, (tuple, list)) else size
        self.prep = frame_prep(frames, self.size, decoder, self.device)
        p = Path(pretrained.removeprefix("local-dir:"))
        self.weights_sha256 = file_sha256(str(p)) if p.is_file() else hashlib.sha256(pretrained.encode()).hexdigest()
        vocab_id = hashlib.sha256(repr((self.vocabulary, PROMPTS)).encode()).hexdigest()[:12]
        self.model_id = (
            f"open_clip/{model}/{p.name if p.is_file() else pretrained or 'random'}/vocab-{vocab_id}"
            + ("@fp16" if self.fp16 else "")
            + ("+nvdec" if decoder == "nvdec" else "")
        )
        self.text = self._text_embeddings()

    def _text_embeddings(self):
        torch = self.torch
        with torch.inference_mode():
            embs = []
            for tmpl in PROMPTS:  # prompt ensemble: mean of normalised embeddings
                tok = self.tokenizer([tmpl.format(c) for c in self.vocabulary]).to(self.device)
                e = self.net.encode_text(tok).float()
                embs.append(e / e.norm(dim=-1, keepdim=True))
            t = torch.stack(embs).mean(0)
            return t / t.norm(dim=-1, keepdim=True)

    def units(self, prepared: np.ndarray) -> int:
        return len(prepared)

    def probs(self, frames) -> np.ndarray:
        """Softmax over the vocabulary (CLIP's logit scale) for uint8 NHWC frames."""
        torch = self.torch
        out = []
        with torch.inference_mode():
            scale = self.net.logit_scale.exp().float() if hasattr(self.net, "logit_scale") else 100.0
            for i in range(0, len(frames), self.batch_size):
                xb = normalise_torch(frames[i : i + self.batch_size], MEAN, STD, self.device, self.fp16)
                img = self.net.encode_image(xb).float()
                img = img / img.norm(dim=-1, keepdim=True)
                out.append((scale * img @ self.text.T).softmax(dim=-1).cpu().numpy())
        return np.concatenate(out)

    def forward(self, batch) -> list[dict[str, float]]:
        p = self.probs(concat(batch))
        return [
            {c: round(float(v), 4) for c, v in zip(self.vocabulary, q.max(axis=0))}
            for q in split_counts(p, [len(b) for b in batch])
        ]
