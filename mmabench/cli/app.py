"""The Typer app, shared options and helpers; command modules register on `app`."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console

app = typer.Typer(
    help="Build, query and use modality-conflict benchmarks (MMA-Bench) for audio-visual MLLMs.\n\n"
    "Workspace: --home / MMABENCH_HOME (default ./mmabench_data). "
    "Manifest: --db / MMABENCH_DB (default SQLite file in the workspace; any SQLAlchemy URL, "
    "e.g. postgresql+psycopg://user@host/db).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
)
out = Console()
err = Console(stderr=True, soft_wrap=True)  # an error is one line, however narrow the terminal

HomeOpt = typer.Option(None, "--home", envvar="MMABENCH_HOME", help="Workspace folder (manifest.db, media/).")
DbOpt = typer.Option(
    None, "--db", envvar="MMABENCH_DB", help="Manifest database URL (default: SQLite in the workspace)."
)

MediaUrlOpt = typer.Option(
    None,
    "--media-url",
    envvar="MMABENCH_MEDIA_URL",
    help="Media store: a folder, file:///path or an fsspec URL (s3://bucket/prefix, gs://…; the backend "
    "package and its credentials from the environment). Default: <home>/media.",
)


class SplitName(str, Enum):
    conflict = "conflict"
    text = "text"
    unimodal = "unimodal"
    full = "full"
    train = "train"


class OutFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(code)


# Download options shared by `build` and `ingest`: set by the app callback below, read by _download_opts.
_DOWNLOAD: dict = {}


@app.callback()
def _global(
    concurrency: int = typer.Option(4, envvar="MMABENCH_CONCURRENCY", help="Parallel downloads."),
    retries: int = typer.Option(3, help="Extra tries for transient download failures (429, 5xx, timeouts)."),
    backoff: float = typer.Option(2.0, help="First retry delay in seconds; doubles per retry."),
    timeout: float = typer.Option(30.0, help="Download read timeout in seconds."),
    rate: float = typer.Option(
        0.0,
        "--rate",
        "--download-rate",
        min=0.0,
        envvar=["MMABENCH_RATE", "MMABENCH_DOWNLOAD_RATE"],
        help="Max download requests started per second (0: no limit), shared by all threads, and with "
        "--executor ray by every worker of the cluster.",
    ),
    cookies: Optional[Path] = typer.Option(None, envvar="MMABENCH_COOKIES", help="cookies.txt for yt-dlp."),
    proxy: Optional[str] = typer.Option(None, envvar="MMABENCH_PROXY", help="Proxy URL for yt-dlp."),
    exact_cuts: bool = typer.Option(
        True,
        "--exact-cuts/--fast-cuts",
        help="Cut sections exactly (re-encodes around the cuts); --fast-cuts "
        "copies streams from the keyframe before the start (3-4x faster here).",
    ),
    ytdlp_opt: Optional[List[str]] = typer.Option(
        None, "--ytdlp-opt", help="Extra yt-dlp option KEY=JSON (repeatable), e.g. --ytdlp-opt 'format=\"18\"'."
    ),
    url_template: str = typer.Option(
        "https://www.youtube.com/watch?v={ytid}",
        envvar="MMABENCH_URL_TEMPLATE",
        help="URL for a YTID ({ytid}, {start}, {end}); point it at a mirror.",
    ),
    log_level: Optional[str] = typer.Option(
        None,
        "--log-level",
        envvar="MMABENCH_LOG",
        help="debug, info, warning (default) or error: stage timings, retries and skipped units are logged at info.",
    ),
    executor: str = typer.Option(
        "local",
        envvar="MMABENCH_EXECUTOR",
        help="Where build/ingest/tag/filter/eval run their work: local (this process) or ray (a Ray cluster; "
        "tag, filter and eval also take --executor after the command).",
    ),
    ray_address: Optional[str] = typer.Option(
        None,
        envvar="RAY_ADDRESS",
        help="Ray cluster to join with --executor ray (auto, ray://host:10001); default: a local Ray.",
    ),
    log_json: bool = typer.Option(
        False,
        "--log-json",
        envvar="MMABENCH_LOG_JSON",
        help="Log one JSON object per line on stderr (for machines and clusters).",
    ),
) -> None:
    """Download options (used by `build` and `ingest` with download sources) go before the command:
    mmabench --concurrency 8 --rate 2 ingest audioset …"""
    from mmabench.logs import setup_logging

    try:
        setup_logging(log_level, json_lines=log_json, console=err)
    except ValueError as e:
        _fail(str(e), 2)
    extra = _kv_options(ytdlp_opt)
    if executor not in ("local", "ray"):
        _fail(f"--executor must be 'local' or 'ray', not {executor!r}", 2)
    _DOWNLOAD.update(executor=executor, ray_address=ray_address)
    _DOWNLOAD.update(
        concurrency=concurrency,
        url_template=url_template,
        options=dict(
            retries=retries,
            backoff=backoff,
            timeout=timeout,
            rate=rate,
            cookies=str(cookies) if cookies else None,
            proxy=proxy,
            extra=extra,
            exact_cuts=exact_cuts,
        ),
    )


def _kv_options(pairs: Optional[List[str]]) -> dict:
    """KEY=VALUE flags; VALUE is JSON when it parses (numbers, booleans, quoted strings), else a string."""
    out: dict = {}
    for kv in pairs or []:
        k, _, v = kv.partition("=")
        try:
            out[k] = json.loads(v)
        except json.JSONDecodeError:
            out[k] = v
    return out


# Ray options of the commands that run models (tag, filter, eval): actor pools, one model per actor.
ExecutorOpt = typer.Option(
    None,
    "--executor",
    help="local (this process) or ray (actor pools on a Ray cluster; --ray-address before the command, or "
    "RAY_ADDRESS); default: the global --executor / MMABENCH_EXECUTOR.",
)
ActorsOpt = typer.Option(
    1, "--actors", envvar="MMABENCH_ACTORS", help="With --executor ray: actors per model, each loads it once."
)
GpusPerActorOpt = typer.Option(
    0.0,
    "--gpus-per-actor",
    envvar="MMABENCH_GPUS_PER_ACTOR",
    help="With --executor ray: GPUs each actor reserves (0 on CPU; 1 = one model per GPU; 0.5 shares one).",
)
CpusPerActorOpt = typer.Option(
    1.0, "--cpus-per-actor", help="With --executor ray: CPUs each actor reserves (its decode threads use them)."
)


def _executor(executor: Optional[str]) -> tuple[str, Optional[str]]:
    """(executor, ray address) for a model command: its own --executor, else the global one."""
    name = executor or _DOWNLOAD.get("executor", "local")
    if name not in ("local", "ray"):
        _fail(f"--executor must be 'local' or 'ray', not {name!r}", 2)
    return name, _DOWNLOAD.get("ray_address")


def _download_opts() -> dict:
    return _DOWNLOAD.get("options", {})


def _source(
    source: str,
    *,
    folder=None,
    labels=None,
    segments=None,
    list_file=None,
    limit=None,
    classes=None,
    per_class=None,
    download=None,
    allow_new_classes: bool = False,
):
    from mmabench.config import SourceConfig

    new = {"allow_new_classes": True} if allow_new_classes else {}  # only when set: older builds keep their hash

    if source == "folder":
        if not folder or not labels:
            _fail("--source folder needs --folder DIR and --labels FILE")
        return SourceConfig(
            name="folder", options={"root": str(Path(folder).resolve()), "labels": str(Path(labels).resolve())} | new
        )
    url = _DOWNLOAD.get("url_template", "https://www.youtube.com/watch?v={ytid}")
    if source == "audioset":
        return SourceConfig(
            name="audioset",
            options={
                "segments": list(segments or ["eval"]),
                "classes": classes or None,
                "per_class": per_class,
                "limit": limit,
                "url_template": url,
            },
            runtime={"download": download or {}},
        )
    if source == "list":
        if not list_file:
            _fail("--source list needs --list-file FILE")
        return SourceConfig(
            name="list",
            options={"path": str(Path(list_file).resolve()), "url_template": url} | new,
            runtime={"download": download or {}},
        )
    return SourceConfig(name=source)
