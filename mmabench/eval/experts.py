"""`experts`: visual prompts answered by the visual tagger, audio prompts by the audio tagger, each on the
variant's own media — a real reference for perfect modality selectivity (it cannot be fooled by the
other stream or by text). It abstains ("None of the above") when no option scores above a threshold,
which is what an ideal model does when the prompted modality is missing."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from mmabench.adapters.base import Adapter, Capabilities, Request, Response
from mmabench.schema import NONE_OF_THE_ABOVE
from mmabench.taggers import taggers


class ExpertsAdapter(Adapter):
    name = "experts"
    capabilities = Capabilities(video_frames=True, audio=True)

    def __init__(
        self,
        model: str = "",
        visual: str = "imagenet",
        audio: str = "yamnet",
        visual_threshold: float = 0.2,
        audio_threshold: float = 0.3,
        **options: Any,
    ):
        self.visual, self.audio = taggers.get(visual)(), taggers.get(audio)()
        super().__init__(
            model or f"{visual}+{audio}",
            visual=visual,
            audio=audio,
            visual_threshold=visual_threshold,
            audio_threshold=audio_threshold,
            visual_weights=self.visual.weights_sha256[:16],
            audio_weights=self.audio.weights_sha256[:16],
            **options,
        )
        self._scores = lru_cache(maxsize=256)(self._tag)

    def _tag(self, path: str, modality: str) -> dict[str, float]:
        return (self.visual if modality == "visual" else self.audio).tag(path)

    def generate(self, request: Request) -> Response:
        mod = request.item.prompt_modality.value
        scores = self._scores(str(request.media_path), mod)
        thr = self.opts["visual_threshold" if mod == "visual" else "audio_threshold"]
        cand = {o: scores[o] for o in request.item.options if o in scores}
        best = max(cand, key=cand.get) if cand else None
        answer = best if best is not None and cand[best] >= thr else NONE_OF_THE_ABOVE
        sent = {
            "modality": mod,
            "tagger": self.visual.name if mod == "visual" else self.audio.name,
            "media_sha256": request.media_sha256,
        }
        return Response(answer, sent)
