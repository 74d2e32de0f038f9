"""One logging setup for every stage, and the progress bars long work shows (floor 1: rich only).

People get rich's handler on stderr; machines get one JSON object per line (`--log-json`). The level comes
from `--log-level` or `MMABENCH_LOG` (default WARNING, so a normal run prints only its own summary).
Stages log what a long run needs afterwards: what was skipped and why, retries, timings.
"""

from __future__ import annotations

import json
import logging
import os
import time
from typing import Optional

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

ROOT = "mmabench"


class JsonFormatter(logging.Formatter):
    """One JSON object per record: ts, level, logger, msg, plus any `extra=` fields given at the call."""

    _plain = set(vars(logging.makeLogRecord({})))

    def format(self, record: logging.LogRecord) -> str:
        out = {
            "ts": round(record.created, 3),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        out.update({k: v for k, v in vars(record).items() if k not in self._plain and not k.startswith("_")})
        if record.exc_info:
            out["exc"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str)


def setup_logging(level: Optional[str] = None, json_lines: bool = False, console: Optional[Console] = None) -> None:
    """Configure the `mmabench` logger once per process (a second call replaces the handler)."""
    name = (level or os.environ.get("MMABENCH_LOG") or "WARNING").upper()
    if name not in logging.getLevelNamesMapping():
        raise ValueError(f"unknown log level {level!r}: use debug, info, warning or error")
    log = logging.getLogger(ROOT)
    for h in list(log.handlers):
        log.removeHandler(h)
    handler: logging.Handler
    if json_lines:
        handler = logging.StreamHandler()
        handler.setFormatter(JsonFormatter())
    else:
        from rich.logging import RichHandler

        handler = RichHandler(console=console or Console(stderr=True), show_path=False, rich_tracebacks=False)
    log.addHandler(handler)
    log.setLevel(name)
    log.propagate = False


def get_logger(name: str) -> logging.Logger:
    """`get_logger(__name__)` in every module: all of mmabench's records go through one handler."""
    return logging.getLogger(name if name.startswith(ROOT) else f"{ROOT}.{name}")


class timed:
    """`with timed(log, "tag yamnet", clips=n):` logs the duration at INFO when the block ends."""

    def __init__(self, log: logging.Logger, what: str, **fields):
        self.log, self.what, self.fields = log, what, fields

    def __enter__(self) -> "timed":
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc) -> None:
        seconds = round(time.perf_counter() - self.t0, 3)
        self.log.info("%s took %.3f s", self.what, seconds, extra={"seconds": seconds, **self.fields})


def make_progress(enabled: bool, console: Optional[Console] = None) -> Progress:
    return Progress(
        TextColumn("[bold]{task.description:<11}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console or Console(stderr=True),
        disable=not enabled,
        transient=False,
    )
