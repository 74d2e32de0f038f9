"""Secrets never reach the manifest or a release: a server that echoes the refused key in its 401 body, a
password in --base-url, secret-named --opt values, a token in --url-template. Checked on the bytes of the
SQLite files (the -wal too) and of every file of a release exported with --include-runs."""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

from tests.llmpeer import LLMPeer

ENV_KEY = "sk-envkey-0123456789abcdef"
URL_PASSWORD = "pw-in-url-4242"
OPT_KEY = "sk-optkey-9876543210"
OPT_TOKEN = "tok-opt-55555555"
URL_TOKEN = "urltoken-31337"
SECRETS = [ENV_KEY, URL_PASSWORD, OPT_KEY, OPT_TOKEN, URL_TOKEN]


def cli(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "mmabench.cli", *args],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300", **(env or {})},
    )


def leaked(folder: Path) -> list[tuple[str, str]]:
    return [
        (p.name, s) for p in sorted(folder.rglob("*")) if p.is_file() for s in SECRETS if s.encode() in p.read_bytes()
    ]


def test_no_secret_in_the_manifest_or_a_release(demo_home, tmp_path):
    with LLMPeer(faults=["401"] * 4) as peer:
        host = peer.url.split("://", 1)[1]
        res = cli(
            "eval",
            "--model",
            "openai-compat:m",
            "--base-url",
            f"http://alice:{URL_PASSWORD}@{host}/v1",
            "--opt",
            f'api_key="{OPT_KEY}"',
            "--opt",
            f'access_token="{OPT_TOKEN}"',
            "--limit",
            "4",
            "--retries",
            "0",
            "--no-progress",
            "--home",
            str(demo_home),
            env={"OPENAI_API_KEY": ENV_KEY},
        )
    assert res.returncode == 1 and "401" in res.stdout + res.stderr  # every request failed: said, non-zero
    assert not any(s in res.stdout + res.stderr for s in SECRETS)
    # the list source with a tokened --url-template against a port where nothing listens: clips fail, recorded
    (tmp_path / "list.csv").write_text("ytid,start,end,label\nabcdefghijk,0,5,Cat\n")
    res = cli(
        "--retries",
        "0",
        "--url-template",
        f"http://127.0.0.1:9/watch?v={{ytid}}&token={URL_TOKEN}",
        "build",
        "--name",
        "remote",
        "--source",
        "list",
        "--list-file",
        str(tmp_path / "list.csv"),
        "--home",
        str(demo_home),
    )
    con = sqlite3.connect(demo_home / "manifest.db")
    errors = [e for (e,) in con.execute("SELECT error FROM predictions")]
    options = json.loads(con.execute("SELECT options FROM runs").fetchone()[0])
    config = con.execute("SELECT config FROM builds WHERE name = 'remote'").fetchone()[0]
    clip_errors = [e for (e,) in con.execute("SELECT error FROM clips WHERE source = 'list'")]
    con.close()
    assert len(errors) == 4 and all("401" in e and "REDACTED" in e for e in errors)  # the echo arrived, scrubbed
    assert options["api_key"] == options["access_token"] == "REDACTED"
    assert options["base_url"].startswith("http://alice:REDACTED@")
    assert "token=REDACTED" in config and clip_errors
    assert leaked(demo_home) == []  # manifest.db and manifest.db-wal, byte for byte
    res = cli("export", "hf", str(tmp_path / "rel"), "--include-runs", "--split", "conflict", "--home", str(demo_home))
    assert res.returncode == 0, res.stderr
    rel = sqlite3.connect(f"file:{tmp_path / 'rel' / 'manifest.db'}?mode=ro", uri=True)
    assert rel.execute("SELECT count(*) FROM predictions").fetchone() == (4,)
    assert leaked(tmp_path / "rel") == []
