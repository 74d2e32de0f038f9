"""Answer parsing and metrics exactly as benchmark.md §3/§5.

Parsing: normalise case, underscores and punctuation; an exact option match first, then a unique option
contained in the answer (whole words; an option inside a longer contained option does not count), then the
head noun of an option with commas ("Cattle" for "Cattle, bovinae") when it names that option alone (it is
no other option's head and no word run of another option), else "unparsed" — counted, never silently dropped.
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
    # word runs found in the answer -> their option: whole options, and unambiguous head nouns
    hits = {n: o for n, o in norm.items() if n and f" {n} " in padded}
    hits |= {h: o for h, o in _heads(options).items() if f" {h} " in padded and h not in hits}
    kept = [h for h in hits if not any(h != o and f" {h} " in f" {o} " for o in hits)]  # the longest runs
    if len({hits[h] for h in kept}) == 1:
        return hits[kept[0]], "contained" if any(h in norm for h in kept) else "head"
    return None, "unparsed"


def _heads(options: list[str]) -> dict[str, str]:
    """Normalised head noun -> option, for options with commas whose head is unambiguous."""
    heads: dict[str, list[str]] = {}
    for o in options:
        if "," in o:
            heads.setdefault(normalise(o.split(",", 1)[0]), []).append(o)
    full = {normalise(o): o for o in options}
    return {
        h: os[0]
        for h, os in heads.items()
        if h and len(os) == 1 and not any(f" {h} " in f" {n} " for n, o in full.items() if o != os[0])
    }


def bootstrap_ci(values: np.ndarray, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap CI of the mean (in %)."""
    if len(values) == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_boot, len(values)))].mean(axis=1)
    lo, hi = np.percentile(means, [2.5, 97.5])
    return 100 * float(lo), 100 * float(hi)


def binomial_ci(k: int, n: int, n_boot: int = 1000, seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap CI (in %) of the mean of n 0/1 values of which k are 1, drawn from the counts.

    A bootstrap resample of n values draws each with probability k/n, so its sum is Binomial(n, k/n): the
    percentiles of `binomial(n, k/n) / n` are those of `bootstrap_ci` on the rows, the same distribution in
    O(n_boot) instead of O(n_boot * n) and without the rows. Same seed semantics (one generator per call from
    `seed`); the Monte Carlo draws differ, so the two agree to within Monte Carlo noise, not digit for digit."""
    if n == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = rng.binomial(n, k / n, size=n_boot) / n
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


@dataclass
class Counts:
    """One cell's tallies, as SQL aggregates return them (eval/aggregate.py): scored rows (not errors) and,
    among them, correct, abstained, unparsed, answers naming the video's / the audio's class; error rows; and
    per ground-truth class (scored, correct)."""

    n: int = 0
    correct: int = 0
    abstained: int = 0
    unparsed: int = 0
    follows_video: int = 0
    follows_audio: int = 0
    errors: int = 0
    per_class: dict[str, tuple[int, int]] = field(default_factory=dict)


def score_counts(cells: dict[tuple[str, str], Counts], seed: int = 0) -> list[Cell]:
    """The metrics of `score_rows` from per-cell counts. Each figure is computed with the same float operations
    as there, so both give identical numbers (tests/eval/test_aggregate.py); only the CI is drawn from the
    counts (`binomial_ci`)."""
    out = []
    for (cond, mod), c in sorted(cells.items()):
        n = c.n
        pc = {k: 100 * (right / m) for k, (m, right) in sorted(c.per_class.items()) if m}
        cell = Cell(
            cond,
            mod,
            n,
            100 * (c.correct / n) if n else float("nan"),
            binomial_ci(c.correct, n, seed=seed),
            float(np.mean(list(pc.values()))) if pc else float("nan"),
            100 * c.abstained / n if n else float("nan"),
            100 * c.unparsed / n if n else float("nan"),
            c.errors,
            per_class=pc,
        )
        if cond == "av_swap" and n:
            cell.follows_video = 100 * c.follows_video / n
            cell.follows_audio = 100 * c.follows_audio / n
        out.append(cell)
    return out


def score_rows(rows: Iterable[dict], seed: int = 0) -> list[Cell]:
    """rows: dicts with condition, prompt_modality, answer, parsed, parse_status, correct, abstained,
    visual_class, audio_class (the predictions_flat view). The row path: the report and the runs page now
    score SQL counts (`score_counts`); this stays as the reference they are tested against."""
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
