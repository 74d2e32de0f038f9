"""Golden scores: the offline taggers' scores on the demo clips and test recordings, pinned.

Tolerance ±0.02: float32 kernels differ across CPUs by ~1e-5, so anything bigger is a change of model,
front end or library (then re-pin on purpose with `python scripts/score_drift.py --write`, in its own
commit). The margin test keeps every filter outcome a test asserts far from its threshold."""

import importlib.util
import json
from pathlib import Path

import pytest

from mmabench.tagging.filter import FilterConfig

ROOT = Path(__file__).resolve().parents[2]
spec = importlib.util.spec_from_file_location("score_drift", ROOT / "scripts" / "score_drift.py")
score_drift = importlib.util.module_from_spec(spec)
spec.loader.exec_module(score_drift)
GOLDEN = json.loads(score_drift.GOLDEN.read_text())

# (tagger, file:label) whose side of the threshold tests/taggers/test_taggers.py asserts
ASSERTED = {
    ("yamnet", "cat_1.mp4:Cat"): "audio",
    ("imagenet", "cat_1.mp4:Cat"): "visual",
    ("yamnet", "speech_1.mp4:Speech"): "audio",
    ("imagenet", "music_1.mp4:Music"): "visual",
    ("yamnet", "dog.mp3:Dog"): 0.5,
    ("yamnet", "cow.mp3:Cattle, bovinae"): 0.5,
    ("yamnet", "rooster.mp3:Fowl"): 0.5,
}


@pytest.fixture(scope="module")
def now():
    return score_drift.current_scores()


def test_scores_match_the_pinned_golden_values(now):
    drifted = [(t, k, g, n) for t, k, g, n in score_drift.drift(GOLDEN, now) if not abs(g - n) <= 0.02]
    assert drifted == [], "re-pin on purpose: python scripts/score_drift.py --write"


def test_asserted_outcomes_sit_far_from_their_thresholds():
    cfg = FilterConfig()
    for (tagger, key), which in ASSERTED.items():
        thr = which if isinstance(which, float) else getattr(cfg, f"{which}_threshold")
        assert abs(GOLDEN[tagger][key] - thr) >= 0.15, (tagger, key, GOLDEN[tagger][key], thr)
