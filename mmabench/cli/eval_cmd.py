"""`eval`, `attention`, `report`: run models over items and show how they did."""

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
    SplitName,
    _executor,
    _fail,
    _kv_options,
    app,
    err,
    out,
)


@app.command("eval")
def eval_cmd(
    model: str = typer.Option(
        ...,
        "--model",
        help="Adapter, optionally with a model id: random, majority, "
        "openai-compat:Qwen/Qwen2.5-Omni-7B, text-only:MODEL, gemini:gemini-2.5-flash.",
    ),
    split: SplitName = typer.Option(SplitName.conflict, help="Which items to evaluate."),
    name: str = typer.Option("default", "--build", envvar="MMABENCH_BUILD", help="Build whose items to use."),
    limit: Optional[int] = typer.Option(None, help="Only the first N items (by id)."),
    concurrency: int = typer.Option(4, help="Requests in flight."),
    retries: int = typer.Option(3, help="Retries with exponential backoff on 429 / 5xx / timeouts / empty answers."),
    backoff: float = typer.Option(1.0, help="First retry delay (s)."),
    base_url: Optional[str] = typer.Option(
        None,
        envvar="MMABENCH_BASE_URL",
        help="Server URL (openai-compat: http://host:8000/v1; gemini: a proxy). Keys come from env only.",
    ),
    opt: Optional[List[str]] = typer.Option(
        None, "--opt", help="Adapter option KEY=JSON (repeatable), e.g. --opt frames=16 --opt video_mode='\"url\"'."
    ),
    seed: int = typer.Option(0, help="Seed for sampling baselines."),
    adapter_dir: Optional[Path] = typer.Option(
        None, "--adapter", help="hf: a PEFT/LoRA adapter folder (e.g. from `mmabench train lora`) on the base model."
    ),
    executor: Optional[str] = ExecutorOpt,
    actors: int = ActorsOpt,
    gpus_per_actor: float = GpusPerActorOpt,
    cpus_per_actor: float = CpusPerActorOpt,
    rate: float = typer.Option(
        0.0, "--rate", help="With --executor ray: requests per second across the whole cluster (0: no limit)."
    ),
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
    media_url: Optional[str] = MediaUrlOpt,
) -> None:
    """Evaluate a model on manifest items; results land in `runs` and `predictions` (plain SQL). Re-running
    the same command resumes the run and never re-sends an answered request. With --executor ray the adapter
    runs in --actors Ray actors (hf: one model per actor, --gpus-per-actor 1 for one per GPU; API adapters:
    --concurrency requests in flight per actor, --rate across the cluster); run, cache and commits stay here.
    Example: mmabench eval --executor ray --actors 8 --gpus-per-actor 1 --model hf --opt path='"/models/omni"'"""
    from mmabench.adapters import Adapter
    from mmabench.eval.runner import evaluate, make_adapter
    from mmabench.pipeline.stages import make_progress

    adapter_name, _, model_id = model.partition(":")
    options = _kv_options(opt)
    if base_url:
        options["base_url"] = base_url
    if adapter_name == "random":
        options["seed"] = seed
    if adapter_dir is not None:
        if adapter_name != "hf":
            _fail("--adapter works with --model hf (a local model that a LoRA can be loaded onto)", 2)
        options["adapter"] = str(adapter_dir)
    where, address = _executor(executor)
    if where == "local" and rate:
        _fail("--rate paces requests across a Ray cluster: use it with --executor ray", 2)
    if actors < 1 or gpus_per_actor < 0 or cpus_per_actor <= 0 or rate < 0:
        _fail("--actors must be >= 1, --gpus-per-actor >= 0, --cpus-per-actor > 0 and --rate >= 0", 2)
    try:
        if where == "ray":
            from mmabench.eval.ray_eval import RayAdapter

            adapter: Adapter = RayAdapter(
                adapter_name,
                model_id,
                options,
                actors=actors,
                gpus_per_actor=gpus_per_actor,
                cpus_per_actor=cpus_per_actor,
                concurrency=concurrency,
                rate=rate,
                address=address,
            )
        else:
            adapter = make_adapter(adapter_name, model_id, **options)
    except (LookupError, TypeError, RuntimeError, ImportError) as e:
        _fail(escape(str(e)), 2)
    from mmabench.db.manifest import Manifest
    from mmabench.media import StoreError, store_for

    try:
        store_for(media_url, home)  # a store that cannot open is refused before a run is recorded
    except StoreError as e:
        _fail(escape(str(e)), 2)
    with Manifest(db, home) as m:
        try:
            m.require_items(name, split.value)  # no empty run is recorded for a build that is not there
        except LookupError as e:
            _fail(escape(str(e)), 2)
    with make_progress(progress, err) as bar:
        rep = evaluate(
            adapter,
            split=split.value,
            build=name,
            limit=limit,
            concurrency=concurrency,
            retries=retries,
            backoff=backoff,
            seed=seed,
            progress=bar,
            home=home,
            db=db,
            media_url=media_url,
            dispatch=getattr(adapter, "dispatch", None),
        )
    if hasattr(adapter, "close"):
        adapter.close()
    out.print(
        f"run {rep.run_id}: {rep.planned} to answer, {rep.called} model calls, {rep.cached} from cache, "
        f"{rep.errors} errors in {rep.seconds:.1f}s"
    )
    for e in rep.error_samples:
        out.print(f"  [red]error[/] {escape(e)}")
    from mmabench.eval.report import load_scores

    with Manifest(db, home) as m:
        sc = load_scores(m, [rep.run_id])[0]
    t = Table(
        "condition",
        "prompt",
        "n",
        "accuracy %",
        "95% CI",
        "abstain %",
        "unparsed %",
        title=f"{sc.label}" + (" — demo corpus: plumbing, not a result" if sc.demo else ""),
        title_justify="left",
    )
    for c in sc.cells:
        t.add_row(
            c.condition,
            c.modality,
            str(c.n),
            f"{c.accuracy:.1f}",
            f"{c.ci[0]:.1f}–{c.ci[1]:.1f}",
            f"{c.abstention:.1f}",
            f"{c.unparsed:.1f}",
        )
    out.print(t)
    if rep.errors:
        raise typer.Exit(1)


@app.command()
def attention(
    model: str = typer.Option(..., "--model", help="hf:ORG/NAME or hf with --opt path='\"DIR\"' (white-box models)."),
    split: SplitName = typer.Option(SplitName.conflict),
    name: str = typer.Option("default", "--build"),
    limit: Optional[int] = typer.Option(None, help="Only the first N variants (both prompts each)."),
    opt: Optional[List[str]] = typer.Option(None, "--opt", help="Adapter option KEY=JSON (repeatable)."),
    out_dir: Path = typer.Option(Path("mmabench_attention"), "--out", help="CSV, JSON summary and PNG."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
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
    t = Table(
        "condition",
        "layer",
        "block",
        "visual prompt",
        "audio prompt",
        "Cohen's d",
        title_justify="left",
        title=f"attention ({len({r['item_id'] for r in st.rows})} items)",
    )
    for s in st.summary:
        t.add_row(
            s["condition"],
            str(s["layer"]),
            s["block"],
            f"{s['mean_visual']:.3f}",
            f"{s['mean_audio']:.3f}",
            f"{s['d']:.2f}",
        )
    out.print(t)
    out.print(f"wrote {paths['rows']}, {paths['summary']}, {paths['png']}")


@app.command()
def report(
    out_dir: Path = typer.Option(Path("mmabench_report"), "--out", help="Folder for report.md, report.html, PNGs."),
    runs: Optional[List[str]] = typer.Option(None, "--run", help="Run ids (repeatable); default all runs."),
    compare: Optional[List[str]] = typer.Option(
        None, "--compare", help="Two run ids A B (give the flag twice): paired table with McNemar's exact test."
    ),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """Study-style tables, grouped bar charts, per-class breakdown and a leaderboard for evaluated runs."""
    from mmabench.eval.report import make_report

    try:
        if compare and len(compare) != 2:
            raise ValueError("--compare takes exactly two run ids: --compare A --compare B")
        pair = (compare[0], compare[1]) if compare else None
        paths = make_report(out_dir, runs, compare=pair, home=home, db=db)
    except ValueError as e:
        _fail(str(e), 2)
    out.print(f"wrote {paths['markdown']} and {paths['html']} ({len(paths) - 2} chart(s))")
    from mmabench.plots import CHARTS_NOTE, have_matplotlib

    if not have_matplotlib():
        err.print(CHARTS_NOTE, markup=False, highlight=False)
