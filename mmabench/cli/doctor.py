"""`mmabench doctor`: what is available here and what each missing piece disables."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.markup import escape
from rich.table import Table

from mmabench.cli.app import DbOpt, HomeOpt, app, out


@app.command()
def doctor(home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt) -> None:
    """Report what this machine has (media tools, database, optional model and eval extras) and what each
    missing piece disables."""
    from mmabench.pipeline.doctor import checks  # importlib.metadata: tens of ms every other command need not pay

    t = Table("component", "status", "detail", "without it")
    ok_all = True
    for c in checks(home=home, db=db):
        ok_all &= c.ok or not c.required
        t.add_row(
            c.name,
            "[green]ok[/]" if c.ok else ("[red]missing[/]" if c.required else "[yellow]absent[/]"),
            escape(c.detail),
            "" if c.ok else escape(c.disables),
        )
    out.print(t)
    if not ok_all:
        raise typer.Exit(1)
