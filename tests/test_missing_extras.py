"""The base install: a missing optional package is named with its extra in one line before any work, and
charts degrade to a note. Absence is simulated in a subprocess by a meta-path blocker (nothing is uninstalled)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BLOCKER = """
import os, sys
_BLOCK = set(os.environ.get("MMABENCH_TEST_BLOCK", "").split(","))
class _Blocker:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in _BLOCK:
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Blocker())
"""


def mmabench(tmp_path: Path, *args: str, block: str = "") -> subprocess.CompletedProcess:
    site = tmp_path / "blocker"
    site.mkdir(exist_ok=True)
    (site / "sitecustomize.py").write_text(BLOCKER)
    env = os.environ | {
        "PYTHONPATH": f"{site}{os.pathsep}{ROOT}",
        "MMABENCH_TEST_BLOCK": block,
        "MMABENCH_HOME": str(tmp_path / "ws"),
        "COLUMNS": "200",
    }
    env.pop("MMABENCH_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "mmabench", *args], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )


def test_the_blocker_really_hides_the_package(tmp_path):
    site = tmp_path / "blocker"
    mmabench(tmp_path, "--help")
    env = os.environ | {"PYTHONPATH": str(site), "MMABENCH_TEST_BLOCK": "matplotlib"}
    res = subprocess.run([sys.executable, "-c", "import matplotlib"], env=env, capture_output=True, text=True)
    assert res.returncode == 1 and "No module named 'matplotlib'" in res.stderr


def test_ingest_audioset_without_yt_dlp_fails_before_any_work(tmp_path):
    res = mmabench(
        tmp_path, "ingest", "audioset", "--segments", "eval", "--class", "Dog", "--limit", "2", block="yt_dlp"
    )
    assert res.returncode == 2, res.stdout + res.stderr
    assert "mmabench[ingest]" in res.stderr and "Traceback" not in res.stderr
    assert not (tmp_path / "ws" / "manifest.db").exists()  # nothing recorded as a clip failure


def test_ontology_stats_without_matplotlib_prints_the_stats_and_one_line_about_the_chart(tmp_path):
    res = mmabench(tmp_path, "ontology", "--stats", "--segments", "eval", block="matplotlib")
    assert res.returncode == 0, res.stderr  # the stats are what was asked; the default chart is a note
    assert "68 classes with ≥ 15" in res.stdout.replace("\n", " ")
    assert res.stderr.strip().splitlines() == [
        "charts skipped: matplotlib is not installed (pip install 'mmabench[report]')"
    ]
    explicit = mmabench(tmp_path, "ontology", "--stats", "--chart", "c.png", block="matplotlib")
    assert explicit.returncode == 1 and "Traceback" not in explicit.stderr  # a chart asked for by path
    assert "--chart needs matplotlib: pip install 'mmabench[report]'" in explicit.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and "segments read" in res.stdout


def test_report_without_matplotlib_writes_tables_and_a_note(tmp_path):
    assert mmabench(tmp_path, "build", "--no-progress").returncode == 0
    assert mmabench(tmp_path, "eval", "--model", "random", "--no-progress").returncode == 0
    res = mmabench(tmp_path, "report", "--out", "r", block="matplotlib")
    assert res.returncode == 0, res.stderr
    assert "charts skipped" in res.stderr and "Traceback" not in res.stderr
    md = (tmp_path / "r" / "report.md").read_text()
    assert "charts skipped" in md and "| condition |" in md and not list((tmp_path / "r").glob("*.png"))
