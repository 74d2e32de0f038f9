"""`build`, `ingest …`, `verify`: make and check the manifest."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from mmabench.cli.app import (
    _DOWNLOAD,
    DbOpt,
    HomeOpt,
    MediaUrlOpt,
    SplitName,
    _download_opts,
    _fail,
    _source,
    app,
    err,
    out,
)
from mmabench.cli.tag import AllowUnverifiableOpt, JudgeOpt, JudgeOptOpt, judge_options

RulesOpt = typer.Option(
    None,
    "--rules",
    help="AudioSet curation rules TOML (default: the shipped data/curation.toml); its sha256 is "
    "part of the build configuration.",
)


def _filter_config(on: bool, allow_unverifiable: bool, judge: Optional[str], judge_opt: List[str]) -> Optional[dict]:
    """The stage-2 filter's fields for the build configuration (None: no filter); only non-defaults, so a
    plain --filter keeps the configuration (and its hash) it always had."""
    if not on:
        if allow_unverifiable or judge or judge_opt:
            _fail("--allow-unverifiable, --judge and --judge-opt need --filter")
        return None
    return (
        ({"allow_unverifiable": True} if allow_unverifiable else {})
        | ({"judge": judge} if judge else {})
        | ({"judge_options": judge_options(judge_opt)} if judge_opt else {})
    )


def _with_rules(src, rules: Optional[Path]) -> None:
    """Put the curation rules' hash into an AudioSet source's configuration (the path only travels at run time)."""
    if src.name != "audioset":
        if rules is not None:
            _fail("--rules applies to --source audioset only")
        return
    from mmabench.taxonomy.curation import Curation, CurationError

    try:
        cur = Curation.load(rules)
    except CurationError as e:
        _fail(escape(str(e)), 2)
    src.options["curation_sha256"] = cur.rules_sha256
    if rules is not None:
        src.runtime["curation"] = str(Path(rules).resolve())


NewClassesOpt = typer.Option(
    False, "--allow-new-classes", help="folder/list: keep labels that are no AudioSet class (they get no mid)."
)


@app.command()
def build(
    split: SplitName = typer.Option(
        SplitName.conflict,
        help="conflict = aligned + av_swap; text = caption + "
        "long_context; unimodal = audio_removed + frames_zeroed; full = all six; train = tuning items "
        "(aligned, av_swap, frames_zeroed) from a pool disjoint from every test build, e.g. --segments balanced_train.",
    ),
    source: str = typer.Option(
        "demo",
        help="Clip source: 'demo' (embedded, offline), 'folder' (--folder, "
        "--labels), 'audioset' (--segments) or 'list' (--list-file).",
    ),
    folder: Optional[Path] = typer.Option(None, help="Folder of clips for --source folder."),
    labels: Optional[Path] = typer.Option(None, help="CSV/JSON of path,label[,start,end] for --source folder."),
    segments: Optional[List[str]] = typer.Option(
        None, "--segments", help="AudioSet segment CSV, or 'eval' / 'balanced_train' (shipped); repeatable."
    ),
    list_file: Optional[Path] = typer.Option(None, help="CSV of ytid|url,start,end,label for --source list."),
    allow_new_classes: bool = NewClassesOpt,
    rules: Optional[Path] = RulesOpt,
    limit: Optional[int] = typer.Option(None, help="At most N clips from a download source."),
    normalize: Optional[int] = typer.Option(
        None, help="Re-encode clips as the study did: centre square crop, NxN (e.g. 504), first 10 s, H.264 + AAC."
    ),
    name: str = typer.Option("default", "--name", envvar="MMABENCH_BUILD", help="Build name inside the manifest."),
    seed: int = typer.Option(0, envvar="MMABENCH_SEED", help="Seed for donors, captions, option order, letters."),
    classes: Optional[List[str]] = typer.Option(None, "--class", help="Only these classes (repeatable)."),
    per_class: Optional[int] = typer.Option(None, help="At most N clips per class (first by clip id)."),
    shuffle_options: bool = typer.Option(False, help="Seeded per-item option order instead of sorted."),
    audio_removed: str = typer.Option(
        "silence", help="audio_removed: 'silence' (equal-length digital silence) or 'drop' (no audio stream)."
    ),
    workers: Optional[int] = typer.Option(None, envvar="MMABENCH_WORKERS", help="Parallel media workers."),
    retry_failed: bool = typer.Option(False, help="Re-try clips that failed ingest before."),
    force_config: bool = typer.Option(False, help="Re-make an existing build with a changed configuration."),
    progress: bool = typer.Option(True, help="Show progress bars."),
    filter_: bool = typer.Option(
        False,
        "--filter/--no-filter",
        help="Run the stage-2 consistency filter "
        "(imagenet + yamnet taggers; needs mmabench[tag]) and build only kept clips.",
    ),
    allow_unverifiable: bool = AllowUnverifiableOpt,
    judge: Optional[str] = JudgeOpt,
    judge_opt: List[str] = JudgeOptOpt,
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Build a split into the manifest: ingest -> synthesize conflict variants -> items. Idempotent: a re-run
    does only missing work; a changed configuration under the same --name is refused."""
    from mmabench.config import BuildConfig
    from mmabench.pipeline.build import BuildConfigMismatch
    from mmabench.pipeline.build import build as run_build

    src = _source(
        source,
        folder=folder,
        labels=labels,
        segments=segments,
        list_file=list_file,
        limit=limit,
        classes=classes,
        per_class=per_class,
        download=_download_opts(),
        allow_new_classes=allow_new_classes,
    )
    _with_rules(src, rules)
    cfg = BuildConfig(
        name=name,
        seed=seed,
        sources=[src],
        classes=classes or None,
        per_class=per_class,
        shuffle_options=shuffle_options,
        audio_removed_mode=audio_removed,
        normalize=normalize,
        filter=_filter_config(filter_, allow_unverifiable, judge, judge_opt),
    )
    try:
        report = run_build(
            split.value,
            cfg,
            home=home,
            db=db,
            workers=workers,
            force_config=force_config,
            retry_failed=retry_failed,
            progress=progress,
            console=err,
            ingest_workers=_DOWNLOAD.get("concurrency"),
            executor=_DOWNLOAD.get("executor", "local"),
            ray_address=_DOWNLOAD.get("ray_address"),
            media_url=media_url,
        )
    except BuildConfigMismatch as e:
        _fail(str(e), 2)
    except (LookupError, ValueError, OSError) as e:  # unknown source / class, bad labels file, missing extra, store
        _fail(escape(str(e)), 2)
    _print_report(report)


ingest_app = typer.Typer(
    help="Fetch and validate clips into the manifest (no variants): AudioSet via yt-dlp, "
    "a local folder, or a list of YTIDs/URLs.",
    no_args_is_help=True,
)
app.add_typer(ingest_app, name="ingest")


def _run_ingest(src, *, normalize, retry_failed, progress, home, db, media_url=None) -> None:
    from mmabench.config import BuildConfig
    from mmabench.pipeline.build import ingest as run_ingest

    try:
        report = run_ingest(
            BuildConfig(sources=[src], normalize=normalize),
            home=home,
            db=db,
            workers=_DOWNLOAD.get("concurrency"),
            retry_failed=retry_failed,
            progress=progress,
            console=err,
            executor=_DOWNLOAD.get("executor", "local"),
            ray_address=_DOWNLOAD.get("ray_address"),
            media_url=media_url,
        )
    except (LookupError, ValueError, OSError) as e:
        _fail(escape(str(e)), 2)
    _print_ingest(report)
    if not report.clip_status:  # no clip came from the input: a command that did nothing says so
        if report.bad_rows:
            _fail(f"nothing was ingested: all {len(report.bad_rows)} input rows were refused (reasons above)", 1)
        _fail("nothing was ingested: the input names no clips", 1)


@ingest_app.command("audioset")
def ingest_audioset(
    segments: List[str] = typer.Option(["eval"], "--segments", help="Segment CSV path, or 'eval' / 'balanced_train'."),
    rules: Optional[Path] = RulesOpt,
    classes: Optional[List[str]] = typer.Option(None, "--class", help="Only these classes (name or mid)."),
    per_class: Optional[int] = typer.Option(None, help="At most N segments per class (stable choice)."),
    limit: Optional[int] = typer.Option(None, help="At most N segments in all."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode as the study did (e.g. 504)."),
    retry_failed: bool = typer.Option(False, help="Try failed downloads again."),
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Download curated, single-class AudioSet segments (10-s sections) with yt-dlp."""
    src = _source(
        "audioset", segments=segments, classes=classes, per_class=per_class, limit=limit, download=_download_opts()
    )
    _with_rules(src, rules)
    _run_ingest(
        src,
        normalize=normalize,
        retry_failed=retry_failed,
        progress=progress,
        home=home,
        db=db,
        media_url=media_url,
    )


@ingest_app.command("folder")
def ingest_folder(
    root: Path = typer.Argument(..., help="Folder of clips."),
    labels: Path = typer.Option(..., help="CSV/JSON: path, label (class or AudioSet mid)[, start, end]."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode as the study did (e.g. 504)."),
    allow_new_classes: bool = NewClassesOpt,
    retry_failed: bool = typer.Option(False),
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Validate and store your own clips."""
    _run_ingest(
        _source("folder", folder=root, labels=labels, allow_new_classes=allow_new_classes),
        normalize=normalize,
        retry_failed=retry_failed,
        progress=progress,
        home=home,
        db=db,
        media_url=media_url,
    )


@ingest_app.command("list")
def ingest_list(
    path: Path = typer.Argument(..., help="CSV with header: ytid or url, start, end, label."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode as the study did (e.g. 504)."),
    allow_new_classes: bool = NewClassesOpt,
    retry_failed: bool = typer.Option(False),
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Download the sections listed in a CSV (published benchmark metadata, your own lists)."""
    _run_ingest(
        _source("list", list_file=path, download=_download_opts(), allow_new_classes=allow_new_classes),
        normalize=normalize,
        retry_failed=retry_failed,
        progress=progress,
        home=home,
        db=db,
        media_url=media_url,
    )


def _print_ingest(report) -> None:
    t = Table(
        "class",
        *(sorted({s for per in report.clip_classes.values() for s in per})),
        title="clips by class and status",
        title_justify="left",
    )
    statuses = t.columns[1:]
    for label in sorted(report.clip_classes):
        t.add_row(escape(label), *(str(report.clip_classes[label].get(str(c.header), 0)) for c in statuses))
    out.print(t)
    out.print("clips: " + ", ".join(f"{k}={v}" for k, v in sorted(report.clip_status.items())))
    for ref, status, error in report.clip_errors[:50]:
        out.print(f"  [yellow]{status}[/] {escape(ref)}: {escape(error)}")
    if len(report.clip_errors) > 50:
        out.print(f"  … {len(report.clip_errors) - 50} more (query the clips table)")
    for f, line, why in report.bad_rows[:20]:
        out.print(f"  [red]bad row[/] {escape(f)}:{line}: {escape(why)}")
    out.print(f"new work: {report.stages[0].done} clips in {report.seconds:.1f}s")


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
    for f, line, why in report.bad_rows[:20]:
        out.print(f"  [red]bad row[/] {escape(f)}:{line}: {escape(why)}")
    for ref, why in sorted(report.filtered.items()):
        out.print(f"  [yellow]filtered[/] {escape(ref)}: {escape(why)}")
    for vid, e in report.render_errors:
        out.print(f"  [red]render failed[/] variant {vid}: {escape(e)}")
    it = Table(title="items", title_justify="left")
    for col in ("condition", "visual", "audio"):
        it.add_column(col)
    for cond in sorted({c for c, _ in report.items}):
        it.add_row(cond, str(report.items.get((cond, "visual"), 0)), str(report.items.get((cond, "audio"), 0)))
    out.print(it)
    if report.removed_items:
        out.print(f"superseded {report.removed_items} items this configuration no longer makes (kept for runs)")
    out.print(
        "[green]nothing to do: the manifest is up to date[/]"
        if report.new_work == 0
        else f"new work: {report.new_work} units in {report.seconds:.1f}s"
    )


@app.command()
def verify(
    repair: bool = typer.Option(False, help="Re-render missing or changed variant files from their recipes."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Check every variant file against the hash in the manifest; --repair re-renders from the recipe."""
    from mmabench.media import StoreError
    from mmabench.pipeline.verify import verify as run_verify

    try:
        bad, fixed = run_verify(home=home, db=db, repair=repair, console=err, media_url=media_url)
    except (StoreError, OSError) as e:
        _fail(escape(str(e)), 2)
    lost = [b for b in bad if b[0].startswith("clip ")]
    if lost:
        out.print(f"{len(lost)} source clip(s) missing or changed (not re-rendered: `mmabench build` re-ingests them)")
    out.print(
        f"{len(bad) - len(lost)} variant file(s) missing or changed" + (f"; {fixed} re-rendered" if repair else "")
    )
    for vid, why in bad:
        out.print(f"  {vid}: {why}")
    if len(bad) > (fixed if repair else 0):  # what is still wrong after a repair fails the command too
        raise typer.Exit(1)
