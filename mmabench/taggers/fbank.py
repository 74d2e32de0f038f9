"""Kaldi-compatible log-mel filterbanks for a batch of waveforms, on any torch device.

AST's feature extractor computes `torchaudio.compliance.kaldi.fbank` one clip at a time on the CPU (~10 ms per
10-s clip); on a GPU host that front end, not the model, bounds throughput. This is the same computation
batched (frames by striding, one rFFT, one matmul with Kaldi's mel banks), so the tagger's worker processes only
decode audio and the model's device does the rest. Tested equal to the extractor's own output.
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np


def kaldi_fbank(wavs: Sequence[np.ndarray], device: str, num_mel_bins: int = 128, rate: int = 16000) -> list[Any]:
    """One (frames, num_mel_bins) float32 tensor per waveform (Kaldi defaults: 25-ms Hann window, 10-ms shift,
    snip_edges, DC removal, pre-emphasis 0.97, power spectrum, no dither, log floored at float32 eps)."""
    import torch
    import torch.nn.functional as F
    from torchaudio.compliance.kaldi import get_mel_banks

    win, hop, nfft = int(rate * 0.025), int(rate * 0.010), 512
    lengths = [1 + (len(w) - win) // hop if len(w) >= win else 0 for w in wavs]
    longest = max(len(w) for w in wavs)
    x = torch.zeros(len(wavs), longest, dtype=torch.float32)
    for i, w in enumerate(wavs):
        x[i, : len(w)] = torch.from_numpy(np.asarray(w, np.float32))
    x = x.to(device, non_blocking=True)
    frames = x.unfold(1, win, hop)  # (B, T, win)
    frames = frames - frames.mean(dim=-1, keepdim=True)
    prev = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)
    frames = frames - 0.97 * prev
    frames = frames * torch.hann_window(win, periodic=False, device=frames.device)
    power = torch.fft.rfft(F.pad(frames, (0, nfft - win)), n=nfft).abs().pow(2)
    banks, _ = get_mel_banks(num_mel_bins, nfft, float(rate), 20.0, 0.0, 100.0, -500.0, 1.0)
    banks = F.pad(banks, (0, 1)).to(frames.device)  # (bins, nfft/2 + 1)
    mel = torch.matmul(power, banks.T).clamp_min(torch.finfo(torch.float32).eps).log()
    return [mel[i, :n] for i, n in enumerate(lengths)]


def ast_inputs(wavs: Sequence[np.ndarray], extractor: Any, device: str) -> Any:
    """AST's `input_values` for a batch, as the extractor would make them: fbank, zero-padded or cut to
    max_length frames, then (x - mean) / (2 std)."""
    import torch

    feats = kaldi_fbank(wavs, device, extractor.num_mel_bins, extractor.sampling_rate)
    out = torch.zeros(len(wavs), extractor.max_length, extractor.num_mel_bins, device=feats[0].device)
    for i, f in enumerate(feats):
        n = min(len(f), extractor.max_length)
        out[i, :n] = f[:n]
    return (out - extractor.mean) / (extractor.std * 2) if extractor.do_normalize else out
