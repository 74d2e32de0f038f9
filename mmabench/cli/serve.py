"""`serve`: the read-only web viewer (items, answers, runs, clips) over the manifest."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Optional

import typer

from mmabench.cli.app import DbOpt, HomeOpt, _fail, app, err


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


@app.command()
def serve(
    port: int = typer.Option(8765, help="TCP port."),
    host: str = typer.Option("127.0.0.1", help="Address to bind (loopback by default: only this machine)."),
    token: Optional[str] = typer.Option(
        None, envvar="MMABENCH_SERVE_TOKEN", help="Require this token (?token=… or Authorization: Bearer …)."
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """Browse the manifest in a web browser: items with their video and answers, runs and a two-run
    comparison, clips with tags and filter decisions. Read-only: the database is opened read-only and only
    files inside the media store are served."""
    try:
        import uvicorn

        from mmabench.serve.app import create_app
        from mmabench.serve.readonly import ManifestMissing, check_manifest
    except ImportError as e:
        _fail(f"`mmabench serve` needs the serve extra ({e.name} is missing): pip install 'mmabench[serve]'", 2)
    from mmabench.config import db_url, home_dir

    url, media = db_url(db, home), home_dir(home) / "media"
    try:
        web = create_app(url, media, token=token)
        check_manifest(web.state.engine, url)
    except (ManifestMissing, ValueError) as e:
        _fail(str(e), 2)
    shown = f"[{host}]" if ":" in host else host
    where = "loopback only: this machine" if _loopback(host) else "reachable from other machines"
    err.print(f"serving {url.split('://')[0]} manifest read-only on http://{shown}:{port}/ ({where}); Ctrl-C stops")
    if token:
        err.print(f"open http://{shown}:{port}/items?token=… (the token you passed) once; the browser keeps it")
    elif not _loopback(host):
        err.print(f"[bold yellow]warning:[/] binding {host} without --token: anyone who can reach it can browse")
    uvicorn.run(web, host=host, port=port, log_level="warning")
