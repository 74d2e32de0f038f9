"""`mmabench serve` as a user starts it: a real process on a loopback port, and its one-line refusals."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmabench.cli import app

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _serve(*args: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "COLUMNS": "200"}
    env.pop("MMABENCH_DB", None)
    return subprocess.Popen(
        [sys.executable, "-m", "mmabench", "serve", *args], stderr=subprocess.PIPE, text=True, env=env
    )


def _get(url: str, **headers: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def _wait_up(port: int, proc: subprocess.Popen) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    pytest.fail("mmabench serve did not start listening")


@pytest.mark.parametrize("host,token", [("127.0.0.1", ""), ("0.0.0.0", ""), ("0.0.0.0", "tok")])
def test_serve_binds_says_where_and_serves(served_home, host, token):
    port = _free_port()
    proc = _serve(
        "--home", str(served_home), "--port", str(port), "--host", host, *(["--token", token] if token else [])
    )
    try:
        _wait_up(port, proc)
        if token:
            assert _get(f"http://127.0.0.1:{port}/items")[0] == 401
            assert _get(f"http://127.0.0.1:{port}/items", Authorization=f"Bearer {token}")[0] == 200
        else:
            status, html = _get(f"http://127.0.0.1:{port}/items?condition=av_swap")
            assert status == 200 and "av_swap" in html
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=30)
    first = stderr.splitlines()[0]
    assert "read-only" in first and f":{port}/" in first
    assert ("loopback only" in first) == (host == "127.0.0.1")
    assert ("without --token" in stderr) == (host != "127.0.0.1" and not token)


def test_serve_without_a_manifest_is_one_line_and_nonzero(tmp_path):
    proc = _serve("--home", str(tmp_path / "nothing"), "--port", str(_free_port()))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "no manifest at" in stderr and len(stderr.strip().splitlines()) == 1
    assert not (tmp_path / "nothing").exists()  # looking did not create a workspace


def test_serve_on_a_manifest_of_an_older_schema_says_how_to_migrate(tmp_path):
    """The viewer never migrates (it opens read-only); the runs page reads migration 0007's columns."""
    from alembic import command
    from sqlalchemy import create_engine

    from mmabench.db.migrate import alembic_config

    path = tmp_path / "manifest.db"
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as c:
        cfg = alembic_config()
        cfg.attributes["connection"] = c
        command.upgrade(cfg, "0006")
    engine.dispose()
    proc = _serve("--db", f"sqlite:///{path}", "--port", str(_free_port()))
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 2 and "mmabench db repair" in stderr and len(stderr.strip().splitlines()) == 1
    res = CliRunner().invoke(app, ["db", "repair", "--db", f"sqlite:///{path}"])
    assert res.exit_code == 0 and "migrated 0006" in res.output, res.output
