"""Paired comparison of two runs: McNemar's exact p-values against values worked by hand, and the report."""

import pytest
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.manifest import Manifest
from mmabench.eval.compare import mcnemar_exact, paired_cells
from mmabench.eval.runner import evaluate

# (b, c) -> p, from the definition: p = min(1, 2 * sum_{k<=min(b,c)} C(b+c, k) / 2^(b+c))
HAND = [
    ((0, 0), 1.0),
    ((0, 6), 2 / 64),  # 0.03125
    ((1, 9), 2 * (1 + 10) / 1024),  # 0.021484375
    ((2, 2), 1.0),  # 2 * (1 + 4 + 6) / 16 = 1.375 -> capped
    ((3, 0), 2 / 8),  # 0.25
    ((5, 15), 2 * (1 + 20 + 190 + 1140 + 4845 + 15504) / 2**20),
]


@pytest.mark.parametrize("bc,p", HAND)
def test_mcnemar_exact_matches_hand_values(bc, p):
    assert mcnemar_exact(*bc) == pytest.approx(p, rel=1e-12)
    assert mcnemar_exact(*reversed(bc)) == pytest.approx(p, rel=1e-12)


def test_paired_cells_and_report(demo_home):
    a = evaluate("majority", split="conflict", home=demo_home)
    b = evaluate("random", split="conflict", home=demo_home, seed=3)
    with Manifest(home=demo_home) as m:
        cells = paired_cells(m, a.run_id, b.run_id)
        same = paired_cells(m, a.run_id, a.run_id)
    assert {(c.condition, c.modality) for c in cells} == {
        (x, y) for x in ("aligned", "av_swap") for y in ("visual", "audio")
    }
    assert all(c.n == 18 for c in cells)
    assert all(c.only_a == c.only_b == 0 and c.p_value == 1.0 for c in same)
    for c in cells:  # the discordant counts explain the accuracy difference exactly
        assert round(c.diff * c.n / 100) == c.only_b - c.only_a
    out = demo_home / "rep"
    res = CliRunner().invoke(
        app, ["report", "--out", str(out), "--compare", a.run_id, "--compare", b.run_id, "--home", str(demo_home)]
    )
    assert res.exit_code == 0, res.output
    md = (out / "report.md").read_text()
    assert "## Paired comparison: majority → random" in md and "McNemar" in md
    bad = CliRunner().invoke(
        app, ["report", "--out", str(out), "--compare", a.run_id, "--compare", "nope", "--home", str(demo_home)]
    )
    assert bad.exit_code == 2 and "two existing run ids" in bad.output
