"""The `mmabench` command line: a thin Typer layer over the Python API (parse, call, print).

One module per command group registers its commands on the shared `app` (cli/app.py)."""

from __future__ import annotations

from mmabench.cli import build, db_cmd, doctor, eval_cmd, query, release, serve, tag, train  # noqa: F401  (register the commands)
from mmabench.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    from mmabench.db.migrate import SchemaError

    try:
        app()
    except SchemaError as e:  # raised wherever a command opens the manifest: one line, not a traceback
        from rich.markup import escape

        from mmabench.cli.app import err

        err.print(f"[bold red]error:[/] {escape(str(e))}")
        raise SystemExit(1) from None


if __name__ == "__main__":
    main()
