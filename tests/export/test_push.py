"""`export hf --push` with the real huggingface_hub client against a loopback Hub that records calls."""

import os
import subprocess
import sys

from tests.hubpeer import HubPeer


def push(home, out, url, token, *extra):
    env = {
        **os.environ,
        "HF_ENDPOINT": url,
        "HF_TOKEN": token,
        "HF_HUB_DISABLE_XET": "1",
        "HF_HUB_OFFLINE": "0",
        "COLUMNS": "300",
    }
    cmd = [
        sys.executable,
        "-m",
        "mmabench.cli",
        "export",
        "hf",
        str(out),
        "--home",
        str(home),
        "--push",
        "org/mmabench-demo",
        *extra,
    ]
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def test_token_checked_before_any_work(demo_home, tmp_path):
    with HubPeer(token="hf_right") as hub:
        res = push(demo_home, tmp_path / "rel", hub.url, "hf_wrong")
    assert res.returncode == 2 and "rejected the token" in res.stdout + res.stderr
    assert not (tmp_path / "rel").exists() and [c for c in hub.calls if c[0] != "GET"] == []
    assert "hf_wrong" not in res.stdout + res.stderr


def test_push_uploads_everything_then_resumes_after_interruption(demo_home, tmp_path):
    out = tmp_path / "rel"
    with HubPeer(token="hf_right", fail_commit=2) as hub:  # 50 files per commit: the second one fails
        first = push(demo_home, out, hub.url, "hf_right")
        assert first.returncode == 2 and "re-run the same command to resume" in first.stdout + first.stderr
        committed = dict(hub.files)
        assert 0 < len(committed) < sum(1 for p in out.rglob("*") if p.is_file())
        puts_before = sum(c[0] == "PUT" for c in hub.calls)
        second = push(demo_home, out, hub.url, "hf_right", "--resume")
        assert second.returncode == 0, second.stdout + second.stderr
        local = {p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()}
        assert set(hub.files) == local
        assert f"{len(committed)} already there" in second.stdout
        # nothing committed before the failure was uploaded again
        assert sum(c[0] == "PUT" for c in hub.calls) - puts_before <= len(local) - len(committed)
        again = push(demo_home, out, hub.url, "hf_right", "--resume")
    assert "0 files in 0 commit(s)" in again.stdout and f"{len(local)} already there" in again.stdout
