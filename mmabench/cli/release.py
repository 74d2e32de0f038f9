"""`export …` and `import …`: releases for `datasets`, the Hub, LLaMA-Factory and WebDataset."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer

from mmabench.cli.app import (
    DbOpt,
    HomeOpt,
    SplitName,
    _fail,
    app,
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
    push: Optional[str] = typer.Option(None, help="Also push to the Hub as ORG/NAME (token: HF_TOKEN)."),
    private: bool = typer.Option(False, help="Create the Hub repo private."),
    revision: Optional[str] = typer.Option(None, help="Hub branch to push to."),
    resume: bool = typer.Option(
        False,
        "--resume",
        help="With --push: the folder exists from an interrupted push; upload what the Hub lacks without re-exporting.",
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
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
                home=home,
                db=db,
                progress=True,
            )
        )
    except (LookupError, FileExistsError, PushError) as e:
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
    split: str = typer.Option("train", help="Only 'train' is meaningful for tuning files: items of --build."),
    condition: Optional[List[str]] = typer.Option(
        None, "--condition", help="Conditions to include (default: aligned, av_swap, frames_zeroed as in the study)."
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """ShareGPT-style JSON with videos/audios for LLaMA-Factory (frames-zeroed visual prompts -> "None of
    the above")."""
    from mmabench.export.llamafactory import export_llamafactory

    try:
        rep = export_llamafactory(out_dir, build=build_name, conditions=condition, home=home, db=db)
    except LookupError as e:
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
    rep = export_webdataset(out_dir, build=build_name, split=split.value, max_samples=max_samples, home=home, db=db)
    out.print(f"wrote {rep['samples']} samples in {len(rep['shards'])} shard(s) to {out_dir}")


@import_app.command("hf")
def import_hf_cmd(
    source: str = typer.Argument(..., help="Release folder, or a Hub dataset repo id."),
    config: Optional[str] = typer.Option(None, help="Config to import (default: full, else all)."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """Load a release into a manifest, so a published release can be evaluated without rebuilding."""
    from mmabench.export.hf import import_hf

    counts = import_hf(source, home=home, db=db, config=config)
    out.print(f"imported {counts['items']} items, {counts['variants']} variants, {counts['clips']} clips")
