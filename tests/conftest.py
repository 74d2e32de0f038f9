"""Shared fixtures: a real PostgreSQL server for the session, tiny real media generated per test."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest

from tests.mediagen import make_clip

ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session", autouse=True)
def _fresh_model_cache(tmp_path_factory):
    """Exported model files (the EfficientNet ONNX) go to a per-session cache, so every run exercises the
    export path a fresh machine takes instead of reusing ~/.cache from earlier runs."""
    os.environ["MMABENCH_CACHE"] = str(tmp_path_factory.mktemp("model_cache"))
    # datasets keys its cache of a local folder by content: a release exported by an earlier run to another
    # path would come back with that run's file paths. One cache per session (set before datasets imports).
    os.environ.setdefault("HF_DATASETS_CACHE", str(tmp_path_factory.mktemp("hf_datasets")))
    yield


@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL (initdb + pg_ctl), or MMABENCH_TEST_PG if set. Never skipped: a missing
    server is a failure, so PostgreSQL tests cannot silently not run."""
    if os.environ.get("MMABENCH_TEST_PG"):
        yield os.environ["MMABENCH_TEST_PG"]
        return
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not initdb or not pg_ctl:
        pytest.fail("PostgreSQL binaries (initdb, pg_ctl) not found; install PostgreSQL or set MMABENCH_TEST_PG")
    base = Path(tempfile.mkdtemp(prefix="mmabench-pg-"))
    port = _free_port()
    as_pg: list[str] = []
    if os.geteuid() == 0:  # initdb refuses root: run the server as the postgres user
        shutil.chown(base, "postgres", "postgres")
        as_pg = ["runuser", "-u", "postgres", "--"]
    data = base / "data"
    subprocess.run(
        [*as_pg, initdb, "-D", str(data), "-A", "trust", "-U", "postgres", "--no-sync"], check=True, capture_output=True
    )
    subprocess.run(
        [
            *as_pg,
            pg_ctl,
            "-D",
            str(data),
            "-l",
            str(base / "log"),
            "-w",
            "-o",
            f"-k {base} -p {port} -c listen_addresses=127.0.0.1 -c fsync=off",
            "start",
        ],
        check=True,
        capture_output=True,
    )
    try:
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run([*as_pg, pg_ctl, "-D", str(data), "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the session's server for each test."""
    import psycopg

    name = f"t_{uuid.uuid4().hex[:12]}"
    admin = pg_server.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    _reader_role(url)
    yield url
    with psycopg.connect(admin, autocommit=True) as con:
        con.execute(f'DROP DATABASE "{name}" WITH (FORCE)')


def _reader_role(url: str) -> None:
    """`mmabench query` runs as a SELECT-only role: made here, as a user would with `mmabench db
    init-readonly-role`; default privileges cover the tables the test creates later."""
    from mmabench.db.manifest import make_engine
    from mmabench.db.roles import init_readonly_role

    engine = make_engine(url)
    try:
        init_readonly_role(engine)
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request, tmp_path):
    """Run a test against both backends."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'manifest.db'}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def clip_factory(tmp_path):
    def make(name: str, **kw) -> Path:
        return make_clip(tmp_path / "media" / name, **kw)

    return make


@pytest.fixture(scope="session")
def tiny_omni(tmp_path_factory):
    """A tiny random-init Qwen2.5-Omni thinker + processor built offline (plumbing only)."""
    from tests.tinyomni import build_tiny_omni

    return build_tiny_omni(tmp_path_factory.mktemp("tiny_omni"))


@pytest.fixture(scope="module")
def ray_local():
    """A local Ray with 2 CPUs, started by the test module that asks for it (start-up costs seconds: one per
    module) and shut down after it."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()
