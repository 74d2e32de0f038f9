"""`train lora` and `train llamafactory`: modality-alignment tuning from a build's items."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Optional

import typer

from mmabench.cli.app import DbOpt, HomeOpt, _fail, app, err, out

train_app = typer.Typer(
    help="Tune a model to trust the right modality (the study's alignment LoRA) from a build's items.",
    no_args_is_help=True,
)
app.add_typer(train_app, name="train")


@train_app.command("lora")
def train_lora_cmd(
    model: str = typer.Option(..., "--model", help="Base Qwen2.5-Omni thinker: a local folder or an HF cache id."),
    build_name: str = typer.Option("default", "--build", help="Build whose items to train on (a training pool)."),
    out_dir: Path = typer.Option(Path("mmabench_lora"), "--out", help="Checkpoints and the final adapter/."),
    split: str = typer.Option(
        "train", help="train (items of a train build); a test split only with --allow-test-items."
    ),
    allow_test_items: bool = typer.Option(False, help="Train on a test build's items (plumbing and ablations only)."),
    rank: int = typer.Option(8, help="LoRA rank (study: 8)."),
    alpha: int = typer.Option(16, help="LoRA alpha."),
    lr: float = typer.Option(1e-4, help="Learning rate (study: 1e-4)."),
    batch_size: int = typer.Option(4, help="Examples per micro-batch (study: 4)."),
    grad_accum: int = typer.Option(4, help="Micro-batches per optimizer step (study: 4)."),
    epochs: float = typer.Option(1.0, help="Passes over the examples."),
    max_steps: Optional[int] = typer.Option(None, help="Optimizer steps (overrides --epochs)."),
    frames: int = typer.Option(8, help="Frames per video: use the same with `eval --opt frames=`."),
    frame_size: int = typer.Option(224, help="Frame side in pixels (same as `eval --opt frame_size=`)."),
    dtype: str = typer.Option("auto", help="auto (fp32 on CPU, bf16 on CUDA), fp32, bf16 or fp16."),
    device: str = typer.Option("auto", envvar="MMABENCH_DEVICE", help="auto, cpu or cuda."),
    seed: int = typer.Option(0, help="Seeds the LoRA init and the per-epoch data order."),
    save_every: int = typer.Option(50, help="Checkpoint every N steps (and at the end)."),
    resume: bool = typer.Option(True, "--resume/--restart", help="Continue from the latest checkpoint in --out."),
    progress: bool = typer.Option(True),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """PEFT LoRA on the language model's q/v projections (backbone frozen), loss on the answer tokens only,
    inputs exactly as `eval --model hf` sends them. Recorded in the manifest's `train_runs` table."""
    from pydantic import ValidationError

    from mmabench.logs import make_progress
    from mmabench.train.lora import LoraRecipe
    from mmabench.train.run import train

    try:
        recipe = LoraRecipe(
            rank=rank,
            alpha=alpha,
            lr=lr,
            batch_size=batch_size,
            grad_accum=grad_accum,
            epochs=epochs,
            max_steps=max_steps,
            frames=frames,
            frame_size=frame_size,
            dtype=dtype,
            device=device,
            seed=seed,
            save_every=save_every,
        )
    except ValidationError as e:
        _fail(str(e).splitlines()[0], 2)
    with make_progress(progress, err) as bar:
        task = bar.add_task("train", total=None)

        def planned(n_examples: int, steps: int) -> None:
            bar.update(task, total=steps, description="train")
            err.print(f"{n_examples} examples, {steps} steps of {batch_size}x{grad_accum}")

        def stepped(step: int, loss: float) -> None:
            bar.update(task, completed=step, description=f"loss {loss:.3f}")

        try:
            rep = train(
                model,
                build_name,
                out_dir,
                recipe,
                split=split,
                allow_test_items=allow_test_items,
                home=home,
                db=db,
                resume=resume,
                on_step=stepped,
                on_plan=planned,
            )
        except (ValueError, OSError) as e:
            _fail(str(e), 2)
    res = rep.result
    if rep.adapter_sha256 is None:
        _fail(f"training stopped at step {res.steps}; re-run the same command to resume")
    out.print(
        f"train run {rep.run_id}: {res.steps} steps over {res.examples} examples in {res.seconds:.1f}s, "
        f"loss {res.losses[0]:.3f} -> {res.losses[-1]:.3f}; adapter {res.adapter_dir}"
    )
    out.print(
        f"evaluate it: mmabench eval --model hf --opt path='\"{model}\"' --opt frames={frames} "
        f"--opt frame_size={frame_size} --adapter {res.adapter_dir}"
    )


@train_app.command("llamafactory")
def train_llamafactory_cmd(
    model: str = typer.Option(..., "--model", help="Base model for LLaMA-Factory (path or hub id)."),
    build_name: str = typer.Option("default", "--build"),
    out_dir: Path = typer.Option(Path("mmabench_llamafactory"), "--out"),
    epochs: float = typer.Option(1.0),
    run: bool = typer.Option(True, "--run/--dry-run", help="Run llamafactory-cli when installed."),
    allow_test_items: bool = typer.Option(False, help="Export a test build's items (plumbing and ablations only)."),
    home: Optional[Path] = HomeOpt,
    db: Optional[str] = DbOpt,
) -> None:
    """Export the build for LLaMA-Factory plus a YAML with the study's recipe (LoRA r8 on q/v, lr 1e-4,
    batch 4 x 4, template qwen2_omni) and run `llamafactory-cli train` on it when installed."""
    from mmabench.export.llamafactory import export_llamafactory, write_train_yaml

    try:
        rep = export_llamafactory(out_dir, build=build_name, allow_test_items=allow_test_items, home=home, db=db)
    except LookupError as e:
        _fail(str(e), 2)
    yaml_path = write_train_yaml(out_dir, model, epochs=epochs)
    out.print(f"wrote {rep['records']} records and {yaml_path}")
    cli = shutil.which("llamafactory-cli")
    if not run or cli is None:
        why = "dry run" if not run else "llamafactory-cli is not installed (pip install llamafactory)"
        out.print(f"{why}; to train: llamafactory-cli train {yaml_path}")
        return
    code = subprocess.call([cli, "train", str(yaml_path)])
    if code:
        _fail(f"llamafactory-cli exited with {code}", code)
