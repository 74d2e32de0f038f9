"""Score drift: the offline taggers' scores on the demo clips and test recordings vs. pinned golden values.

    python scripts/score_drift.py            # table of golden vs now, exit 1 if any drifts past --tol
    python scripts/score_drift.py --write    # re-pin (do this on purpose, in its own commit, with the reason)

Run it after a dependency update (onnxruntime, numpy, PyAV): a drift means thresholds tuned on the old
scores may no longer hold. The test suite runs the same comparison (tests/tagging/test_golden.py).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden_scores.json"
SOUNDS = ROOT / "tests" / "data" / "sounds"
SOUND_LABELS = {"dog": "Dog", "cow": "Cattle, bovinae", "rooster": "Fowl"}


def current_scores() -> dict[str, dict[str, float]]:
    """{tagger: {"file:label": score}} for the labelled class of every demo clip and test recording."""
    from mmabench.sources.demo import DEMO_DIR, demo_labels
    from mmabench.taggers import taggers

    labels = demo_labels()
    files = [(p, labels[p.name]) for p in sorted((DEMO_DIR / "clips").glob("*.mp4"))]
    out: dict[str, dict[str, float]] = {}
    for name in ("yamnet", "imagenet"):
        t = taggers.get(name)()
        extra = [(SOUNDS / f"{n}.mp3", lab) for n, lab in SOUND_LABELS.items()] if t.modality == "audio" else []
        scores = {}
        for path, label in files + extra:
            s = t.score(t.tag(path), label)
            if s is not None:
                scores[f"{path.name}:{label}"] = round(float(s), 4)
        out[name] = scores
    return out


def drift(golden: dict, now: dict) -> list[tuple[str, str, float, float]]:
    """(tagger, key, golden, now) for every pinned score, missing ones as NaN."""
    return [(t, k, g, now.get(t, {}).get(k, float("nan"))) for t, pins in golden.items() for k, g in pins.items()]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="re-pin the golden values to the current scores")
    ap.add_argument("--tol", type=float, default=0.02, help="largest allowed |golden - now| (default 0.02)")
    a = ap.parse_args()
    now = current_scores()
    if a.write:
        GOLDEN.write_text(json.dumps(now, indent=1, sort_keys=True) + "\n")
        print(f"pinned {sum(map(len, now.values()))} scores to {GOLDEN.relative_to(ROOT)}")
        return 0
    rows = drift(json.loads(GOLDEN.read_text()), now)
    bad = 0
    print(f"{'tagger':9} {'file:label':40} {'golden':>7} {'now':>7} {'drift':>7}")
    for t, k, g, n in rows:
        d = abs(g - n)
        flag = "" if d <= a.tol else "  <-- drift"
        bad += bool(flag) or d != d
        print(f"{t:9} {k:40} {g:7.4f} {n:7.4f} {n - g:+7.4f}{flag}")
    print(f"{len(rows)} scores, {bad} beyond ±{a.tol}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
