"""LoRA on a Qwen2.5-Omni thinker from manifest items: the study's alignment tuning (benchmark.md §7).

Inputs are built exactly as the `hf` adapter builds them (same frame sampling, soundtrack, chat turn), the
target is appended as the assistant turn, and only the target's tokens carry loss. A step is
`batch_size x grad_accum` examples (per-example losses averaged). The data order of epoch e is a
permutation seeded by (seed, e), so a resumed run visits exactly the examples an uninterrupted one would;
checkpoints hold the adapter, optimizer and RNG states, and resuming reaches the same weights.
"""

from __future__ import annotations

import math
import os
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
from pydantic import BaseModel, ConfigDict

from mmabench.adapters.hf import decode_media, user_turn
from mmabench.logs import get_logger
from mmabench.train.data import Example

log = get_logger(__name__)
IGNORE = -100
# the language model's attention only: the study tunes query/value projections, encoders stay frozen
TARGETS = r".*language_model\.layers\.\d+\.self_attn\.(q_proj|v_proj)"


class LoraRecipe(BaseModel):
    """The study's defaults; every field is a CLI flag of `mmabench train lora`."""

    model_config = ConfigDict(extra="forbid")
    rank: int = 8
    alpha: int = 16
    dropout: float = 0.05
    lr: float = 1e-4
    batch_size: int = 4
    grad_accum: int = 4
    epochs: float = 1.0
    max_steps: Optional[int] = None  # overrides epochs
    seed: int = 0
    dtype: str = "auto"  # auto: fp32 on CPU, bf16 on CUDA (fp16 where bf16 is missing)
    device: str = "auto"
    frames: int = 8  # must match the hf adapter's --opt frames/frame_size for identical inputs
    frame_size: int = 224
    save_every: int = 50


@dataclass
class TrainResult:
    out: Path
    adapter_dir: Path
    steps: int
    examples: int
    losses: list[float] = field(default_factory=list)
    seconds: float = 0.0
    resumed_from: int = 0
    peak_rss_mb: float = 0.0
    model: Any = field(default=None, repr=False)  # the trained PeftModel, in memory (not persisted)


def encode(processor, ex: Example, frames: int, frame_size: int) -> tuple[dict, Any]:
    """Model inputs for prompt + target and labels that are IGNORE everywhere but the target tokens."""
    pix, wav = decode_media(str(ex.media_path), frames, frame_size)
    has_audio = wav is not None and len(wav) > 0
    prompt = processor.apply_chat_template(
        user_turn(ex.item.prompt, has_audio), add_generation_prompt=True, tokenize=False
    )
    eos = processor.tokenizer.eos_token or "<|im_end|>"
    media = {"videos": [pix], "audio": [wav] if has_audio else None, "return_tensors": "pt"}
    full = processor(text=[prompt + ex.target + eos], **media)
    ids = full["input_ids"]
    # the answer is the last tokens: tokenise it alone instead of running the processor (frames, audio
    # features) a second time on the prompt; only if BPE merged across the boundary, ask the processor
    answer = processor.tokenizer(ex.target + eos, add_special_tokens=False, return_tensors="pt")["input_ids"][0]
    if ids.shape[1] > len(answer) and bool((ids[0, -len(answer) :] == answer).all()):
        n_prompt = ids.shape[1] - len(answer)
    else:
        n_prompt = processor(text=[prompt], **media)["input_ids"].shape[1]
    labels = ids.clone()
    labels[:, :n_prompt] = IGNORE
    return dict(full), labels


def masked_loss(logits, labels):
    """Next-token cross-entropy over the positions whose label is not IGNORE."""
    import torch.nn.functional as F

    return F.cross_entropy(
        logits[:, :-1].float().reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1), ignore_index=IGNORE
    )


def mean_loss(model, processor, examples: Sequence[Example], recipe: LoraRecipe, device: str = "cpu") -> float:
    """Average answer-token loss over `examples` (no gradient): a fixed yardstick before and after tuning."""
    import torch

    total = 0.0
    with torch.no_grad():
        for ex in examples:
            batch, labels = encode(processor, ex, recipe.frames, recipe.frame_size)
            batch = {k: v.to(device) for k, v in batch.items()}
            total += float(masked_loss(model(**batch).logits, labels.to(device)))
    return total / len(examples)


def order(n: int, seed: int, epoch: int) -> list[int]:
    return [int(i) for i in np.random.default_rng([seed, epoch]).permutation(n)]


def step_examples(n: int, recipe: LoraRecipe, step: int) -> list[int]:
    """Indices of the examples step `step` consumes, in a stream of seeded per-epoch permutations."""
    per = recipe.batch_size * recipe.grad_accum
    out = []
    for k in range(step * per, (step + 1) * per):
        epoch, pos = divmod(k, n)
        out.append(order(n, recipe.seed, epoch)[pos])
    return out


def total_steps(n: int, recipe: LoraRecipe) -> int:
    if recipe.max_steps:
        return recipe.max_steps
    return max(1, math.ceil(recipe.epochs * n / (recipe.batch_size * recipe.grad_accum)))


def _device_dtype(recipe: LoraRecipe):
    import torch

    device = recipe.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    if recipe.dtype == "auto":
        if device == "cuda":
            return device, torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
        return device, torch.float32
    return device, {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[recipe.dtype]


def load_model(base: str, recipe: LoraRecipe):
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoProcessor, Qwen2_5OmniThinkerForConditionalGeneration

    device, dtype = _device_dtype(recipe)
    torch.manual_seed(recipe.seed)  # LoRA's A matrices are random: seeded, so a run is reproducible
    processor = AutoProcessor.from_pretrained(base)
    net = Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(base, dtype=dtype)
    cfg = LoraConfig(
        r=recipe.rank, lora_alpha=recipe.alpha, lora_dropout=recipe.dropout, target_modules=TARGETS, bias="none"
    )
    model = get_peft_model(net, cfg)  # the backbone is frozen: only lora_A / lora_B train
    return processor, model.to(device), device


def _accelerator():
    """An `accelerate.Accelerator` when launched on several processes (`accelerate launch -m mmabench.cli
    train lora …`, one per GPU); None for one process, where the plain loop below is the tested path."""
    if int(os.environ.get("WORLD_SIZE", "1")) <= 1:
        return None
    from accelerate import Accelerator

    acc = Accelerator()
    if acc.num_processes <= 1:  # e.g. torchrun on CPU: each process would train alone on the same folder
        raise RuntimeError("launched on several processes but accelerate set up one: use `accelerate launch` on GPUs")
    return acc


def _rng_state() -> dict:
    import torch

    return {"python": random.getstate(), "numpy": np.random.get_state(), "torch": torch.get_rng_state()}


def _set_rng_state(s: dict) -> None:
    import torch

    random.setstate(s["python"])
    np.random.set_state(s["numpy"])
    torch.set_rng_state(s["torch"])


def _latest(ckpts: Path) -> Optional[Path]:
    done = sorted((p for p in ckpts.glob("step-*") if (p / "state.pt").is_file()), key=lambda p: int(p.name[5:]))
    return done[-1] if done else None


def save_checkpoint(model, optim, step: int, losses: list[float], ckpts: Path) -> Path:
    import torch

    d = ckpts / f"step-{step:07d}"
    d.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(d)
    tmp = d / "state.pt.part"
    torch.save({"step": step, "optimizer": optim.state_dict(), "rng": _rng_state(), "losses": losses}, tmp)
    tmp.replace(d / "state.pt")  # state.pt last: a checkpoint without it is ignored on resume
    return d


def train_lora(
    base: str,
    examples: Sequence[Example],
    out: str | Path,
    recipe: Optional[LoraRecipe] = None,
    *,
    resume: bool = True,
    stop_after: Optional[int] = None,
    on_step: Optional[Callable[[int, float], None]] = None,
) -> TrainResult:
    """Train a LoRA on `examples`; checkpoints under out/checkpoints, the final adapter in out/adapter.

    `stop_after` ends the run after that many steps (as a kill would, after a checkpoint) — for tests and
    for chunked jobs on preemptible machines."""
    import resource

    import torch
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    recipe = recipe or LoraRecipe()
    if not examples:
        raise ValueError("no training examples: the build has no aligned / av_swap / frames_zeroed items")
    out = Path(out)
    ckpts = out / "checkpoints"
    t0 = time.perf_counter()
    processor, model, device = load_model(base, recipe)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optim = torch.optim.AdamW(trainable, lr=recipe.lr)
    start, losses = 0, []
    last = _latest(ckpts) if resume else None
    if last is not None:
        set_peft_model_state_dict(model, load_file(str(last / "adapter_model.safetensors")))
        state = torch.load(last / "state.pt", weights_only=False)
        optim.load_state_dict(state["optimizer"])
        _set_rng_state(state["rng"])
        start, losses = state["step"], list(state["losses"])
        log.info("resuming %s at step %d", out, start)
    steps = total_steps(len(examples), recipe)
    per = recipe.batch_size * recipe.grad_accum
    acc = _accelerator()
    world, rank = (acc.num_processes, acc.process_index) if acc else (1, 0)
    if acc:  # DDP: each process takes every world-th example of a step; gradients are averaged across them
        model, optim = acc.prepare(model, optim)
        device = acc.device
        log.info("training on %d processes (this is rank %d)", world, rank, extra={"world": world, "rank": rank})
    main = acc is None or acc.is_main_process
    model.train()
    step = start
    for step in range(start, steps):
        optim.zero_grad(set_to_none=True)
        total = 0.0
        for idx in step_examples(len(examples), recipe, step)[rank::world]:
            batch, labels = encode(processor, examples[idx], recipe.frames, recipe.frame_size)
            batch = {k: v.to(device) for k, v in batch.items()}
            loss = masked_loss(model(**batch).logits, labels.to(device)) / per
            # x world: DDP averages the processes' gradients, and the step's loss is a sum over all of them
            if acc:
                acc.backward(loss * world)
            else:
                loss.backward()
            total += loss.detach().item()
        optim.step()
        if acc:
            total = float(acc.reduce(torch.tensor(total, device=device), "sum"))
        losses.append(round(total, 6))
        if on_step:
            on_step(step + 1, total)
        done = step + 1
        if main and (done % recipe.save_every == 0 or done == steps or (stop_after and done - start >= stop_after)):
            save_checkpoint(acc.unwrap_model(model) if acc else model, optim, done, losses, ckpts)
        if stop_after and done - start >= stop_after and done < steps:
            step = done
            break
    else:
        step = steps
    adapter_dir = out / "adapter"
    if acc:
        acc.wait_for_everyone()
        model = acc.unwrap_model(model)
    if step >= steps and main:
        model.save_pretrained(adapter_dir)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    model.eval()
    return TrainResult(out, adapter_dir, step, len(examples), losses, time.perf_counter() - t0, start, peak, model)
