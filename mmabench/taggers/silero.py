"""`silero`: speech activity from Silero VAD, whose weights ship in the `silero-vad` package (MIT) — the
offline speech tagger. Score "Speech" = fraction of the soundtrack inside detected speech segments (the
package's own segmenter: threshold 0.5, 250-ms minimum speech, 100-ms minimum silence), so a voice-over on
a non-speech clip can be flagged by how much of the clip it covers.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from mmabench.taggers.base import SpeechTagger, file_sha256, process_threads


class SileroTagger(SpeechTagger):
    name = "silero"
    version = 2  # 2: soxr resampling in load_audio

    def __init__(self, threshold: float = 0.5, device: str = "auto"):
        spec = importlib.util.find_spec("silero_vad")
        if spec is None:
            raise ImportError("the silero tagger needs `pip install silero-vad` (weights ship in the package)")
        import torch
        from silero_vad import get_speech_timestamps, load_silero_vad

        # silero_vad sets 1 torch thread process-wide on import: loading it must not shrink other models'
        # pools, so the process's setting is put back here and the VAD itself runs on one thread (below)
        torch.set_num_threads(process_threads())
        self.torch, self.segments, self.threshold = torch, get_speech_timestamps, threshold
        self.model = load_silero_vad()  # TorchScript, CPU: a 2-MB recurrent model run per 32-ms window
        from importlib.metadata import version

        weights = Path(spec.submodule_search_locations[0]) / "data" / "silero_vad.jit"
        self.weights_sha256 = file_sha256(str(weights))
        self.model_id = f"silero-vad/{version('silero-vad')}/threshold-{threshold}"

    def speech_seconds(self, wav) -> float:
        # one thread, as the package intends: a 2-MB recurrent model stepped per 32-ms window has nothing to
        # split, and a second thread only waits for the first (measured 13x slower under load with two)
        torch, before = self.torch, self.torch.get_num_threads()
        if before != 1:
            torch.set_num_threads(1)
        try:
            segs = self.segments(torch.from_numpy(wav), self.model, threshold=self.threshold, sampling_rate=self.rate)
        finally:
            if before != 1:
                torch.set_num_threads(before)
        return sum(s["end"] - s["start"] for s in segs) / self.rate
