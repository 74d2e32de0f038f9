"""Two runs on the same items, cell by cell: accuracy difference and McNemar's exact test.

Paired because both runs answered the same questions: only the discordant items (right in one run, wrong
in the other) carry evidence, and under "no difference" each discordant item is a fair coin.
"""

from __future__ import annotations

from dataclasses import dataclass
from math import comb

from sqlalchemy import text

from mmabench.db.manifest import Manifest


def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for b and c discordant pairs (binomial, p = 1/2)."""
    n = b + c
    if n == 0:
        return 1.0
    tail = sum(comb(n, k) for k in range(min(b, c) + 1)) / 2**n
    return min(1.0, 2 * tail)


@dataclass
class PairedCell:
    condition: str
    modality: str
    n: int  # items both runs answered without error
    acc_a: float
    acc_b: float
    only_a: int  # right in run A, wrong in run B
    only_b: int

    @property
    def diff(self) -> float:
        return self.acc_b - self.acc_a

    @property
    def p_value(self) -> float:
        return mcnemar_exact(self.only_a, self.only_b)


def paired_cells(m: Manifest, run_a: str, run_b: str) -> list[PairedCell]:
    sql = text(
        "SELECT a.condition, a.prompt_modality, a.correct AS ca, b.correct AS cb "
        "FROM predictions_flat a JOIN predictions_flat b ON a.item_id = b.item_id "
        "WHERE a.run_id = :a AND b.run_id = :b AND a.error IS NULL AND b.error IS NULL"
    )
    cells: dict[tuple[str, str], list[tuple[bool, bool]]] = {}
    with m.session() as s:
        for cond, mod, ca, cb in s.execute(sql, {"a": run_a, "b": run_b}):
            cells.setdefault((cond, mod), []).append((bool(ca), bool(cb)))
    out = []
    for (cond, mod), pairs in sorted(cells.items()):
        n = len(pairs)
        out.append(
            PairedCell(
                cond,
                mod,
                n,
                100.0 * sum(a for a, _ in pairs) / n,
                100.0 * sum(b for _, b in pairs) / n,
                sum(a and not b for a, b in pairs),
                sum(b and not a for a, b in pairs),
            )
        )
    return out


def markdown(cells: list[PairedCell], label_a: str, label_b: str) -> list[str]:
    lines = [
        f"## Paired comparison: {label_a} → {label_b}",
        "",
        "Same items in both runs; McNemar's exact test on the items only one run got right.",
        "",
        "| condition | prompt | n | A % | B % | B − A | only A right | only B right | p |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for c in cells:
        lines.append(
            f"| {c.condition} | {c.modality} | {c.n} | {c.acc_a:.1f} | {c.acc_b:.1f} | {c.diff:+.1f} | "
            f"{c.only_a} | {c.only_b} | {c.p_value:.3g} |"
        )
    return lines
