"""The Ray executor on a local Ray started by the test: same manifest as the local executor, on SQLite and
PostgreSQL, and a worker process killed mid-stage is retried without holes or duplicates."""

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from mmabench.pipeline.build import build
from mmabench.pipeline.executors import RayExecutor
from tests.manifestdump import dump


@pytest.fixture(scope="module")
def local_full(tmp_path_factory):
    home = tmp_path_factory.mktemp("local")
    build("full", home=home, progress=False)
    return dump(f"sqlite:///{home}/manifest.db")


def test_ray_build_is_identical_to_local(ray_local, local_full, db_url, tmp_path):
    rep = build("full", home=tmp_path / "ws", db=db_url, progress=False, executor="ray")
    assert {s.name: s.done for s in rep.stages} == {"ingest": 18, "synthesize": 108, "itemize": 216}
    assert dump(db_url) == local_full
    again = build("full", home=tmp_path / "ws", db=db_url, progress=False, executor="ray")
    assert again.new_work == 0  # resumable and idempotent like the local path


def _die_once(marker_dir: str):
    def run(unit: int) -> int:
        marker = Path(marker_dir) / f"{unit}.died"
        if unit == 3 and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)  # the worker process dies mid-task
        return unit * unit

    return run


def test_a_killed_worker_is_retried_with_no_holes_or_duplicates(ray_local, tmp_path):
    ex = RayExecutor()
    results = list(ex.imap_unordered(_die_once(str(tmp_path)), list(range(12))))
    assert sorted(results) == [u * u for u in range(12)] and (tmp_path / "3.died").exists()
    assert ex.cluster()["cpus"] == 2 and ex.cluster()["nodes"] == 1


def test_run_functions_do_not_capture_the_manifest(tmp_path):
    """Executors pickle `run`: a stage whose run captured the Manifest (an engine) could not be shipped."""
    import cloudpickle

    from mmabench.db.manifest import Manifest
    from mmabench.pipeline.build import ingest_stage, item_stage, synth_stage

    with Manifest(home=tmp_path) as m:
        for stage in (
            ingest_stage(m, [], None, False),
            synth_stage(m, [], {}, None),
            item_stage(m, [], [], "x", None, {}),
        ):
            blob = cloudpickle.dumps(stage.run)
            assert b"sqlalchemy" not in blob, stage.name


def test_cli_executor_flag(tmp_path):
    from typer.testing import CliRunner

    from mmabench.cli import app

    bad = CliRunner().invoke(app, ["--executor", "spark", "build", "--home", str(tmp_path)])
    assert bad.exit_code == 2 and "--executor must be 'local' or 'ray'" in bad.output


@pytest.mark.parametrize("point", ["ingest:7", "synthesize:40"])
def test_a_killed_driver_resumes_like_the_local_path(ray_local, local_full, point, tmp_path):
    """`mmabench build --executor ray` joined to the test's cluster is SIGKILLed (MMABENCH_FAULT_KILL) with
    Ray tasks in flight; a resumed Ray build gives the clean manifest and verifies clean."""
    from mmabench.pipeline.verify import verify

    home, url = tmp_path / "ws", f"sqlite:///{tmp_path}/m.db"
    address = ray_local.get_runtime_context().gcs_address
    cmd = [sys.executable, "-m", "mmabench.cli", "--executor", "ray", "--ray-address", address]
    cmd += ["build", "--split", "full", "--home", str(home), "--db", url, "--no-progress"]
    proc = subprocess.run(cmd, env={**os.environ, "MMABENCH_FAULT_KILL": point}, capture_output=True, text=True)
    assert proc.returncode == -signal.SIGKILL, f"not killed at {point}: {proc.stderr[-500:]}"
    resumed = build("full", home=home, db=url, progress=False, executor="ray")
    assert resumed.new_work > 0  # the kill lost work that the resume did
    assert dump(url) == local_full
    assert verify(home=home, db=url) == ([], 0)
    assert not list(home.rglob("*.part*"))
