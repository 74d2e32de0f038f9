"""Answer parsing and metrics exactly as benchmark.md §3/§5.

Parsing: normalise case, underscores and punctuation; an exact option match first, then a unique option
contained in the answer (whole words; an option inside a longer contained option does not count), else
"unparsed" — counted, never silently dropped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Optional

import numpy as np

from mmabench.schema import NONE_OF_THE_ABOVE

_PUNCT = re.compile(r"[^\w\s]|_")


def normalise(text: str) -> str:
    return " ".join(_PUNCT.sub(" ", text.lower()).split())


def parse_answer(text: Optional[str], options: list[str]) -> tuple[Optional[str], str]:
    """-> (chosen option or None, status in {exact, contained, unparsed})."""
    ans = normalise(text or "")
    if not ans:
        return None, "unparsed"
    norm = {normalise(o): o for o in options}
    if ans in norm:
        return norm[ans], "exact"
    padded = f" {ans} "
    hits = [n for n in norm if n and f" {n} " in padded]
    hits = [h for h in hits if not any(h != o and f" {h} " in f" {o} " for o in hits)]
    if len(hits) == 1:
        return norm[hits[0]], "contained"
    return None, "unparsed"


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap CI of the mean (in %)."""
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return 100 * float(lo), 100 * float(hi)


@dataclass
class Cell:
    """Metrics for one condition x prompted modality."""

    condition: str
    modality: str
    n: int
    accuracy: float
    ci: tuple[float, float]
    macro: float
    abstention: float
    unparsed: float
    errors: int
    follows_video: Optional[float] = None
    follows_audio: Optional[float] = None
    per_class: dict[str, float] = field(default_factory=dict)


def score_rows(rows: Iterable[dict], seed: int = 0) -> list[Cell]:
    """rows: dicts with condition, prompt_modality, answer, parsed, parse_status, correct, abstained,
    visual_class, audio_class (the predictions_flat view)."""
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["condition"], r["prompt_modality"]), []).append(r)
    cells = []
    for (cond, mod), rs in sorted(groups.items()):
        scored = [r for r in rs if r["parse_status"] != "error"]
        correct = np.array([bool(r["correct"]) for r in scored], dtype=float)
        per_class: dict[str, list[float]] = {}
        for r, c in zip(scored, correct):
            per_class.setdefault(r["answer"], []).append(c)
        pc = {k: 100 * float(np.mean(v)) for k, v in sorted(per_class.items())}
        n = len(scored)
        cell = Cell(
            cond,
            mod,
            n,
            100 * float(correct.mean()) if n else float("nan"),
            bootstrap_ci(correct, seed=seed),
            float(np.mean(list(pc.values()))) if pc else float("nan"),
            100 * sum(bool(r["abstained"]) for r in scored) / n if n else float("nan"),
            100 * sum(r["parse_status"] == "unparsed" for r in scored) / n if n else float("nan"),
            len(rs) - n,
            per_class=pc,
        )
        if cond == "av_swap" and n:
            cell.follows_video = 100 * sum(r["parsed"] == r["visual_class"] for r in scored) / n
            cell.follows_audio = 100 * sum(r["parsed"] == r["audio_class"] for r in scored) / n
        cells.append(cell)
    return cells


def is_abstention(parsed: Optional[str]) -> bool:
    return parsed == NONE_OF_THE_ABOVE
