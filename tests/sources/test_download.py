"""yt-dlp against a loopback server: section cut, 404, 500-then-success, 429, truncated body, slow server."""

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from mmabench import media
from mmabench.schema import ClipStatus
from mmabench.sources.download import DownloadOptions, YtDlpFetcher, classify
from tests.httpfaults import FaultServer
from tests.mediagen import make_clip


@pytest.fixture
def served(tmp_path):
    root = tmp_path / "srv"
    for name in ("ok", "flaky", "busy", "trunc", "slow", "plain"):
        make_clip(root / f"{name}.mp4", seconds=6, fps=10, gop=10)
    make_clip(root / "moovend.mp4", seconds=6, fps=10, gop=10, faststart=False)
    return root


def fetcher(**kw):
    return YtDlpFetcher(DownloadOptions(**({"retries": 2, "backoff": 0.05, "timeout": 2.0} | kw)))


@pytest.mark.parametrize("ranges", [True, False])
def test_section_download_with_and_without_range_support(served, tmp_path, ranges):
    with FaultServer(served, ranges=ranges) as srv:
        got = fetcher().fetch(srv.url_template.format(ytid="ok"), 1.0, 4.0, tmp_path)
    info = media.validate(got.path)
    assert abs(info.duration - 3.0) < 0.3 and got.attempts == 1


def test_range_server_cuts_a_non_faststart_file(served, tmp_path):
    with FaultServer(served, ranges=True) as srv:
        got = fetcher().fetch(srv.url_template.format(ytid="moovend"), 2.0, 4.0, tmp_path)
    assert abs(media.validate(got.path, min_duration=0.5).duration - 2.0) < 0.3


def test_404_is_permanent_and_not_retried(served, tmp_path):
    with FaultServer(served) as srv:
        with pytest.raises(media.MediaError) as e:
            fetcher().fetch(srv.url_template.format(ytid="missing"), 0, 2, tmp_path)
        assert srv.hits["missing"] == 1
    assert e.value.status is ClipStatus.unavailable and "404" in str(e.value)


def test_500_then_success_is_retried(served, tmp_path):
    with FaultServer(served, faults={"flaky": "500x2"}) as srv:
        got = fetcher().fetch(srv.url_template.format(ytid="flaky"), 0, 2, tmp_path)
    assert got.attempts == 3 and media.validate(got.path)


def test_retries_wait_doubling_backoff_with_up_to_25_percent_jitter_and_log_each(served, tmp_path, monkeypatch, caplog):
    """The retry schedule (tenacity since the hand-written loop): wait backoff * 2^(n-1) * (1 + U[0, 0.25)) before
    retry n, one log line per retry; the waits are recorded (and taken) through time.sleep."""
    from mmabench.sources import download

    waits: list[float] = []
    real_sleep = download.time.sleep
    monkeypatch.setattr(download.time, "sleep", lambda s: (waits.append(s), real_sleep(s))[1])
    with caplog.at_level("INFO", logger="mmabench"), FaultServer(served, faults={"busy": "500x99"}) as srv:
        with pytest.raises(media.MediaError) as e:
            fetcher(retries=3, backoff=0.02).fetch(srv.url_template.format(ytid="busy"), 0, 2, tmp_path)
    assert e.value.attempts == 4 and "4 attempts" in str(e.value) and sum(srv.hits.values()) == 4
    assert len(waits) == 3 and all(0.02 * 2**n <= w < 0.02 * 2**n * 1.25 for n, w in enumerate(waits)), waits
    assert [r.getMessage().split(" of ")[0] for r in caplog.records if "retry" in r.getMessage()] == [
        "retry 1", "retry 2", "retry 3"
    ]  # fmt: skip


def test_429_past_all_retries_is_rate_limited(served, tmp_path):
    with FaultServer(served, faults={"busy": "429x99"}) as srv:
        with pytest.raises(media.MediaError) as e:
            fetcher(retries=1).fetch(srv.url_template.format(ytid="busy"), 0, 2, tmp_path)
    assert e.value.status is ClipStatus.rate_limited and "2 attempts" in str(e.value)
    assert e.value.attempts == 2 and sum(srv.hits.values()) == 2


def test_slow_server_hits_the_timeout(served, tmp_path):
    with FaultServer(served, faults={"slow": "slow"}) as srv:
        with pytest.raises(media.MediaError) as e:
            fetcher(retries=0, timeout=1.0).fetch(srv.url_template.format(ytid="slow"), 0, 2, tmp_path)
    assert e.value.status is ClipStatus.error and "timed out" in str(e.value).lower()


@pytest.mark.parametrize(
    "msg,status,transient",
    [
        ("ERROR: [youtube] x: Private video. Sign in if you've been granted access", ClipStatus.private, False),
        (
            "ERROR: [youtube] x: Video unavailable. This video has been removed by the uploader",
            ClipStatus.removed,
            False,
        ),
        (
            "ERROR: [youtube] x: The uploader has not made this video available in your country",
            ClipStatus.geo_blocked,
            False,
        ),
        ("ERROR: [youtube] x: Video unavailable", ClipStatus.unavailable, False),
        ("ERROR: unable to download video data: HTTP Error 429: Too Many Requests", ClipStatus.rate_limited, True),
        ("ERROR: unable to download video data: HTTP Error 503: Service Unavailable", ClipStatus.error, True),
        ("ERROR: something nobody has seen", ClipStatus.error, False),
    ],
)
def test_classify_youtube_messages(msg, status, transient):
    assert classify(msg) == (status, transient)


@pytest.fixture
def own_tmp(tmp_path, monkeypatch):
    """A TMPDIR of this test's own, so planting in the old shared path cannot touch other runs on the machine."""
    import tempfile

    from mmabench.sources import download

    tmp = tmp_path / "tmpdir"
    tmp.mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)
    monkeypatch.setattr(download, "_ffmpeg_dir", None)
    monkeypatch.setenv("PATH", os.environ.get("PATH", ""))
    return tmp


def test_an_ffmpeg_planted_in_the_old_shared_folder_is_never_run(served, tmp_path, own_tmp):
    from mmabench.sources.download import ensure_ffmpeg_on_path

    marker = tmp_path / "planted-ran"
    shared = own_tmp / f"mmabench-ffmpeg-{os.getuid()}"
    shared.mkdir(mode=0o777)
    (shared / "ffmpeg").write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    (shared / "ffmpeg").chmod(0o755)
    exe = ensure_ffmpeg_on_path()
    found = Path(shutil.which("ffmpeg") or "")
    assert found.resolve() == Path(exe).resolve() and found.parent != shared
    assert found.parent.stat().st_mode & 0o777 == 0o700 and found.parent.stat().st_uid == os.getuid()
    with FaultServer(served, ranges=False) as srv:  # no range support: the section is cut by ffmpeg
        got = fetcher().fetch(srv.url_template.format(ytid="ok"), 1.0, 3.0, tmp_path / "out")
    assert media.validate(got.path) and not marker.exists()


def test_a_stale_private_link_is_replaced(own_tmp):
    from mmabench.sources.download import ensure_ffmpeg_on_path

    exe = ensure_ffmpeg_on_path()
    first = Path(shutil.which("ffmpeg") or "")
    first.unlink()
    first.symlink_to("/nonexistent/ffmpeg")  # e.g. a venv that was removed, or a tampered link
    assert ensure_ffmpeg_on_path() == exe
    again = Path(shutil.which("ffmpeg") or "")
    assert again.parent != first.parent and again.resolve() == Path(exe).resolve()
    shutil.rmtree(again.parent)  # a tmp cleaner removed the folder
    ensure_ffmpeg_on_path()
    assert Path(shutil.which("ffmpeg") or "").resolve() == Path(exe).resolve()
    assert subprocess.run(["ffmpeg", "-version"], capture_output=True).returncode == 0
