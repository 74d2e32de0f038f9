"""`export …` and `import …`: releases for `datasets`, the Hub, LLaMA-Factory and WebDataset."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape

from mmabench.cli.app import (
    DbOpt,
    HomeOpt,
    MediaUrlOpt,
    SplitName,
    _fail,
    app,
    err,
    out,
)

export_app = typer.Typer(
    help="Write releases: Hugging Face datasets folders (and push to the Hub), "
    "LLaMA-Factory tuning files, WebDataset shards.",
    no_args_is_help=True,
)
import_app = typer.Typer(help="Load releases back into a manifest.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


@export_app.command("hf")
def export_hf_cmd(
    out_dir: Path = typer.Argument(..., help="New, empty release folder."),
    build_name: str = typer.Option("default", "--build", help="Build to release."),
    split: Optional[List[str]] = typer.Option(
        None, "--split", help="Configs to write (default: every split with items: conflict, text, unimodal, full)."
    ),
    embed_media: bool = typer.Option(
        False,
        "--embed-media/--no-embed-media",
        help="Video bytes inside the Parquet shards instead of files under media/NNN/.",
    ),
    shard_mb: int = typer.Option(256, help="Approximate Parquet shard size cap (MB)."),
    include_runs: bool = typer.Option(
        False, "--include-runs", help="Also copy this build's eval runs and predictions into the release manifest.db."
    ),
    push: Optional[str] = typer.Option(
        None,
        help="Also push to the Hub as ORG/NAME (token: HF_TOKEN). The folder goes as it is: media files with their "
        "metadata.parquet, which `datasets` resolves on the Hub too (use --embed-media for bytes inside Parquet).",
    ),
    private: bool = typer.Option(False, help="Create the Hub repo private."),
    revision: Optional[str] = typer.Option(None, help="Hub branch to push to."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="With --push: the folder exists from an interrupted push; upload what the Hub lacks without re-exporting.",
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """A release folder that `datasets.load_dataset(OUT, CONFIG)` loads, with a generated dataset card and a
    manifest.db copy; --push uploads it (token checked before any work; resumable)."""
    from mmabench.export.hf import export_hf
    from mmabench.export.push import PushError, check_token, push_folder

    try:
        who = check_token() if push else None
        rep = (
            None
            if (resume and push)
            else export_hf(
                out_dir,
                build=build_name,
                splits=split,
                embed_media=embed_media,
                shard_mb=shard_mb,
                include_runs=include_runs,
                home=home,
                db=db,
                media_url=media_url,
                progress=True,
            )
        )
    except (LookupError, ValueError, FileExistsError, PushError, OSError) as e:
        _fail(str(e), 2)
    if rep is not None:
        out.print(
            f"wrote {out_dir}: "
            + ", ".join(f"{k}={v}" for k, v in rep.configs.items())
            + f" items; {rep.media_files} media files ({rep.media_bytes / 1e6:.1f} MB); "
            f"parquet {rep.parquet_bytes / 1e6:.2f} MB in {rep.seconds:.1f}s"
        )
    if push:
        try:
            res = push_folder(out_dir, push, private=private, revision=revision)
        except PushError as e:
            _fail(str(e), 2)
        out.print(
            f"pushed as {who} to {res['url']}: {res['uploaded']} files in {res['commits']} commit(s), "
            f"{res['skipped']} already there"
        )


@export_app.command("llamafactory")
def export_llamafactory_cmd(
    out_dir: Path = typer.Argument(..., help="Output folder (JSON, dataset_info.json, media/)."),
    build_name: str = typer.Option(
        "default",
        "--build",
        help="Build to export (a tuning build from the training pool, e.g. --segments balanced_train).",
    ),
    split: SplitName = typer.Option(
        SplitName.train, help="train (a train build's items); a test split only with --allow-test-items."
    ),
    allow_test_items: bool = typer.Option(
        False, "--allow-test-items", help="Export a test build's items as tuning data (leaks the benchmark)."
    ),
    condition: Optional[List[str]] = typer.Option(
        None, "--condition", help="Conditions to include (default: aligned, av_swap, frames_zeroed as in the study)."
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """ShareGPT-style JSON with videos/audios for LLaMA-Factory (frames-zeroed visual prompts -> "None of
    the above")."""
    from mmabench.export.llamafactory import export_llamafactory

    try:
        rep = export_llamafactory(
            out_dir,
            build=build_name,
            conditions=condition,
            split=split.value,
            allow_test_items=allow_test_items,
            home=home,
            db=db,
            media_url=media_url,
        )
    except (LookupError, ValueError, OSError) as e:
        _fail(str(e), 2)
    out.print(
        f"wrote {rep['records']} records over {rep['media']} videos ({', '.join(rep['conditions'])}) to {out_dir}"
    )


@export_app.command("webdataset")
def export_webdataset_cmd(
    out_dir: Path = typer.Argument(..., help="Output folder for .tar shards."),
    build_name: str = typer.Option("default", "--build"),
    split: SplitName = typer.Option(SplitName.full),
    max_samples: int = typer.Option(1000, help="Samples (variants) per shard."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Tar shards (<variant>.mp4 + <variant>.json with its items) for streaming training."""
    from rich.markup import escape

    from mmabench.db.manifest import Manifest
    from mmabench.export.webdataset import export_webdataset

    with Manifest(db, home) as m:
        try:
            m.require_items(build_name, split.value)  # else it would write 0 shards and exit 0
        except LookupError as e:
            _fail(escape(str(e)), 2)
    try:
        rep = export_webdataset(
            out_dir, build=build_name, split=split.value, max_samples=max_samples, home=home, db=db, media_url=media_url
        )
    except (ValueError, OSError) as e:
        _fail(escape(str(e)), 2)
    out.print(f"wrote {rep['samples']} samples in {len(rep['shards'])} shard(s) to {out_dir}")


@export_app.command("lmms-eval")
def export_lmms_eval_cmd(
    out_dir: Path = typer.Argument(..., help="Task folder for lmms-eval (--include_path)."),
    release: str = typer.Option(..., "--release", help="An `export hf` release folder or its Hub repo id."),
    config: Optional[List[str]] = typer.Option(None, "--config", help="Configs to make tasks of (default: all)."),
) -> None:
    """An lmms-eval task per release config (YAML + utils.py with the study's prompt and mmabench's parser)."""
    from mmabench.export.lmms_eval import export_lmms_eval

    try:
        rep = export_lmms_eval(out_dir, release, configs=config)
    except (LookupError, OSError) as e:
        _fail(str(e), 2)
    out.print(f"wrote {', '.join(rep['tasks'])} to {out_dir} (lmms-eval --include_path {out_dir})")


@import_app.command("hf")
def import_hf_cmd(
    source: str = typer.Argument(..., help="Release folder, or a Hub dataset repo id."),
    config: Optional[str] = typer.Option(None, help="Config to import (default: full, else all)."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """Load a release into a manifest, so a published release can be evaluated without rebuilding."""
    from mmabench.export.hf import import_hf
    from mmabench.export.safe_files import Rejected

    try:
        rep = import_hf(source, home=home, db=db, config=config)
    except (LookupError, Rejected, ValueError, OSError) as e:  # Rejected: the card or a data file itself
        _fail(f"cannot import {source}: {e}", 2)
    out.print(f"imported {rep.items} items, {rep.variants} variants, {rep.clips} clips")
    if rep.rejected:
        err.print(f"[bold red]rejected[/] {len(rep.rejected)} variant(s) (their items were not imported):")
        for what, why in rep.rejected:
            err.print(f"  {escape(what)}: {escape(why)}")
        raise typer.Exit(1)
