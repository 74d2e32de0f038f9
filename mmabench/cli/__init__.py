"""The `mmabench` command line: a thin Typer layer over the Python API (parse, call, print).

One module per command group registers its commands on the shared `app` (cli/app.py)."""

from __future__ import annotations

from mmabench.cli import build, db_cmd, doctor, eval_cmd, query, release, tag  # noqa: F401  (register the commands)
from mmabench.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    app()


if __name__ == "__main__":
    main()
