"""Fault injection: a `build --split full` SIGKILLed at points across ingest, synthesize, itemize and the final
item transaction, on SQLite and PostgreSQL, then resumed, must equal a clean build (ids, media hashes, answers,
prompts), pass `verify` and leave no temp file. The migration's own kill points are in tests/db/test_migrate.py."""

import os
import signal
import subprocess
import sys

import pytest

from mmabench.pipeline.build import build
from mmabench.pipeline.verify import verify
from tests.manifestdump import dump

POINTS = ["ingest:7", "synthesize:0", "synthesize:40", "itemize:100", "apply:0"]


@pytest.fixture(scope="module")
def clean(tmp_path_factory):
    home = tmp_path_factory.mktemp("clean")
    build("full", home=home, progress=False)
    return dump(f"sqlite:///{home}/manifest.db")


@pytest.mark.parametrize("point", POINTS)
def test_killed_build_resumes_to_the_clean_manifest(point, clean, db_url, tmp_path):
    home = tmp_path / "ws"
    cmd = [
        sys.executable,
        "-m",
        "mmabench.cli",
        "build",
        "--split",
        "full",
        "--home",
        str(home),
        "--db",
        db_url,
        "--no-progress",
        "--workers",
        "1",
    ]
    env = {**os.environ, "MMABENCH_FAULT_KILL": point}
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {point}: {proc.stderr[-500:]}"
    resumed = build("full", home=home, db=db_url, progress=False)
    assert resumed.new_work > 0  # the kill lost work that the resume did
    assert dump(db_url) == clean
    assert verify(home=home, db=db_url) == ([], 0)
    assert not list(home.rglob("*.part*"))
