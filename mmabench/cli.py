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
    source: str = typer.Option("demo", help="Clip source: 'demo' (embedded, offline), 'folder' (--folder, "
                               "--labels), 'audioset' (--segments) or 'list' (--list-file)."),
    folder: Optional[Path] = typer.Option(None, help="Folder of clips for --source folder."),
    labels: Optional[Path] = typer.Option(None, help="CSV/JSON of path,label[,start,end] for --source folder."),
    segments: Optional[List[str]] = typer.Option(None, "--segments", help="AudioSet segment CSV, or 'eval' / "
                                                 "'balanced_train' (shipped); repeatable."),
    list_file: Optional[Path] = typer.Option(None, help="CSV of ytid|url,start,end,label for --source list."),
    limit: Optional[int] = typer.Option(None, help="At most N clips from a download source."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode clips as the study did: centre square crop, "
                                            "NxN (e.g. 504), first 10 s, H.264 + AAC."),
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
    filter_: bool = typer.Option(False, "--filter/--no-filter", help="Run the stage-2 consistency filter "
                                 "(imagenet + yamnet taggers; needs mmabench[tag]) and build only kept clips."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Build a split into the manifest: ingest -> synthesize conflict variants -> items. Idempotent: a re-run
    does only missing work; a changed configuration under the same --name is refused."""
    from mmabench.builder.build import BuildConfigMismatch, build as run_build
    from mmabench.config import BuildConfig

    src = _source(source, folder=folder, labels=labels, segments=segments, list_file=list_file, limit=limit,
                  classes=classes, per_class=per_class, download=_download_opts())
    cfg = BuildConfig(name=name, seed=seed, sources=[src], classes=classes or None, per_class=per_class,
                      shuffle_options=shuffle_options, audio_removed_mode=audio_removed, normalize=normalize,
                      filter={} if filter_ else None)
    try:
        report = run_build(split.value, cfg, home=home, db=db, workers=workers, force_config=force_config,
                           retry_failed=retry_failed, progress=progress, console=err,
                           ingest_workers=_DOWNLOAD.get("concurrency"))
    except BuildConfigMismatch as e:
        _fail(str(e), 2)
    except (LookupError, ValueError) as e:  # unknown source / class, bad labels file
        _fail(str(e), 2)
    _print_report(report)


# Download options shared by `build` and `ingest`: set by the app callback below, read by _download_opts.
_DOWNLOAD: dict = {}


@app.callback()
def _global(
    concurrency: int = typer.Option(4, envvar="MMABENCH_CONCURRENCY", help="Parallel downloads."),
    retries: int = typer.Option(3, help="Extra tries for transient download failures (429, 5xx, timeouts)."),
    backoff: float = typer.Option(2.0, help="First retry delay in seconds; doubles per retry."),
    timeout: float = typer.Option(30.0, help="Download read timeout in seconds."),
    rate: float = typer.Option(0.0, envvar="MMABENCH_RATE", help="Max downloads started per second (0: no limit)."),
    cookies: Optional[Path] = typer.Option(None, envvar="MMABENCH_COOKIES", help="cookies.txt for yt-dlp."),
    proxy: Optional[str] = typer.Option(None, envvar="MMABENCH_PROXY", help="Proxy URL for yt-dlp."),
    exact_cuts: bool = typer.Option(True, "--exact-cuts/--fast-cuts", help="Cut sections exactly (re-encodes around the cuts); --fast-cuts "
                                    "copies streams from the keyframe before the start (3-4x faster here)."),
    ytdlp_opt: Optional[List[str]] = typer.Option(None, "--ytdlp-opt", help="Extra yt-dlp option KEY=JSON "
                                                  "(repeatable), e.g. --ytdlp-opt 'format=\"18\"'."),
    url_template: str = typer.Option("https://www.youtube.com/watch?v={ytid}", envvar="MMABENCH_URL_TEMPLATE",
                                     help="URL for a YTID ({ytid}, {start}, {end}); point it at a mirror."),
) -> None:
    """Download options (used by `build` and `ingest` with download sources) go before the command:
    mmabench --concurrency 8 --rate 2 ingest audioset …"""
    extra = _kv_options(ytdlp_opt)
    _DOWNLOAD.update(concurrency=concurrency, url_template=url_template,
                     options=dict(retries=retries, backoff=backoff, timeout=timeout, rate=rate,
                                  cookies=str(cookies) if cookies else None, proxy=proxy, extra=extra,
                                  exact_cuts=exact_cuts))


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


def _download_opts() -> dict:
    return _DOWNLOAD.get("options", {})


def _source(source: str, *, folder=None, labels=None, segments=None, list_file=None, limit=None, classes=None,
            per_class=None, download=None):
    from mmabench.config import SourceConfig

    if source == "folder":
        if not folder or not labels:
            _fail("--source folder needs --folder DIR and --labels FILE")
        return SourceConfig(name="folder", options={"root": str(Path(folder).resolve()),
                                                    "labels": str(Path(labels).resolve())})
    url = _DOWNLOAD.get("url_template", "https://www.youtube.com/watch?v={ytid}")
    if source == "audioset":
        return SourceConfig(name="audioset", options={"segments": list(segments or ["eval"]), "classes": classes or None,
                                                      "per_class": per_class, "limit": limit, "url_template": url},
                            runtime={"download": download or {}})
    if source == "list":
        if not list_file:
            _fail("--source list needs --list-file FILE")
        return SourceConfig(name="list", options={"path": str(Path(list_file).resolve()), "url_template": url},
                            runtime={"download": download or {}})
    return SourceConfig(name=source)


ingest_app = typer.Typer(help="Fetch and validate clips into the manifest (no variants): AudioSet via yt-dlp, "
                              "a local folder, or a list of YTIDs/URLs.", no_args_is_help=True)
app.add_typer(ingest_app, name="ingest")


def _run_ingest(src, *, normalize, retry_failed, progress, home, db) -> None:
    from mmabench.builder.build import ingest as run_ingest
    from mmabench.config import BuildConfig

    try:
        report = run_ingest(BuildConfig(sources=[src], normalize=normalize), home=home, db=db,
                            workers=_DOWNLOAD.get("concurrency"), retry_failed=retry_failed, progress=progress,
                            console=err)
    except (LookupError, ValueError, OSError) as e:
        _fail(str(e), 2)
    _print_ingest(report)


@ingest_app.command("audioset")
def ingest_audioset(
    segments: List[str] = typer.Option(["eval"], "--segments", help="Segment CSV path, or 'eval' / 'balanced_train'."),
    classes: Optional[List[str]] = typer.Option(None, "--class", help="Only these classes (name or mid)."),
    per_class: Optional[int] = typer.Option(None, help="At most N segments per class (stable choice)."),
    limit: Optional[int] = typer.Option(None, help="At most N segments in all."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode as the study did (e.g. 504)."),
    retry_failed: bool = typer.Option(False, help="Try failed downloads again."),
    progress: bool = typer.Option(True), home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Download curated, single-class AudioSet segments (10-s sections) with yt-dlp."""
    _run_ingest(_source("audioset", segments=segments, classes=classes, per_class=per_class, limit=limit,
                        download=_download_opts()),
                normalize=normalize, retry_failed=retry_failed, progress=progress, home=home, db=db)


@ingest_app.command("folder")
def ingest_folder(
    root: Path = typer.Argument(..., help="Folder of clips."),
    labels: Path = typer.Option(..., help="CSV/JSON: path, label (class or AudioSet mid)[, start, end]."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode as the study did (e.g. 504)."),
    retry_failed: bool = typer.Option(False), progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Validate and store your own clips."""
    _run_ingest(_source("folder", folder=root, labels=labels), normalize=normalize, retry_failed=retry_failed,
                progress=progress, home=home, db=db)


@ingest_app.command("list")
def ingest_list(
    path: Path = typer.Argument(..., help="CSV with header: ytid or url, start, end, label."),
    normalize: Optional[int] = typer.Option(None, help="Re-encode as the study did (e.g. 504)."),
    retry_failed: bool = typer.Option(False), progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Download the sections listed in a CSV (published benchmark metadata, your own lists)."""
    _run_ingest(_source("list", list_file=path, download=_download_opts()), normalize=normalize,
                retry_failed=retry_failed, progress=progress, home=home, db=db)


def _print_ingest(report) -> None:
    t = Table("class", *(sorted({s for per in report.clip_classes.values() for s in per})), title="clips by class "
              "and status", title_justify="left")
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


@app.command()
def ontology(
    stats: bool = typer.Option(False, help="Count eligible segments per surviving class in --segments."),
    segments: List[str] = typer.Option(["eval"], "--segments", help="Segment CSV path, or 'eval' / 'balanced_train'."),
    rules: Optional[Path] = typer.Option(None, help="Curation rules TOML (default: the shipped data/curation.toml)."),
    chart: Optional[Path] = typer.Option(None, help="Bar chart PNG of --stats (default <home>/ontology_stats.png)."),
    home: Optional[Path] = HomeOpt,
) -> None:
    """AudioSet stage-1 curation: which classes survive the rules, and (--stats) how many single-class
    segments each has in a segment list."""
    from mmabench.builder.curation import Curation
    from mmabench.builder.sources.audioset import read_segments
    from mmabench.config import home_dir

    cur = Curation.load(rules)
    name = cur.ontology.name
    out.print(f"rules {rules or 'data/curation.toml'} (sha256 {cur.rules_sha256[:12]}): "
              f"{len(cur.classes)} of {len(cur.ontology.nodes)} ontology classes survive")
    if not stats:
        out.print(", ".join(name(m) for m in cur.classes))
        return
    bad: list = []
    segs = [s.labels for lst in segments for s in read_segments(lst, bad)]
    counts = cur.stats(segs)
    vocab = cur.vocabulary(counts)
    t = Table("class", "mid", "eligible segments", title=f"classes with ≥ {cur.min_segments} eligible segments",
              title_justify="left")
    for mid in sorted(vocab, key=lambda m: -counts[m]):
        t.add_row(escape(name(mid)), mid, str(counts[mid]))
    out.print(t)
    out.print(f"{len(segs)} segments read ({len(bad)} bad rows); {sum(counts.values())} single-class eligible over "
              f"{len(counts)} classes; {len(vocab)} classes with ≥ {cur.min_segments}: "
              f"{sum(counts[m] for m in vocab)} segments")
    from mmabench.report import bar_chart

    png = chart or home_dir(home) / "ontology_stats.png"
    bar_chart({name(m): counts[m] for m in vocab}, png, title=f"Eligible single-class segments per class "
              f"({', '.join(map(str, segments))})", xlabel="segments")
    out.print(f"chart: {png}")


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
        out.print(f"removed {report.removed_items} stale items")
    out.print("[green]nothing to do: the manifest is up to date[/]" if report.new_work == 0
              else f"new work: {report.new_work} units in {report.seconds:.1f}s")


@app.command()
def query(
    sql: Optional[str] = typer.Argument(None, help="One SQL statement (read-only), e.g. \"SELECT condition, "
                                        "prompt_modality, count(*) FROM items_flat GROUP BY 1, 2\"."),
    file: Optional[Path] = typer.Option(None, "--file", "-f", help="Read the statement from a .sql file, or "
                                        "name a shipped one (see --list), e.g. --file run_accuracy."),
    list_queries: bool = typer.Option(False, "--list", help="List the canned queries shipped with mmabench."),
    fmt: OutFormat = typer.Option(OutFormat.table, "--format", help="table, csv or json."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Run one read-only SQL statement on the manifest. Writes are refused by the database and change nothing.
    Tables: builds, clips, variants, items; view: items_flat."""
    from mmabench.config import db_url
    from mmabench.db.readonly import QueryError, ReadOnlyViolation, run_readonly

    shipped = Path(__file__).parent / "db" / "queries"
    if list_queries:
        for q in sorted(shipped.glob("*.sql")):
            out.print(f"{q.stem:<28} {q.read_text().splitlines()[0].lstrip('- ')}")
        return
    if file:
        named = shipped / f"{file.name.removesuffix('.sql')}.sql"
        sql = file.read_text() if file.is_file() else named.read_text() if named.is_file() else None
        if sql is None:
            _fail(f"no SQL file {file} (and no shipped query of that name; see --list)", 2)
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


TAGGERS_HELP = ("imagenet (EfficientNet-Lite0, frames; offline), yamnet (AudioSet, soundtrack; offline), "
                "clip (open_clip zero-shot, frames), hf-audio (transformers AudioSet checkpoint, e.g. AST), "
                "silero (speech activity; offline), pyannote (speech activity, pyannote.audio checkpoint).")
DeviceOpt = typer.Option("auto", envvar="MMABENCH_DEVICE", help="auto, cpu, cuda or mps. On CPU, imagenet runs "
                         "through onnxruntime; yamnet (int8 ONNX) and silero always run on CPU.")
BatchOpt = typer.Option(0, "--batch-size", envvar="MMABENCH_BATCH_SIZE", help="Frames (visual) or clips (audio) "
                        "per model call; 0 = the tagger's default for the device.")
Fp16Opt = typer.Option(None, "--fp16/--fp32", help="Half precision for torch taggers (default: on CUDA only). "
                       "fp16 scores are cached apart from fp32 ones.")
WorkersOpt = typer.Option(0, envvar="MMABENCH_TAG_WORKERS", help="Decode threads feeding the model "
                          "(0 = auto: 2 on a laptop, up to 8 on a big machine).")
DecodeOpt = typer.Option("auto", envvar="MMABENCH_DECODE", help="Decode workers as threads or processes "
                         "(auto: processes on machines with more than 4 cores and enough files).")
ClipModelOpt = typer.Option("ViT-B-32", envvar="MMABENCH_CLIP_MODEL", help="open_clip architecture.")
ClipPretrainedOpt = typer.Option("laion2b_s34b_b79k", envvar="MMABENCH_CLIP_PRETRAINED",
                                 help="open_clip weights: a tag (downloads), a file, or local-dir:DIR.")
AudioCkptOpt = typer.Option(None, "--audio-checkpoint", envvar="MMABENCH_AUDIO_CHECKPOINT",
                            help="hf-audio: a transformers AudioSet checkpoint directory (or hub id).")
SpeechCkptOpt = typer.Option(None, "--speech-checkpoint", envvar="MMABENCH_SPEECH_CHECKPOINT",
                             help="pyannote: segmentation checkpoint file/directory (or hub id with HF_TOKEN).")


def _tagger_options(device, batch_size, fp16, clip_model, clip_pretrained, audio_checkpoint,
                    speech_checkpoint) -> dict[str, dict]:
    common = {"device": device, "batch_size": batch_size} | ({} if fp16 is None else {"fp16": fp16})
    return {"*": common, "clip": {"model": clip_model, "pretrained": clip_pretrained},
            "hf-audio": {"checkpoint": audio_checkpoint}, "pyannote": {"checkpoint": speech_checkpoint}}


def _workers(workers: int) -> int:
    from mmabench.builder.taggers.base import default_workers
    return workers or default_workers()


@app.command()
def tag(
    tagger: List[str] = typer.Option(["imagenet", "yamnet"], "--tagger", help="Taggers to run (repeatable): "
                                     + TAGGERS_HELP),
    device: str = DeviceOpt, batch_size: int = BatchOpt, fp16: Optional[bool] = Fp16Opt,
    workers: int = WorkersOpt, decode: str = DecodeOpt, clip_model: str = ClipModelOpt, clip_pretrained: str = ClipPretrainedOpt,
    audio_checkpoint: Optional[str] = AudioCkptOpt, speech_checkpoint: Optional[str] = SpeechCkptOpt,
    progress: bool = typer.Option(True), home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Tag every ok clip; scores go to the `tags` table keyed by content, tagger, model, weights hash and
    version, so a re-run calls no model. Files are decoded in worker threads while the model runs on
    batches across clips. Example: mmabench tag --tagger clip --clip-pretrained /models/open_clip_b32.bin"""
    from mmabench.builder.tagging import tag_clips

    opts = _tagger_options(device, batch_size, fp16, clip_model, clip_pretrained, audio_checkpoint,
                           speech_checkpoint)
    try:
        reps = tag_clips(tagger, home=home, db=db, workers=_workers(workers), progress=progress, console=err,
                         options=opts, decode=decode)
    except (LookupError, ImportError, RuntimeError) as e:
        _fail(str(e), 2)
    for r in reps:
        out.print(f"{r.tagger}: {r.tagged} tagged, {r.model_calls} model calls, {r.seconds:.1f}s "
                  f"({r.forward_seconds:.1f}s in the model)")
        for sha, why in r.failed.items():
            out.print(f"  [red]failed[/] {sha[:12]}: {escape(why)}")


@app.command("filter")
def filter_cmd(
    visual_tagger: str = typer.Option("imagenet", help="Tagger for 'visible' (imagenet or clip)."),
    audio_tagger: str = typer.Option("yamnet", help="Tagger for 'audible' (yamnet or hf-audio)."),
    speech_tagger: Optional[str] = typer.Option(None, help="Speech-activity tagger for the voice-over check "
                                                "(silero or pyannote; default: the audio tagger's Speech class)."),
    visual_threshold: float = typer.Option(0.2, help="Min visual-tagger score for the label (visible)."),
    audio_threshold: float = typer.Option(0.3, help="Min audio-tagger score for the label (audible)."),
    speech_threshold: float = typer.Option(0.6, help="Speech score (or, for a speech tagger, fraction of the clip "
                                           "with speech) that flags a voice-over on a non-speech clip."),
    require_visual: bool = typer.Option(False, help="Reject classes the visual tagger cannot see at all."),
    chart_dir: Optional[Path] = typer.Option(None, "--charts", help="Folder for the confusion heatmaps "
                                             "(default: the workspace)."),
    device: str = DeviceOpt, batch_size: int = BatchOpt, fp16: Optional[bool] = Fp16Opt,
    workers: int = WorkersOpt, decode: str = DecodeOpt, clip_model: str = ClipModelOpt, clip_pretrained: str = ClipPretrainedOpt,
    audio_checkpoint: Optional[str] = AudioCkptOpt, speech_checkpoint: Optional[str] = SpeechCkptOpt,
    progress: bool = typer.Option(True), home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Stage-2 consistency: is each clip's label visible (frames) and audible (soundtrack), with no
    voice-over? Decisions with their scores go to the `decisions` table; prints kept/rejected with reasons
    and draws label-vs-tagger confusion heatmaps to tune thresholds. Example: mmabench filter --speech-tagger silero"""
    from mmabench.builder.filter import FilterConfig, confusion_png, per_class, run_filter
    from mmabench.config import home_dir

    cfg = FilterConfig(visual_tagger=visual_tagger, audio_tagger=audio_tagger, speech_tagger=speech_tagger,
                       visual_threshold=visual_threshold, audio_threshold=audio_threshold,
                       speech_threshold=speech_threshold, require_visual=require_visual)
    opts = _tagger_options(device, batch_size, fp16, clip_model, clip_pretrained, audio_checkpoint,
                           speech_checkpoint)
    try:
        decisions = run_filter(cfg, home=home, db=db, workers=_workers(workers), progress=progress, console=err,
                               options=opts, decode=decode)
    except (LookupError, ImportError, RuntimeError) as e:
        _fail(str(e), 2)
    t = Table("clip", "label", "kept", "visible", "audible", "speech", "reason", title=f"filter {cfg.hash()}",
              title_justify="left")
    for d in sorted(decisions, key=lambda d: (d.clip.label, d.clip.source_ref)):
        v = d.checks.get("visible_muted", {}).get("score")
        a = d.checks.get("audible_black", {}).get("score")
        sp = d.checks.get("voice_over", {}).get("speech")
        t.add_row(escape(d.clip.source_ref), escape(d.clip.label), "yes" if d.kept else "[red]no[/]",
                  *("n/a" if x is None else f"{x:.2f}" for x in (v, a, sp)), escape(d.reason or ""))
    out.print(t)
    pc = Table("label", "clips", "kept", "visible (mean)", "audible (mean)", "commonest rejection", title="per class",
               title_justify="left")
    for r in per_class(decisions):
        pc.add_row(escape(r["label"]), str(r["clips"]), str(r["kept"]),
                   *("n/a" if r[k] is None else f"{r[k]:.2f}" for k in ("visible_mean", "audible_mean")),
                   escape(r["top_rejection"]))
    out.print(pc)
    out.print(f"kept {sum(d.kept for d in decisions)} of {len(decisions)} clips")
    folder = chart_dir or home_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in (("visual_top", cfg.visual_tagger), ("audio_top", cfg.audio_tagger)):
        confusion_png(decisions, key, folder / f"confusion_{name}.png", f"label vs. {name} top class")
    out.print(f"charts: {folder / f'confusion_{cfg.visual_tagger}.png'}, {folder / f'confusion_{cfg.audio_tagger}.png'}"
              " (counts beside them as .csv)")


@app.command("eval")
def eval_cmd(
    model: str = typer.Option(..., "--model", help="Adapter, optionally with a model id: random, majority, "
                              "openai-compat:Qwen/Qwen2.5-Omni-7B, text-only:MODEL, gemini:gemini-2.5-flash."),
    split: SplitName = typer.Option(SplitName.conflict, help="Which items to evaluate."),
    name: str = typer.Option("default", "--build", envvar="MMABENCH_BUILD", help="Build whose items to use."),
    limit: Optional[int] = typer.Option(None, help="Only the first N items (by id)."),
    concurrency: int = typer.Option(4, help="Requests in flight."),
    retries: int = typer.Option(3, help="Retries with exponential backoff on 429 / 5xx / timeouts / empty answers."),
    backoff: float = typer.Option(1.0, help="First retry delay (s)."),
    base_url: Optional[str] = typer.Option(None, envvar="MMABENCH_BASE_URL", help="Server URL (openai-compat: "
                                           "http://host:8000/v1; gemini: a proxy). Keys come from env only."),
    opt: Optional[List[str]] = typer.Option(None, "--opt", help="Adapter option KEY=JSON (repeatable), e.g. "
                                            "--opt frames=16 --opt video_mode='\"url\"'."),
    seed: int = typer.Option(0, help="Seed for sampling baselines."),
    progress: bool = typer.Option(True), home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Evaluate a model on manifest items; results land in `runs` and `predictions` (plain SQL). Re-running
    the same command resumes the run and never re-sends an answered request."""
    from mmabench.builder.stages import make_progress
    from mmabench.eval.runner import evaluate, make_adapter

    adapter_name, _, model_id = model.partition(":")
    options = _kv_options(opt)
    if base_url:
        options["base_url"] = base_url
    if adapter_name == "random":
        options["seed"] = seed
    try:
        adapter = make_adapter(adapter_name, model_id, **options)
    except (LookupError, TypeError, RuntimeError) as e:
        _fail(str(e), 2)
    with make_progress(progress, err) as bar:
        rep = evaluate(adapter, split=split.value, build=name, limit=limit, concurrency=concurrency,
                       retries=retries, backoff=backoff, seed=seed, progress=bar, home=home, db=db)
    out.print(f"run {rep.run_id}: {rep.planned} to answer, {rep.called} model calls, {rep.cached} from cache, "
              f"{rep.errors} errors in {rep.seconds:.1f}s")
    for e in rep.error_samples:
        out.print(f"  [red]error[/] {escape(e)}")
    from mmabench.eval.report import load_scores
    from mmabench.db.manifest import Manifest

    with Manifest(db, home) as m:
        sc = load_scores(m, [rep.run_id])[0]
    t = Table("condition", "prompt", "n", "accuracy %", "95% CI", "abstain %", "unparsed %",
              title=f"{sc.label}" + (" — demo corpus: plumbing, not a result" if sc.demo else ""), title_justify="left")
    for c in sc.cells:
        t.add_row(c.condition, c.modality, str(c.n), f"{c.accuracy:.1f}", f"{c.ci[0]:.1f}–{c.ci[1]:.1f}",
                  f"{c.abstention:.1f}", f"{c.unparsed:.1f}")
    out.print(t)
    if rep.errors:
        raise typer.Exit(1)


@app.command()
def attention(
    model: str = typer.Option(..., "--model", help="hf:ORG/NAME or hf with --opt path='\"DIR\"' (white-box models)."),
    split: SplitName = typer.Option(SplitName.conflict), name: str = typer.Option("default", "--build"),
    limit: Optional[int] = typer.Option(None, help="Only the first N variants (both prompts each)."),
    opt: Optional[List[str]] = typer.Option(None, "--opt", help="Adapter option KEY=JSON (repeatable)."),
    out_dir: Path = typer.Option(Path("mmabench_attention"), "--out", help="CSV, JSON summary and PNG."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Per decoder layer, attention mass from the answer position onto video / audio / text tokens under the
    visual and the audio prompt of the same clips, and Cohen's d between them (d > 0: more under visual)."""
    from mmabench.eval.attention import study, write
    from mmabench.eval.runner import make_adapter

    adapter_name, _, model_id = model.partition(":")
    try:
        adapter = make_adapter(adapter_name, model_id, attention=True, **_kv_options(opt))
    except (LookupError, TypeError, RuntimeError) as e:
        _fail(str(e), 2)
    st = study(adapter, split=split.value, build=name, limit=limit, home=home, db=db, progress=True)
    paths = write(st, out_dir, title=f"{adapter.model}: Cohen's d of attention mass, visual vs audio prompt")
    t = Table("condition", "layer", "block", "visual prompt", "audio prompt", "Cohen's d", title_justify="left",
              title=f"attention ({len({r['item_id'] for r in st.rows})} items)")
    for s in st.summary:
        t.add_row(s["condition"], str(s["layer"]), s["block"], f"{s['mean_visual']:.3f}", f"{s['mean_audio']:.3f}",
                  f"{s['d']:.2f}")
    out.print(t)
    out.print(f"wrote {paths['rows']}, {paths['summary']}, {paths['png']}")


@app.command()
def report(
    out_dir: Path = typer.Option(Path("mmabench_report"), "--out", help="Folder for report.md, report.html, PNGs."),
    runs: Optional[List[str]] = typer.Option(None, "--run", help="Run ids (repeatable); default all runs."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Study-style tables, grouped bar charts, per-class breakdown and a leaderboard for evaluated runs."""
    from mmabench.eval.report import make_report

    try:
        paths = make_report(out_dir, runs, home=home, db=db)
    except ValueError as e:
        _fail(str(e), 2)
    out.print(f"wrote {paths['markdown']} and {paths['html']} ({len(paths) - 2} chart(s))")


export_app = typer.Typer(help="Write releases: Hugging Face datasets folders (and push to the Hub), "
                              "LLaMA-Factory tuning files, WebDataset shards.", no_args_is_help=True)
import_app = typer.Typer(help="Load releases back into a manifest.", no_args_is_help=True)
app.add_typer(export_app, name="export")
app.add_typer(import_app, name="import")


@export_app.command("hf")
def export_hf_cmd(
    out_dir: Path = typer.Argument(..., help="New, empty release folder."),
    build_name: str = typer.Option("default", "--build", help="Build to release."),
    split: Optional[List[str]] = typer.Option(None, "--split", help="Configs to write (default: every split "
                                              "with items: conflict, text, unimodal, full)."),
    embed_media: bool = typer.Option(False, "--embed-media/--no-embed-media", help="Video bytes inside the Parquet "
                                     "shards instead of files under media/NNN/."),
    shard_mb: int = typer.Option(256, help="Approximate Parquet shard size cap (MB)."),
    push: Optional[str] = typer.Option(None, help="Also push to the Hub as ORG/NAME (token: HF_TOKEN)."),
    private: bool = typer.Option(False, help="Create the Hub repo private."),
    revision: Optional[str] = typer.Option(None, help="Hub branch to push to."),
    resume: bool = typer.Option(False, "--resume", help="With --push: the folder exists from an interrupted push; "
                                "upload what the Hub lacks without re-exporting."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """A release folder that `datasets.load_dataset(OUT, CONFIG)` loads, with a generated dataset card and a
    manifest.db copy; --push uploads it (token checked before any work; resumable)."""
    from mmabench.export.hf import export_hf
    from mmabench.export.push import PushError, check_token, push_folder

    try:
        who = check_token() if push else None
        rep = None if (resume and push) else export_hf(out_dir, build=build_name, splits=split,
                                                        embed_media=embed_media, shard_mb=shard_mb, home=home, db=db,
                                                        progress=True)
    except (LookupError, FileExistsError, PushError) as e:
        _fail(str(e), 2)
    if rep is not None:
        out.print(f"wrote {out_dir}: " + ", ".join(f"{k}={v}" for k, v in rep.configs.items()) +
                  f" items; {rep.media_files} media files ({rep.media_bytes / 1e6:.1f} MB); "
                  f"parquet {rep.parquet_bytes / 1e6:.2f} MB in {rep.seconds:.1f}s")
    if push:
        try:
            res = push_folder(out_dir, push, private=private, revision=revision)
        except PushError as e:
            _fail(str(e), 2)
        out.print(f"pushed as {who} to {res['url']}: {res['uploaded']} files in {res['commits']} commit(s), "
                  f"{res['skipped']} already there")


@export_app.command("llamafactory")
def export_llamafactory_cmd(
    out_dir: Path = typer.Argument(..., help="Output folder (JSON, dataset_info.json, media/)."),
    build_name: str = typer.Option("default", "--build", help="Build to export (a tuning build from the "
                                   "training pool, e.g. --segments balanced_train)."),
    split: str = typer.Option("train", help="Only 'train' is meaningful for tuning files: items of --build."),
    condition: Optional[List[str]] = typer.Option(None, "--condition", help="Conditions to include (default: "
                                                  "aligned, av_swap, frames_zeroed as in the study)."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """ShareGPT-style JSON with videos/audios for LLaMA-Factory (frames-zeroed visual prompts -> "None of
    the above")."""
    from mmabench.export.llamafactory import export_llamafactory

    try:
        rep = export_llamafactory(out_dir, build=build_name, conditions=condition, home=home, db=db)
    except LookupError as e:
        _fail(str(e), 2)
    out.print(f"wrote {rep['records']} records over {rep['media']} videos ({', '.join(rep['conditions'])}) to {out_dir}")


@export_app.command("webdataset")
def export_webdataset_cmd(
    out_dir: Path = typer.Argument(..., help="Output folder for .tar shards."),
    build_name: str = typer.Option("default", "--build"), split: SplitName = typer.Option(SplitName.full),
    max_samples: int = typer.Option(1000, help="Samples (variants) per shard."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Tar shards (<variant>.mp4 + <variant>.json with its items) for streaming training."""
    from mmabench.export.webdataset import export_webdataset

    rep = export_webdataset(out_dir, build=build_name, split=split.value, max_samples=max_samples, home=home, db=db)
    out.print(f"wrote {rep['samples']} samples in {len(rep['shards'])} shard(s) to {out_dir}")


@import_app.command("hf")
def import_hf_cmd(
    source: str = typer.Argument(..., help="Release folder, or a Hub dataset repo id."),
    config: Optional[str] = typer.Option(None, help="Config to import (default: full, else all)."),
    home: Optional[Path] = HomeOpt, db: Optional[str] = DbOpt,
) -> None:
    """Load a release into a manifest, so a published release can be evaluated without rebuilding."""
    from mmabench.export.hf import import_hf

    counts = import_hf(source, home=home, db=db, config=config)
    out.print(f"imported {counts['items']} items, {counts['variants']} variants, {counts['clips']} clips")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
