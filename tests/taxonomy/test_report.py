"""The curation report (`mmabench ontology --stats --compare --out DIR`) on the shipped lists and rules."""

import csv

from typer.testing import CliRunner

from mmabench.cli import app


def _csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_compare_report_lists_classes_rules_and_reasons(tmp_path):
    res = CliRunner().invoke(app, ["ontology", "--stats", "--compare", "--out", str(tmp_path)])
    assert res.exit_code == 0, res.output
    text = " ".join(res.output.split())
    assert "eval: 68 classes" in text and "balanced_train: 69 classes" in text and "study: 61 classes" in text
    classes = {r["class"]: r for r in _csv(tmp_path / "classes.csv")}
    kept = {k: sum(int(r[k]) for r in classes.values()) for k in ("eval", "balanced_train")}
    assert sum(int(r["eval"]) >= 15 for r in classes.values()) == 68
    assert "Canidae, dogs, wolves" in classes["Dog"]["absorbs"] and "Fowl" in classes["Bird"]["absorbs"]
    rules = {(r["label"], r["outcome"]): r for r in _csv(tmp_path / "rules.csv")}
    assert rules[("Canidae, dogs, wolves", "merged into Dog")]["rule"] == "merge"
    assert rules[("Fart", "dropped")]["rule"] == "action-less body sound"
    assert rules[("Growling", "split by lineage")]["eval"] == "62"  # eval segments carrying the label
    assert rules[("Sound reproduction", "segment excluded")]["rule"] == "loudspeaker"
    assert any(o == "left out of eval" and r["rule"] == "min_segments" for (_, o), r in rules.items())
    assert all(r["why"] for r in rules.values())  # every rule says why
    reasons = _csv(tmp_path / "reasons.csv")
    kinds = {r["reason"]: r for r in reasons if not r["detail"]}
    for lst, total in (("eval", 20371), ("balanced_train", 22160)):
        assert kept[lst] + sum(int(r[lst]) for r in kinds.values()) == total
    assert int(kinds["ambiguous lineage"]["eval"]) > 0
    md = (tmp_path / "curation.md").read_text()
    assert "## classes" in md and "## rules" in md and "## reasons" in md


def test_compare_needs_stats_and_bad_rules_fail_in_one_line(tmp_path):
    res = CliRunner().invoke(app, ["ontology", "--compare"])
    assert res.exit_code != 0 and "need --stats" in res.output
    bad = tmp_path / "r.toml"
    bad.write_text("version = 2\n[keep]\nnames = ['Dgo']\n")
    res = CliRunner().invoke(app, ["ontology", "--rules", str(bad)])
    assert res.exit_code == 2 and "unknown class 'Dgo'" in res.output and "Traceback" not in res.output
