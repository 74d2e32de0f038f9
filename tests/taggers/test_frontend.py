"""Front ends and threads: YAMNet's vectorised log-mel equals the textbook loop, the imagenet normalisation
table equals the arithmetic, silero's VAD runs on one torch thread without changing the process's setting,
and a process's model threads are set once."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from mmabench.taggers.base import normalise

ROOT = Path(__file__).resolve().parents[2]
SOUNDS = ROOT / "tests" / "data" / "sounds"


def reference_patches(wav: np.ndarray) -> np.ndarray:
    """YAMNet's front end written out frame by frame: 25-ms periodic Hann in a 512-point FFT, 10-ms hop,
    |STFT| -> HTK mel (64 bands, 125-7500 Hz) -> log(x + 1e-6) -> 96-frame patches every 48 frames."""
    from mmabench.taggers.yamnet import MEL

    win = np.zeros(512)
    win[56:456] = 0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 400)
    wav = np.pad(wav, (0, max(0, 512 + 160 * 95 - len(wav))))
    rows = []
    for start in range(0, len(wav) - 512 + 1, 160):
        mag = np.abs(np.fft.rfft(wav[start : start + 512] * win))
        rows.append(np.log(mag @ MEL + 1e-6))
    lm = np.array(rows)
    return np.stack([lm[s : s + 96] for s in range(0, len(lm) - 96 + 1, 48)])[:, None].astype(np.float32)


@pytest.mark.parametrize("n", [300, 16000, 80213])
def test_yamnet_log_mel_equals_the_frame_by_frame_reference(n):
    from mmabench.taggers.yamnet import patches

    wav = (np.random.default_rng(n).standard_normal(n) * 0.1).astype(np.float32)
    got, want = patches(wav), reference_patches(wav)
    assert got.shape == want.shape and got.dtype == np.float32 and got.flags.c_contiguous
    assert np.abs(got - want).max() < 1e-4


def test_normalise_table_equals_the_arithmetic():
    mean, std = np.array([0.485, 0.456, 0.406], np.float32), np.array([0.229, 0.224, 0.225], np.float32)
    frames = np.random.default_rng(1).integers(0, 256, (3, 20, 30, 3), dtype=np.uint8)
    want = np.ascontiguousarray(((frames.astype(np.float32) / 255.0 - mean) / std).transpose(0, 3, 1, 2))
    got = normalise(frames, mean, std)
    assert got.shape == (3, 3, 20, 30) and got.flags.c_contiguous and np.array_equal(got, want)


def test_silero_runs_on_one_thread_and_keeps_the_process_setting():
    import torch

    from mmabench.taggers import taggers

    silero = taggers.get("silero")()
    torch.set_num_threads(2)
    seen = []

    class Recording:  # stands between the segmenter and the real model, noting the thread count per call
        def __init__(self, model):
            self.model = model

        def __call__(self, *a, **kw):
            seen.append(torch.get_num_threads())
            return self.model(*a, **kw)

        def reset_states(self):
            self.model.reset_states()

    silero.model = Recording(silero.model)
    from mmabench.media import load_audio

    assert silero.speech_seconds(load_audio(SOUNDS / "dog.mp3", 16000)) < 1.0
    assert seen and set(seen) == {1} and torch.get_num_threads() == 2


def test_model_threads_are_set_once_per_process():
    code = """
import torch
from mmabench.taggers.base import process_threads, set_threads
from mmabench.tagging.runner import load_taggers
(t,) = load_taggers(["yamnet"], {"yamnet": {"threads": 0}}, model_workers=2)
opts = t.session.get_session_options()
print(process_threads(), set_threads(2), torch.get_num_threads(), opts.intra_op_num_threads,
      opts.get_session_config_entry("session.intra_op.allow_spinning"))
"""
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True, env=_env()
    ).stdout.split()
    cores = __import__("os").cpu_count() or 1
    n = str(max(1, cores // 2))  # two model processes share the cores
    assert out == [n, n, n, n, "0"]  # a later set_threads(2) keeps the first decision


def _env():
    import os

    return {**os.environ, "PYTHONPATH": str(ROOT)}
