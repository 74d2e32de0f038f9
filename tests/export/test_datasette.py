"""The release's manifest.db served by the real Datasette (its own process, loopback only), read-only and
moved: every canned query from the release's metadata.json answers over HTTP with the rows sqlite3 gives."""

import json
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from mmabench.export.hf import export_hf
from tests.export.test_release import make_read_only


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str) -> dict:
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_datasette_serves_a_moved_read_only_release_with_its_canned_queries(demo_home, tmp_path):
    rep = export_hf(tmp_path / "made", home=demo_home, splits=["conflict"])
    rel = tmp_path / "moved" / "release"
    shutil.copytree(rep.out, rel)
    shutil.rmtree(rep.out)
    make_read_only(rel)
    port = _free_port()
    cmd = [
        Path(sys.executable).with_name("datasette"),
        "serve",
        "--immutable",
        str(rel / "manifest.db"),
        "--metadata",
        str(rel / "metadata.json"),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                _get(f"{base}/-/versions.json")
                break
            except OSError:
                assert proc.poll() is None and time.monotonic() < deadline, proc.stdout.read() if proc.stdout else ""
                time.sleep(0.3)
        queries = json.loads((rel / "metadata.json").read_text())["databases"]["manifest"]["queries"]
        con = sqlite3.connect(f"file:{rel / 'manifest.db'}?mode=ro", uri=True)
        for name, q in queries.items():
            served = _get(f"{base}/manifest/{name}.json?_shape=arrays")["rows"]
            assert served == [list(r) for r in con.execute(q["sql"]).fetchall()], name
        items = _get(f"{base}/manifest.json?sql=select+count(*)+from+items&_shape=arrays")["rows"]
        assert items == [[72]]
        assert not (rel / "manifest.db-wal").exists() and not (rel / "manifest.db-journal").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
