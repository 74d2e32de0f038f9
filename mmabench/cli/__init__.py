"""The `mmabench` command line: a thin Typer layer over the Python API (parse, call, print).

One module per command group registers its commands on the shared `app` (cli/app.py)."""

from __future__ import annotations

from mmabench.cli import build, db_cmd, doctor, eval_cmd, query, release, serve, tag, train  # noqa: F401  (register the commands)
from mmabench.cli.app import app

__all__ = ["app", "main"]


def main() -> None:
    from mmabench.db.errors import SchemaError  # not db.migrate: that loads Alembic before every command

    try:
        app()
    except SchemaError as e:  # raised wherever a command opens the manifest: one line, not a traceback
        from rich.markup import escape

        from mmabench.cli.app import err

        err.print(f"[bold red]error:[/] {escape(str(e))}")
        raise SystemExit(1) from None
    except ModuleNotFoundError as e:  # an optional package this command needs: name the extra, no traceback
        extra = EXTRAS.get((e.name or "").split(".")[0])
        if extra is None:
            raise
        from mmabench.cli.app import err

        err.print(f"error: this needs {e.name}: pip install 'mmabench[{extra}]'", markup=False, highlight=False)
        raise SystemExit(1) from None


# optional packages -> the extra that installs them (pyproject's optional-dependencies)
EXTRAS = {
    "matplotlib": "report",
    "yt_dlp": "ingest",
    "psycopg": "postgres",
    "onnxruntime": "tag",
    "onnx": "tag",
    "torch": "tag",
    "openai": "eval",
    "google": "eval",
    "transformers": "hf-model",
    "torchvision": "hf-model",
    "open_clip": "clip",
    "peft": "train",
    "ray": "ray",
    "silero_vad": "speech",
    "pyannote": "speech",
    "starlette": "serve",
    "jinja2": "serve",
    "uvicorn": "serve",
}


if __name__ == "__main__":
    main()
