"""`ontology`, `tag`, `filter`: curation rules and the audio-visual consistency filter."""

from __future__ import annotations

from pathlib import Path
from typing import List, Optional

import typer
from rich.markup import escape
from rich.table import Table

from mmabench.cli.app import (
    ActorsOpt,
    CpusPerActorOpt,
    DbOpt,
    ExecutorOpt,
    GpusPerActorOpt,
    HomeOpt,
    MediaUrlOpt,
    _executor,
    _fail,
    app,
    err,
    out,
)

TAGGERS_HELP = (
    "imagenet (EfficientNet-Lite0, frames; offline), yamnet (AudioSet, soundtrack; offline), "
    "clip (open_clip zero-shot, frames), hf-audio (transformers AudioSet checkpoint, e.g. AST), "
    "silero (speech activity; offline), pyannote (speech activity, pyannote.audio checkpoint)."
)
DeviceOpt = typer.Option(
    "auto",
    envvar="MMABENCH_DEVICE",
    help="auto, cpu, cuda or mps. On CPU, imagenet runs "
    "through onnxruntime; yamnet (ONNX) and silero always run on CPU.",
)
BatchOpt = typer.Option(
    0,
    "--batch-size",
    envvar="MMABENCH_BATCH_SIZE",
    help="Frames (visual) or clips (audio) per model call; 0 = the tagger's default for the device.",
)
Fp16Opt = typer.Option(
    None,
    "--fp16/--fp32",
    help="Half precision for torch taggers (default: on CUDA only). fp16 scores are cached apart from fp32 ones.",
)
WorkersOpt = typer.Option(
    0,
    envvar="MMABENCH_TAG_WORKERS",
    help="Decode threads feeding the model (0 = auto: 2 on a laptop, up to 8 on a big machine).",
)
DecodeOpt = typer.Option(
    "auto",
    envvar="MMABENCH_DECODE",
    help="Decode workers as threads or processes, or replicas: --workers model processes that each decode "
    "(auto: replicas for YAMNet on CPU with enough files, processes on machines with more than 4 cores "
    "and enough files, else threads); nvdec: visual taggers decode "
    "on the GPU's video decoder (PyNvVideoCodec, --device cuda), audio as auto.",
)
ClipModelOpt = typer.Option("ViT-B-32", envvar="MMABENCH_CLIP_MODEL", help="open_clip architecture.")
ClipPretrainedOpt = typer.Option(
    None,
    envvar="MMABENCH_CLIP_PRETRAINED",
    help="open_clip weights: a tag (downloads), a file, or local-dir:DIR (tag: default laion2b_s34b_b79k; "
    "filter: given weights make clip the visual tagger, for every class of the build).",
)
AllowUnverifiableOpt = typer.Option(
    False,
    "--allow-unverifiable",
    help="Keep clips whose class no check can see or hear (recorded as unverifiable); default: rejected.",
)
JudgeOpt = typer.Option(
    None,
    "--judge",
    help="MLLM judge ADAPTER[:MODEL] (e.g. openai-compat:Qwen/Qwen2.5-Omni-7B) asked the four questions per "
    "clip; answers are cached like tags.",
)
JudgeOptOpt = typer.Option(
    [], "--judge-opt", help="Judge adapter option KEY=VALUE (repeatable), e.g. base_url=http://host:8000/v1."
)


def judge_options(pairs: List[str]) -> dict:
    """KEY=VALUE strings -> adapter kwargs (ints, floats and booleans parsed)."""
    import json

    out: dict = {}
    for p in pairs:
        k, sep, v = p.partition("=")
        if not sep or not k:
            _fail(f"--judge-opt {p!r}: expected KEY=VALUE", 2)
        try:
            out[k] = json.loads(v) if v in ("true", "false") or v.lstrip("-").replace(".", "", 1).isdigit() else v
        except ValueError:
            out[k] = v
    return out


AudioCkptOpt = typer.Option(
    None,
    "--audio-checkpoint",
    envvar="MMABENCH_AUDIO_CHECKPOINT",
    help="hf-audio: a transformers AudioSet checkpoint directory (or hub id).",
)
SpeechCkptOpt = typer.Option(
    None,
    "--speech-checkpoint",
    envvar="MMABENCH_SPEECH_CHECKPOINT",
    help="pyannote: segmentation checkpoint file/directory (or hub id with HF_TOKEN).",
)


@app.command()
def ontology(
    stats: bool = typer.Option(False, help="Count eligible segments per surviving class in --segments."),
    compare: bool = typer.Option(
        False, help="With --stats: both shipped lists (eval, balanced_train) side by side, every rule, every reason."
    ),
    segments: List[str] = typer.Option(["eval"], "--segments", help="Segment CSV path, or 'eval' / 'balanced_train'."),
    rules: Optional[Path] = typer.Option(None, help="Curation rules TOML (default: the shipped data/curation.toml)."),
    out_dir: Optional[Path] = typer.Option(
        None, "--out", help="With --compare: write classes/rules/reasons as CSV and curation.md here."
    ),
    chart: Optional[Path] = typer.Option(None, help="Bar chart PNG of --stats (default <home>/ontology_stats.png)."),
    home: Optional[Path] = HomeOpt,
) -> None:
    """AudioSet stage-1 curation: which classes survive the rules, and (--stats) how many single-class
    segments each has in a segment list; --compare reports both shipped lists against the study's 61 classes,
    with every dropped or merged class and the reason each segment was dropped."""
    from mmabench.config import home_dir
    from mmabench.sources.audioset import read_segments
    from mmabench.taxonomy.curation import Curation, CurationError
    from mmabench.taxonomy.report import STUDY_STAGE1_CLASSES, class_rows, reason_rows, rule_rows, tally, write

    try:
        cur = Curation.load(rules)
    except CurationError as e:
        _fail(escape(str(e)), 2)
    name = cur.base.name
    out.print(
        f"rules {rules or 'data/curation.toml'} (sha256 {cur.rules_sha256[:12]}): "
        f"{len(cur.classes)} of {len(cur.ontology.nodes)} ontology classes survive"
    )
    if not stats:
        if compare or out_dir:
            _fail("--compare and --out need --stats")
        out.print(", ".join(name(m) for m in cur.classes))
        return
    lists = ["eval", "balanced_train"] if compare else list(segments)
    bad: list = []
    try:  # --compare: each shipped list on its own; else the --segments lists as one pool, as ingest reads them
        pools = [[lst] for lst in lists] if compare else [lists]
        tallies = [
            tally(cur, "+".join(map(str, p)), (s.labels for lst in p for s in read_segments(lst, bad))) for p in pools
        ]
    except OSError as e:
        _fail(f"cannot read segment list: {e}", 2)
    if not compare:
        t = tallies[0]
        vocab = sorted(t.per_class, key=lambda m: -t.per_class[m])
        table = Table("class", "mid", "eligible segments", title=f"classes with ≥ {cur.min_segments} eligible segments")
        for mid in vocab:
            table.add_row(escape(name(mid)), mid, str(t.per_class[mid]))
        out.print(table)
        out.print(
            f"{t.segments} segments read ({len(bad)} bad rows); {len(vocab)} classes with ≥ {cur.min_segments} "
            f"eligible segments: {sum(t.per_class.values())} segments; dropped: "
            + ", ".join(f"{k} {n}" for k, n in t.kinds.items() if n)
        )
        from mmabench.plots import CHARTS_NOTE, bar_chart, have_matplotlib

        if not have_matplotlib():  # the stats are the answer; the default chart degrades to a note
            if chart:  # a chart asked for by path is output the command cannot make
                _fail(escape("--chart needs matplotlib: pip install 'mmabench[report]'"), 1)
            err.print(escape(CHARTS_NOTE))
            return
        png = chart or home_dir(home) / "ontology_stats.png"
        bar_chart(
            {name(m): t.per_class[m] for m in vocab},
            png,
            title=f"Eligible single-class segments per class ({', '.join(map(str, segments))})",
            xlabel="segments",
        )
        out.print(f"chart: {png}")
        return
    tables = {
        "classes": class_rows(cur, tallies),
        "rules": rule_rows(cur, tallies),
        "reasons": reason_rows(tallies),
    }
    summary = [
        f"- rules: {rules or 'mmabench/data/curation.toml'} (sha256 {cur.rules_sha256[:12]}), "
        f"min_segments {cur.min_segments}; the study ended stage 1 with {STUDY_STAGE1_CLASSES} classes.",
        *(
            f"- {t.name}: {len(t.per_class)} classes, {sum(t.per_class.values())} of {t.segments} segments kept "
            f"(study: {STUDY_STAGE1_CLASSES} classes, a difference of {len(t.per_class) - STUDY_STAGE1_CLASSES:+d})"
            for t in tallies
        ),
    ]
    for title, rows in tables.items():
        table = Table(*(rows[0] if rows else []), title=title, title_justify="left")
        for r in rows:
            table.add_row(*(escape(str(v)) for v in r.values()))
        out.print(table)
    for line in summary:
        out.print(escape(line))
    if out_dir:
        out.print("wrote " + ", ".join(str(p) for p in write(out_dir, tables, summary)))


@app.command()
def relabel(
    rules: Optional[Path] = typer.Option(None, help="Curation rules TOML (default: the shipped data/curation.toml)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Print what would change; write nothing."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """After a rules change: re-label ingested AudioSet clips from their segments' own labels with the current
    rules; each clip's provenance records old -> new (or dropped, with the reason). The next build of a
    build made with other rules is a config change (--force-config) and supersedes the moved clips' items."""
    from collections import Counter

    from mmabench.pipeline.relabel import relabel as run_relabel
    from mmabench.taxonomy.curation import CurationError

    try:
        rep = run_relabel(rules, home=home, db=db, dry_run=dry_run)
    except (CurationError, OSError) as e:
        _fail(escape(str(e)), 2)
    if not rep.clips:
        _fail("no ingested AudioSet clips with segment labels to relabel")
    t = Table("from", "to", "clips", "reason", title=f"relabel (rules sha256 {rep.rules_sha256[:12]})")
    for (old, new, why), n in sorted(Counter((c.old, c.new, c.reason) for c in rep.changes).items(), key=str):
        t.add_row(escape(old), escape(new or "dropped"), str(n), escape(why))
    out.print(t)
    dropped = sum(c.new is None for c in rep.changes)
    for note in rep.notes:
        out.print(f"  [yellow]note[/] {escape(note)}")
    out.print(
        f"{rep.clips} AudioSet clips: {rep.unchanged} unchanged, {len(rep.changes) - dropped} relabelled, "
        f"{dropped} dropped" + (" (dry run: nothing written)" if dry_run else "")
    )


def _tagger_options(
    device, batch_size, fp16, clip_model, clip_pretrained, audio_checkpoint, speech_checkpoint, decode="auto"
) -> dict[str, dict]:
    common = {"device": device, "batch_size": batch_size} | ({} if fp16 is None else {"fp16": fp16})
    frames = {"decoder": "nvdec"} if decode == "nvdec" else {}
    return {
        "*": common,
        "imagenet": frames,
        "clip": {"model": clip_model} | ({"pretrained": clip_pretrained} if clip_pretrained else {}) | frames,
        "hf-audio": {"checkpoint": audio_checkpoint},
        "pyannote": {"checkpoint": speech_checkpoint},
    }


def _workers(workers: int) -> int:
    from mmabench.taggers.base import default_workers

    return workers or default_workers()


def _ray_options(executor, actors: int, gpus_per_actor: float, cpus_per_actor: float, workers: int, decode: str):
    """RayTagOptions with --executor ray (else None: tag in this process); --workers decode in each actor."""
    name, address = _executor(executor)
    if name == "local":
        return None
    from mmabench.tagging.ray_tag import RayTagOptions

    if actors < 1 or gpus_per_actor < 0 or cpus_per_actor <= 0:
        _fail("--actors must be >= 1, --gpus-per-actor >= 0 and --cpus-per-actor > 0", 2)
    return RayTagOptions(address, actors, gpus_per_actor, cpus_per_actor, _workers(workers), decode)


@app.command()
def tag(
    tagger: List[str] = typer.Option(
        ["imagenet", "yamnet"], "--tagger", help="Taggers to run (repeatable): " + TAGGERS_HELP
    ),
    device: str = DeviceOpt,
    batch_size: int = BatchOpt,
    fp16: Optional[bool] = Fp16Opt,
    workers: int = WorkersOpt,
    decode: str = DecodeOpt,
    clip_model: str = ClipModelOpt,
    clip_pretrained: str = ClipPretrainedOpt,
    audio_checkpoint: Optional[str] = AudioCkptOpt,
    speech_checkpoint: Optional[str] = SpeechCkptOpt,
    executor: Optional[str] = ExecutorOpt,
    actors: int = ActorsOpt,
    gpus_per_actor: float = GpusPerActorOpt,
    cpus_per_actor: float = CpusPerActorOpt,
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Tag every ok clip; scores go to the `tags` table keyed by content, tagger, model, weights hash and
    version, so a re-run calls no model. Files are decoded in worker threads while the model runs on
    batches across clips. With --executor ray, each tagger runs on a pool of --actors Ray actors that load the
    model once and decode with --workers threads each; the driver commits the same rows.
    Example: mmabench tag --tagger clip --clip-pretrained /models/open_clip_b32.bin;
    mmabench tag --executor ray --actors 8 --gpus-per-actor 1 --tagger clip"""
    from mmabench.tagging.runner import tag_clips

    opts = _tagger_options(
        device, batch_size, fp16, clip_model, clip_pretrained, audio_checkpoint, speech_checkpoint, decode
    )
    decode = "auto" if decode == "nvdec" else decode
    ray = _ray_options(executor, actors, gpus_per_actor, cpus_per_actor, workers, decode)
    try:
        reps = tag_clips(
            tagger,
            home=home,
            db=db,
            workers=_workers(workers),
            progress=progress,
            console=err,
            options=opts,
            decode=decode,
            media_url=media_url,
            ray=ray,
        )
    except (LookupError, ImportError, RuntimeError, ValueError) as e:
        _fail(str(e), 2)
    for r in reps:
        out.print(
            f"{r.tagger}: {r.tagged} tagged, {r.model_calls} model calls, {r.seconds:.1f}s "
            f"({r.forward_seconds:.1f}s in the model)"
        )
        for sha, why in r.failed.items():
            out.print(f"  [red]failed[/] {sha[:12]}: {escape(why)}")


def _shown(check: Optional[dict]) -> str:
    """A check's cell: the tagger's score, the judge's answer, or 'not done'."""
    if not check or not check.get("done"):
        return "not done"
    if check.get("score") is not None:
        return f"{check['score']:.2f}"
    return "yes" if check.get("answer") else "no"


@app.command("filter")
def filter_cmd(
    visual_tagger: Optional[str] = typer.Option(
        None, help="Tagger for 'visible' (imagenet or clip; default: clip when --clip-pretrained is given)."
    ),
    audio_tagger: str = typer.Option("yamnet", help="Tagger for 'audible' (yamnet or hf-audio)."),
    speech_tagger: Optional[str] = typer.Option(
        None,
        help="Speech-activity tagger for the voice-over check "
        "(silero or pyannote; default: the audio tagger's Speech class).",
    ),
    visual_threshold: float = typer.Option(0.2, help="Min visual-tagger score for the label (visible)."),
    audio_threshold: float = typer.Option(0.3, help="Min audio-tagger score for the label (audible)."),
    speech_threshold: float = typer.Option(
        0.6,
        help="Speech score (or, for a speech tagger, fraction of the clip "
        "with speech) that flags a voice-over on a non-speech clip.",
    ),
    allow_unverifiable: bool = AllowUnverifiableOpt,
    judge: Optional[str] = JudgeOpt,
    judge_opt: List[str] = JudgeOptOpt,
    chart_dir: Optional[Path] = typer.Option(
        None, "--charts", help="Folder for the confusion heatmaps (default: the workspace)."
    ),
    device: str = DeviceOpt,
    batch_size: int = BatchOpt,
    fp16: Optional[bool] = Fp16Opt,
    workers: int = WorkersOpt,
    decode: str = DecodeOpt,
    clip_model: str = ClipModelOpt,
    clip_pretrained: str = ClipPretrainedOpt,
    audio_checkpoint: Optional[str] = AudioCkptOpt,
    speech_checkpoint: Optional[str] = SpeechCkptOpt,
    executor: Optional[str] = ExecutorOpt,
    actors: int = ActorsOpt,
    gpus_per_actor: float = GpusPerActorOpt,
    cpus_per_actor: float = CpusPerActorOpt,
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Stage-2 consistency: is each clip's label visible (frames) and audible (soundtrack), with no
    voice-over? Decisions with their scores go to the `decisions` table; prints kept/rejected with reasons
    and draws label-vs-tagger confusion heatmaps to tune thresholds. A class no check can see or hear is
    "unverifiable" and rejected unless --allow-unverifiable. Examples: mmabench filter --speech-tagger silero;
    mmabench filter --judge openai-compat:Qwen/Qwen2.5-Omni-7B --judge-opt base_url=http://gpu:8000/v1.
    With --executor ray the taggers run on Ray actor pools (as in `tag`); the judge runs here."""
    from mmabench.config import home_dir
    from mmabench.tagging.filter import FilterConfig, confusion_png, per_class, run_filter

    cfg = FilterConfig(
        visual_tagger=visual_tagger or ("clip" if clip_pretrained else "imagenet"),
        audio_tagger=audio_tagger,
        speech_tagger=speech_tagger,
        visual_threshold=visual_threshold,
        audio_threshold=audio_threshold,
        speech_threshold=speech_threshold,
        allow_unverifiable=allow_unverifiable,
        judge=judge,
        judge_options=judge_options(judge_opt),
    )
    opts = _tagger_options(
        device, batch_size, fp16, clip_model, clip_pretrained, audio_checkpoint, speech_checkpoint, decode
    )
    decode = "auto" if decode == "nvdec" else decode
    ray = _ray_options(executor, actors, gpus_per_actor, cpus_per_actor, workers, decode)
    try:
        decisions = run_filter(
            cfg,
            home=home,
            db=db,
            workers=_workers(workers),
            progress=progress,
            console=err,
            options=opts,
            decode=decode,
            media_url=media_url,
            ray=ray,
        )
    except (LookupError, ImportError, RuntimeError, TypeError, ValueError) as e:
        _fail(str(e), 2)
    t = Table(
        "clip",
        "label",
        "kept",
        "visible",
        "audible",
        "speech",
        "reason",
        title=f"filter {cfg.hash()}",
        title_justify="left",
    )
    for d in sorted(decisions, key=lambda d: (d.clip.label, d.clip.source_ref)):
        sp = d.checks.get("voice_over", {}).get("speech")
        t.add_row(
            escape(d.clip.source_ref),
            escape(d.clip.label),
            "yes" if d.kept else "[red]no[/]",
            _shown(d.checks.get("visible_muted")),
            _shown(d.checks.get("audible_black")),
            "n/a" if sp is None else f"{sp:.2f}",
            escape(d.reason or ""),
        )
    out.print(t)
    pc = Table(
        "label",
        "clips",
        "kept",
        "visible (mean)",
        "audible (mean)",
        "commonest rejection",
        title="per class",
        title_justify="left",
    )
    for r in per_class(decisions):
        pc.add_row(
            escape(r["label"]),
            str(r["clips"]),
            str(r["kept"]),
            *("n/a" if r[k] is None else f"{r[k]:.2f}" for k in ("visible_mean", "audible_mean")),
            escape(r["top_rejection"]),
        )
    out.print(pc)
    out.print(f"kept {sum(d.kept for d in decisions)} of {len(decisions)} clips")
    folder = chart_dir or home_dir(home)
    folder.mkdir(parents=True, exist_ok=True)
    for key, name in (("visual_top", cfg.visual_tagger), ("audio_top", cfg.audio_tagger)):
        confusion_png(decisions, key, folder / f"confusion_{name}.png", f"label vs. {name} top class")
    out.print(
        f"charts: {folder / f'confusion_{cfg.visual_tagger}.png'}, {folder / f'confusion_{cfg.audio_tagger}.png'}"
        " (counts beside them as .csv)"
    )
