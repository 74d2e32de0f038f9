"""One logging setup: people get rich's handler, machines one JSON object per line; stages log timings."""

import json

from mmabench.logs import get_logger, setup_logging
from mmabench.pipeline.build import build


def test_json_lines_carry_stage_counts_and_timings(tmp_path, capsys):
    setup_logging("info", json_lines=True)
    try:
        build("conflict", home=tmp_path, progress=False)
    finally:
        setup_logging("warning")
    records = [json.loads(line) for line in capsys.readouterr().err.splitlines() if line.startswith("{")]
    stages = {r["stage"]: r for r in records if "stage" in r}
    assert {"ingest", "synthesize", "itemize"} <= set(stages)
    assert stages["ingest"]["done"] == 18 and stages["ingest"]["seconds"] >= 0


def test_level_from_env_and_bad_level(monkeypatch):
    monkeypatch.setenv("MMABENCH_LOG", "debug")
    setup_logging()
    assert get_logger("x").getEffectiveLevel() == 10
    monkeypatch.delenv("MMABENCH_LOG")
    setup_logging()
    try:
        setup_logging("loud")
    except ValueError as e:
        assert "unknown log level" in str(e)
    else:
        raise AssertionError("a bad level must be refused")


def test_cli_log_flags(tmp_path):
    from typer.testing import CliRunner

    from mmabench.cli import app

    res = CliRunner().invoke(
        app, ["--log-level", "info", "--log-json", "build", "--home", str(tmp_path), "--no-progress"]
    )
    assert res.exit_code == 0
    bad = CliRunner().invoke(app, ["--log-level", "loud", "build", "--home", str(tmp_path)])
    assert bad.exit_code == 2 and "unknown log level" in bad.output
