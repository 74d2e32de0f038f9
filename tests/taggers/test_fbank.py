"""The batched log-mel front end (taggers/fbank.py) against the feature extractor it replaces on GPU hosts:
AST's own `ASTFeatureExtractor` output, on real decoded audio of several lengths (shorter than max_length:
zero-padded; longer: cut), and the hf-audio tagger's scores with either front end."""

from pathlib import Path

import numpy as np
import pytest

from mmabench.media import load_audio
from mmabench.sources.demo import DEMO_DIR
from mmabench.taggers import taggers
from mmabench.taggers.fbank import ast_inputs, kaldi_fbank

SOUNDS = Path(__file__).resolve().parents[1] / "data" / "sounds"


def _wavs():
    demo = [load_audio(p, 16000) for p in sorted((DEMO_DIR / "clips").glob("*.mp4"))[:3]]
    long = np.concatenate([demo[0], demo[1], demo[2]])  # 15 s: more frames than max_length 1024
    return demo + [long, load_audio(SOUNDS / "dog.mp3", 16000)]


def test_equals_the_ast_feature_extractor_on_real_audio():
    from transformers import ASTFeatureExtractor

    ex = ASTFeatureExtractor()
    wavs = _wavs()
    assert {len(w) // 160 > 1024 for w in wavs} == {True, False}  # both the pad and the cut branch
    ref = np.stack([ex(w, sampling_rate=16000, return_tensors="np")["input_values"][0] for w in wavs])
    got = ast_inputs(wavs, ex, "cpu").numpy()
    assert got.shape == ref.shape == (len(wavs), 1024, 128)
    assert np.abs(got - ref).max() < 1e-4


def test_equals_torchaudio_kaldi_fbank_per_clip():
    import torch
    from torchaudio.compliance.kaldi import fbank

    wavs = _wavs()[:2]
    for w, got in zip(wavs, kaldi_fbank(wavs, "cpu")):
        ref = fbank(torch.from_numpy(w)[None], sample_frequency=16000, window_type="hanning", num_mel_bins=128)
        assert got.shape == ref.shape and torch.allclose(got, ref, atol=1e-4)


def test_hf_audio_scores_do_not_depend_on_the_front_end(tiny_ast, clip_factory):
    """A tiny random-init AST (scores are noise): the torch front end must give the CPU one's scores,
    silence included, so both share one cache key."""
    cpu = taggers.get("hf-audio")(checkpoint=tiny_ast, device="cpu", frontend="cpu")
    gpu_like = taggers.get("hf-audio")(checkpoint=tiny_ast, device="cpu", frontend="torch")
    assert cpu.model_id == gpu_like.model_id
    paths = [SOUNDS / "dog.mp3", clip_factory("silent.mp4", silent=True), SOUNDS / "cow.mp3"]
    a = cpu.forward([cpu.prepare(p) for p in paths])
    b = gpu_like.forward([gpu_like.prepare(p) for p in paths])
    assert a[1] == b[1] and max(a[1].values()) == 0.0
    for x, y in zip(a, b):
        assert max(abs(x[k] - y[k]) for k in x) < 1e-3


def test_auto_front_end_is_the_extractor_on_cpu(tiny_ast):
    assert taggers.get("hf-audio")(checkpoint=tiny_ast, device="cpu").frontend == "cpu"
    with pytest.raises(ValueError, match="frontend"):
        taggers.get("hf-audio")(checkpoint=tiny_ast, device="cpu", frontend="gpu")
