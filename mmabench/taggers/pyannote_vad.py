"""`pyannote`: speech activity from a pyannote.audio segmentation model (e.g. pyannote/segmentation-3.0)
through its VoiceActivityDetection pipeline. The checkpoint is a local file/directory or a hub id (gated:
accept the model's terms and pass a token via HF_TOKEN). Score "Speech" = fraction of the soundtrack inside
detected speech. pyannote's usage telemetry is off unless PYANNOTE_METRICS_ENABLED says otherwise.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Optional

from mmabench.taggers.base import SpeechTagger, file_sha256, resolve_device


class PyannoteTagger(SpeechTagger):
    name = "pyannote"
    version = 2  # 2: soxr resampling in load_audio

    def __init__(
        self,
        checkpoint: Optional[str] = None,
        token: Optional[str] = None,
        device: str = "auto",
        onset: float = 0.5,
        offset: float = 0.5,
        min_duration_on: float = 0.0,
        min_duration_off: float = 0.0,
    ):
        if not checkpoint:
            raise ImportError(
                "the pyannote tagger needs a segmentation model: --speech-checkpoint FILE|DIR "
                "(e.g. a local copy of pyannote/segmentation-3.0), or a hub id with HF_TOKEN set"
            )
        os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
        try:
            import torch
            from pyannote.audio import Model
            from pyannote.audio.pipelines import VoiceActivityDetection
        except ImportError as e:
            raise ImportError("the pyannote tagger needs pyannote.audio: pip install 'mmabench[speech]'") from e
        token = token or os.environ.get("HF_TOKEN")
        try:
            model = Model.from_pretrained(checkpoint, token=token)
        except Exception as e:  # hub errors come as several types; the message is what helps
            raise ImportError(
                f"cannot load pyannote checkpoint {checkpoint!r}: {type(e).__name__}: {str(e)[:160]}. "
                "Offline, pass the pytorch_model.bin file or its directory"
            ) from e
        if model is None:
            raise ImportError(f"pyannote checkpoint {checkpoint!r} not found (gated hub model? set HF_TOKEN)")
        self.torch, self.device = torch, resolve_device(device)
        self.pipeline = VoiceActivityDetection(segmentation=model)
        self.pipeline.to(torch.device(self.device))
        params = {"min_duration_on": min_duration_on, "min_duration_off": min_duration_off}
        if not model.specifications.powerset:  # powerset models have no tunable thresholds
            params |= {"onset": onset, "offset": offset}
        self.pipeline.instantiate(params)
        p = Path(checkpoint)
        f = p / "pytorch_model.bin" if p.is_dir() else p
        self.weights_sha256 = file_sha256(str(f)) if f.is_file() else hashlib.sha256(checkpoint.encode()).hexdigest()
        tag = hashlib.sha256(repr(sorted(params.items())).encode()).hexdigest()[:8]
        self.model_id = f"pyannote/{type(model).__name__}/{p.name}/vad-{tag}"

    def speech_seconds(self, wav) -> float:
        ann = self.pipeline({"waveform": self.torch.from_numpy(wav)[None], "sample_rate": self.rate})
        return ann.get_timeline().support().duration()
