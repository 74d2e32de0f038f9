"""The `mmabench` command line: a thin Typer layer over the Python API (parse, call, print)."""
from __future__ import annotations

import csv
import json
import sys
from enum import Enum
from pathlib import Path
from typing import List, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

app = typer.Typer(help="Build, query and use modality-conflict benchmarks (MMA-Bench) for audio-visual MLLMs.\n\n"
                       "Workspace: --home / MMABENCH_HOME (default ./mmabench_data). "
                       "Manifest: --db / MMABENCH_DB (default SQLite file in the workspace; any SQLAlchemy URL, "
                       "e.g. postgresql+psycopg://user@host/db).",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_show_locals=False)
out = Console()
err = Console(stderr=True)

HomeOpt = typer.Option(None, "--home", envvar="MMABENCH_HOME", help="Workspace folder (manifest.db, media/).")
DbOpt = typer.Option(None, "--db", envvar="MMABENCH_DB", help="Manifest database URL (default: SQLite in the workspace).")


class SplitName(str, Enum):
    conflict = "conflict"
    text = "text"
    unimodal = "unimodal"
    full = "full"


class OutFormat(str, Enum):
    table = "table"
    csv = "csv"
    json = "json"


def _fail(msg: str, code: int = 1) -> None:
    err.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(code)


@app.command()
def build(
    split: SplitName = typer.Option(SplitName.conflict, help="conflict = aligned + av_swap; text = caption + "
                                    "long_context; unimodal = audio_removed + frames_zeroed; full = all six."),
    source: str = typer.Option("demo", help="Clip source: 'demo' (embedded, offline) or 'folder' (with --folder "
                               "and --labels)."),
    folder: Optional[Path] = typer.Option(None, help="Folder of clips for --source folder."),
    labels: Optional[Path] = typer.Option(None, help="CSV/JSON of path,label[,start,end] for --source folder."),
    name: str = typer.Option("default", "--name", envvar="MMABENCH_BUILD", help="Build name inside the manifest."),
    seed: int = typer.Option(0, envvar="MMABENCH_SEED", help="Seed for donors, captions, option order, letters."),
    classes: Optional[List[str]] = typer.Option(None, "--class", help="Only these classes (repeatable)."),
    per_class: Optional[int] = typer.Option(None, help="At most N clips per class (first by clip id)."),
    shuffle_options: bool = typer.Option(False, help="Seeded per-item option order instead of sorted."),
    audio_removed: str = typer.Option("silence", help="audio_removed: 'silence' (equal-length digital silence) "
                                      "or 'drop' (no audio stream)."),
    workers: Optional[int] = typer.Option(None, envvar="MMABENCH_WORKERS", help="Parallel media workers."),
    retry_failed: bool = typer.Option(False, help="Re-try clips that failed ingest before."),
    force_config: bool = typer.Option(False, help="Re-make an existing build with a changed configuration."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Build a split into the manifest: ingest -> synthesize conflict variants -> items. Idempotent: a re-run
    does only missing work; a changed configuration under the same --name is refused."""
    from mmabench.builder.build import BuildConfigMismatch, build as run_build
    from mmabench.config import BuildConfig, SourceConfig

    if source == "folder":
        if not folder or not labels:
            _fail("--source folder needs --folder DIR and --labels FILE")
        src = SourceConfig(name="folder", options={"root": str(folder.resolve()), "labels": str(labels.resolve())})
    else:
        src = SourceConfig(name=source)
    cfg = BuildConfig(name=name, seed=seed, sources=[src], classes=classes or None, per_class=per_class,
                      shuffle_options=shuffle_options, audio_removed_mode=audio_removed)
    try:
        report = run_build(split.value, cfg, home=home, db=db, workers=workers, force_config=force_config,
                           retry_failed=retry_failed, progress=progress, console=err)
    except BuildConfigMismatch as e:
        _fail(str(e), 2)
    except LookupError as e:  # unknown source etc.
        _fail(str(e), 2)
    _print_report(report)


def _print_report(report) -> None:
    t = Table(title=f"build {report.name!r}: split {report.split}", title_justify="left")
    for col in ("stage", "new work", "failed", "seconds"):
        t.add_column(col, justify="right" if col != "stage" else "left")
    for s in report.stages:
        t.add_row(s.name, str(s.done), str(s.failed), f"{s.seconds:.2f}")
    out.print(t)
    out.print("clips: " + ", ".join(f"{k}={v}" for k, v in sorted(report.clip_status.items())))
    for ref, status, error in report.clip_errors:
        out.print(f"  [yellow]{status}[/] {escape(ref)}: {escape(error)}")
    for vid, e in report.render_errors:
        out.print(f"  [red]render failed[/] variant {vid}: {escape(e)}")
    it = Table(title="items", title_justify="left")
    for col in ("condition", "visual", "audio"):
        it.add_column(col)
    for cond in sorted({c for c, _ in report.items}):
        it.add_row(cond, str(report.items.get((cond, "visual"), 0)), str(report.items.get((cond, "audio"), 0)))
    out.print(it)
    if report.removed_items:
        out.print(f"removed {report.removed_items} stale items")
    out.print("[green]nothing to do: the manifest is up to date[/]" if report.new_work == 0
              else f"new work: {report.new_work} units in {report.seconds:.1f}s")


@app.command()
def query(
    sql: Optional[str] = typer.Argument(None, help="One SQL statement (read-only), e.g. \"SELECT condition, "
                                        "prompt_modality, count(*) FROM items_flat GROUP BY 1, 2\"."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read the statement from a .sql file."),
    fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table, csv or json."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Run one read-only SQL statement on the manifest. Writes are refused by the database and change nothing.
    Tables: builds, clips, variants, items; view: items_flat."""
    from mmabench.config import db_url
    from mmabench.db.readonly import QueryError, ReadOnlyViolation, run_readonly

    if file:
        sql = file.read_text()
    if not sql:
        _fail("give a SQL statement or --file")
    try:
        cols, rows = run_readonly(db_url(db, home), sql)
    except ReadOnlyViolation as e:
        _fail(str(e), 3)
    except QueryError as e:
        _fail(f"query failed: {e}", 2)
    if fmt is OutFormat.csv:
        w = csv.writer(sys.stdout)
        w.writerow(cols)
        w.writerows(rows)
    elif fmt is OutFormat.json:
        print(json.dumps([dict(zip(cols, r)) for r in rows], default=str, indent=1))
    else:
        t = Table(*map(escape, cols))
        for r in rows:
            t.add_row(*("" if v is None else escape(str(v)) for v in r))
        out.print(t)
        err.print(f"{len(rows)} row(s)")


@app.command()
def verify(
    repair: bool = typer.Option(False, help="Re-render missing or changed variant files from their recipes."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Check every variant file against the hash in the manifest; --repair re-renders from the recipe."""
    from mmabench.builder.verify import verify as run_verify

    bad, fixed = run_verify(home=home, db=db, repair=repair, console=err)
    out.print(f"{len(bad)} variant file(s) missing or changed" + (f"; {fixed} re-rendered" if repair else ""))
    for vid, why in bad:
        out.print(f"  {vid}: {why}")
    if bad and not repair:
        raise typer.Exit(1)


@app.command()
def doctor(home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt) -> None:
    """Report what this machine has (media tools, database, optional model and eval extras) and what each
    missing piece disables."""
    from mmabench.doctor import checks

    t = Table("component", "status", "detail", "without it")
    ok_all = True
    for c in checks(home=home, db=db):
        ok_all &= c.ok or not c.required
        t.add_row(c.name, "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]absent[/]"),
                  escape(c.detail), "" if c.ok else escape(c.disables))
    out.print(t)
    if not ok_all:
        raise typer.Exit(1)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
