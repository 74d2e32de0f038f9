"""yt-dlp against a loopback server: section cut, 404, 500-then-success, 429, truncated body, slow server."""

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


def test_429_past_all_retries_is_rate_limited(served, tmp_path):
    with FaultServer(served, faults={"busy": "429x99"}) as srv:
        with pytest.raises(media.MediaError) as e:
            fetcher(retries=1).fetch(srv.url_template.format(ytid="busy"), 0, 2, tmp_path)
    assert e.value.status is ClipStatus.rate_limited and "2 attempts" in str(e.value)


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
