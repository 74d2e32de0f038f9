"""yt-dlp section downloads with retries, backoff, a global rate limit and per-clip outcome statuses.

Why the Python API and not the CLI: one process, shared rate limiter, structured errors. Its check for
"partial download needs ffmpeg" ignores `ffmpeg_location`, so the bundled imageio-ffmpeg binary is put
first on PATH under the name `ffmpeg`: a symlink in a folder this process made with mkdtemp (0700, ours,
unguessable, removed at exit). No shared folder is used, so nothing another user planted is ever run.
"""

from __future__ import annotations

import atexit
import os
import random
import shutil
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from mmabench.logs import get_logger
from mmabench.media import MediaError
from mmabench.ratelimit import LocalRateLimit, RateLimit
from mmabench.schema import ClipStatus
from mmabench.schema.redact import scrub_text

log = get_logger(__name__)

YOUTUBE = "https://www.youtube.com/watch?v={ytid}"

# (status, transient?) by substrings of yt-dlp / ffmpeg error text, first match wins.
_CLASSIFY: list[tuple[tuple[str, ...], ClipStatus, bool]] = [
    (("private video",), ClipStatus.private, False),
    (
        (
            "has been removed",
            "account associated with this video has been terminated",
            "removed for violating",
            "no longer available because",
        ),
        ClipStatus.removed,
        False,
    ),
    (
        ("available in your country", "geo restrict", "blocked it in your country", "geo-restricted"),
        ClipStatus.geo_blocked,
        False,
    ),
    (
        (
            "http error 429",
            "too many requests",
            "rate-limit",
            "rate limit",
            "confirm you're not a bot",
            "confirm you’re not a bot",
        ),
        ClipStatus.rate_limited,
        True,
    ),
    (
        (
            "video unavailable",
            "http error 404",
            "http error 410",
            "http error 403",
            "does not exist",
            "unsupported url",
            "is not a valid url",
            "404 not found",
        ),
        ClipStatus.unavailable,
        False,
    ),
    (
        (
            "http error 5",
            "timed out",
            "timeout",
            "connection reset",
            "connection refused",
            "incompleteread",
            "temporary failure",
            "remote end closed",
            "server returned 5",
        ),
        ClipStatus.error,
        True,
    ),
]


def classify(message: str) -> tuple[ClipStatus, bool]:
    low = message.lower()
    for needles, status, transient in _CLASSIFY:
        if any(n in low for n in needles):
            return status, transient
    return ClipStatus.error, False


_ffmpeg_lock = threading.Lock()
_ffmpeg_dir: Optional[Path] = None


def _private_link_ok(d: Path, exe: str) -> bool:
    """Our folder still is ours, private, and holds exactly the link to the bundled binary."""
    try:
        st = d.lstat()
        link = d / "ffmpeg"
        return (
            st.st_uid == os.getuid()
            and (st.st_mode & 0o777) == 0o700
            and link.is_symlink()
            and os.readlink(link) == exe
            and os.access(exe, os.X_OK)
        )
    except OSError:
        return False


def ensure_ffmpeg_on_path() -> str:
    """Put the bundled ffmpeg first on PATH as `ffmpeg` (see module docstring); a private folder that went
    stale (removed, link changed, permissions opened) is replaced by a fresh one."""
    import imageio_ffmpeg

    global _ffmpeg_dir
    exe = str(Path(imageio_ffmpeg.get_ffmpeg_exe()).resolve())
    with _ffmpeg_lock:
        if _ffmpeg_dir is None or not _private_link_ok(_ffmpeg_dir, exe):
            d = Path(tempfile.mkdtemp(prefix="mmabench-ffmpeg-"))  # 0700, created atomically, never reused
            (d / "ffmpeg").symlink_to(exe)
            atexit.register(shutil.rmtree, d, ignore_errors=True)
            _ffmpeg_dir = d
        rest = [p for p in os.environ.get("PATH", "").split(os.pathsep) if p and p != str(_ffmpeg_dir)]
        os.environ["PATH"] = os.pathsep.join([str(_ffmpeg_dir), *rest])
    return exe


_warm_lock = threading.Lock()
_warmed = False


def _warm_extractors(url: str) -> None:
    """yt-dlp compiles extractors' URL patterns and imports the chosen one's module on a process's first
    download (~0.5-1 s of CPU). Done once, before the rate limit hands out a slot: otherwise the first paced
    starts all queue behind it and reach the server together."""
    global _warmed
    if _warmed:
        return
    import yt_dlp
    from yt_dlp.extractor import gen_extractor_classes

    with _warm_lock:
        if not _warmed:
            ie = next(ie for ie in gen_extractor_classes() if ie.suitable(url))  # as yt-dlp picks one (Generic last)
            yt_dlp.YoutubeDL({"quiet": True, "logger": _Silent()}).get_info_extractor(ie.ie_key())  # its module
            _warmed = True


class _Silent:
    """yt-dlp logger that keeps quiet: outcomes are recorded per clip, not printed."""

    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


@dataclass
class DownloadOptions:
    retries: int = 3  # extra tries for transient failures
    backoff: float = 1.0  # seconds, doubled per retry, with jitter
    timeout: float = 30.0  # socket / ffmpeg read timeout (s)
    rate: float = 0.0  # download attempts started per second, all threads/workers (0 = no limit)
    cookies: Optional[str] = None
    proxy: Optional[str] = None
    exact_cuts: bool = True  # re-encode around the cut points (exact section); False = stream copy
    # from the keyframe before `start` (3-4x faster, may start up to a GOP early)
    extra: dict[str, Any] = field(default_factory=dict)  # passed through to yt_dlp.YoutubeDL


@dataclass
class Fetched:
    path: Path
    attempts: int
    bytes: int


class DownloadFailed(MediaError):
    """A download given up on, with how many tries it took (the clip's `attempts`)."""

    def __init__(self, status: ClipStatus, message: str, attempts: int, transient: bool = False):
        super().__init__(status, message)
        self.attempts = attempts
        self.transient = transient  # worth another try (classify); the last try's failure is the one raised


class MissingExtra(LookupError):
    """An optional package a command needs is absent: said before any work, never recorded on a clip."""


def require_ytdlp() -> None:
    try:
        import yt_dlp  # noqa: F401
    except ImportError:
        raise MissingExtra(
            "downloads need yt-dlp, which is not installed: pip install 'mmabench[ingest]' (nothing was done)"
        ) from None


class YtDlpFetcher:
    def __init__(self, options: DownloadOptions | None = None):
        self.options = options or DownloadOptions()
        # per process; a run on Ray swaps in the job-wide bucket (pipeline.ratelimit)
        self.limiter: RateLimit = LocalRateLimit(self.options.rate)

    def _ydl_opts(self, workdir: Path, start: Optional[float], end: Optional[float]) -> dict:
        from yt_dlp.utils import download_range_func

        o = self.options
        opts: dict[str, Any] = {
            "quiet": True,
            "no_warnings": True,
            "logger": _Silent(),
            "noprogress": True,
            "noplaylist": True,
            "paths": {"home": str(workdir), "temp": str(workdir)},
            "outtmpl": "clip.%(ext)s",
            "format": "bv*+ba/b",
            "merge_output_format": "mp4",
            "socket_timeout": o.timeout,
            "retries": 0,
            "fragment_retries": 0,
            "extractor_retries": 0,  # retries are ours (classified)
            "ffmpeg_location": ensure_ffmpeg_on_path(),
            "overwrites": True,
            "external_downloader_args": {"ffmpeg_i": ["-rw_timeout", str(int(o.timeout * 1e6))]},
        }
        if start is not None or end is not None:
            opts["download_ranges"] = download_range_func(
                None, [(start or 0.0, end if end is not None else float("inf"))]
            )
            opts["force_keyframes_at_cuts"] = o.exact_cuts
        if o.cookies:
            opts["cookiefile"] = o.cookies
        if o.proxy:
            opts["proxy"] = o.proxy
        opts.update(o.extra)
        return opts

    def fetch(self, url: str, start: Optional[float], end: Optional[float], workdir: Path) -> Fetched:
        """Download [start, end) of `url` into workdir; raises MediaError(status) after classified retries:
        transient failures are tried again up to `retries` times, waiting backoff * 2^(n-1) * (1 + U[0, 0.25))
        seconds before retry n; any other failure ends at once."""
        from tenacity import Retrying, retry_if_exception, stop_after_attempt

        backoff = self.options.backoff
        retrying = Retrying(
            stop=stop_after_attempt(self.options.retries + 1),
            wait=lambda rs: backoff * 2 ** (rs.attempt_number - 1) * (1 + random.random() * 0.25),
            retry=retry_if_exception(lambda e: isinstance(e, DownloadFailed) and e.transient),
            before_sleep=lambda rs: _log_retry(url, rs),
            sleep=time.sleep,
            reraise=True,  # the last DownloadFailed itself, with its status and attempt count
        )
        for attempt in retrying:
            with attempt:
                return self._once(url, start, end, Path(workdir) / "ytdlp", attempt.retry_state.attempt_number)
        raise AssertionError("unreachable: tenacity returns or re-raises")

    def _once(self, url: str, start: Optional[float], end: Optional[float], workdir: Path, attempt: int) -> Fetched:
        """One try; a failure comes back as DownloadFailed, classified (status, transient)."""
        import yt_dlp

        shutil.rmtree(workdir, ignore_errors=True)  # ours alone: emptied before every attempt
        workdir.mkdir(parents=True)
        try:
            _warm_extractors(url)
            with yt_dlp.YoutubeDL(self._ydl_opts(workdir, start, end)) as ydl:
                self.limiter.acquire()  # last thing before the request; retries are paced too
                ydl.download([url])
            files = [f for f in workdir.iterdir() if f.is_file() and not f.name.endswith((".part", ".ytdl"))]
            if not files:
                raise yt_dlp.utils.DownloadError("download produced no file")
            out = max(files, key=lambda f: f.stat().st_size)
            return Fetched(out, attempt, out.stat().st_size)
        except (yt_dlp.utils.DownloadError, OSError) as e:
            status, transient = classify(str(e))
            reason = scrub_text(str(e).replace("ERROR: ", "").strip())  # lands in clips.error
            msg = f"{reason} (after {attempt} attempt{'s' * (attempt > 1)})"
            raise DownloadFailed(status, msg, attempt, transient) from e


def _log_retry(url: str, rs: Any) -> None:
    """tenacity's before_sleep: one log line per retry, as the hand-written loop wrote."""
    e = rs.outcome.exception() if rs.outcome else None
    status = e.status.value if isinstance(e, DownloadFailed) else "?"
    wait = rs.next_action.sleep if rs.next_action else 0.0
    log.info(
        "retry %d of %s in %.1f s: %s",
        rs.attempt_number,
        url,
        wait,
        status,
        extra={"url": url, "attempt": rs.attempt_number, "status": status},
    )
