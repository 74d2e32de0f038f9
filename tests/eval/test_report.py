import re

from mmabench.eval.report import make_report
from mmabench.eval.runner import evaluate


def test_report_markdown_html_and_charts(demo_home, tmp_path):
    runs = [evaluate(a, split="full", home=demo_home).run_id for a in ("random", "majority")]
    paths = make_report(tmp_path / "rep", home=demo_home)
    md = paths["markdown"].read_text()
    assert "demo corpus" in md and md.count("| random |") == 3 and "| majority |" in md  # 3 tables
    row = next(line for line in md.splitlines() if line.startswith("| majority | `"))
    assert len(re.findall(r"\d+\.\d / \d+\.\d", row)) == 6  # six conditions, V / A each
    assert "## Leaderboard" in md and "Per class" in md
    html = paths["html"].read_text()
    assert html.count("data:image/png;base64,") == 2 and "<table>" in html and 'src="run_' not in html
    for rid in runs:
        assert paths[rid].read_bytes()[:4] == b"\x89PNG"
    only = make_report(tmp_path / "one", [runs[0]], home=demo_home)
    assert "| majority |" not in only["markdown"].read_text()
