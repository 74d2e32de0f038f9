"""LoRA tuning on a tiny random-init Qwen2.5-Omni thinker (built at test time): plumbing, never results.

What is proved: the SFT set follows the study's recipe, only answer tokens carry loss, training lowers the
loss, a saved adapter reloads to the same logits, a resumed run reaches the same weights as an
uninterrupted one, training inputs are the eval adapter's inputs, and a tuned model is never served the
base model's cached answers."""

import json

import pytest
import torch

from mmabench.adapters.base import Request
from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from mmabench.eval.runner import evaluate, make_adapter
from mmabench.pipeline.build import build
from mmabench.schema import NONE_OF_THE_ABOVE
from mmabench.train.data import sft_examples
from mmabench.train.lora import IGNORE, LoraRecipe, encode, load_model, mean_loss, train_lora
from mmabench.train.run import train

FAST = dict(batch_size=1, grad_accum=1, frames=4, frame_size=112, lr=1e-3)


@pytest.fixture(scope="module")
def home(tmp_path_factory):
    h = tmp_path_factory.mktemp("train_ws")
    build("full", home=h, progress=False)
    return h


@pytest.fixture(scope="module")
def examples(home):
    with Manifest(home=home) as m:
        return sft_examples(m, "default", "full")  # a test build's items: fine for plumbing tests


def test_sft_set_follows_the_study_recipe(examples):
    """aligned + av_swap for both prompts, frames_zeroed visual prompts only, targets as in benchmark.md §7."""
    kinds = {(e.item.condition.value, e.item.prompt_modality.value) for e in examples}
    assert kinds == {
        ("aligned", "visual"),
        ("aligned", "audio"),
        ("av_swap", "visual"),
        ("av_swap", "audio"),
        ("frames_zeroed", "visual"),
    }
    for e in examples:
        want = NONE_OF_THE_ABOVE if e.item.condition.value == "frames_zeroed" else e.item.answer
        assert e.target == want


def test_only_the_answer_tokens_carry_loss(tiny_omni, examples):
    processor, _, _ = load_model(str(tiny_omni), LoraRecipe(**FAST))
    ex = next(e for e in examples if e.item.condition.value == "av_swap")
    batch, labels = encode(processor, ex, 4, 112)
    kept = labels[0][labels[0] != IGNORE]
    assert processor.tokenizer.decode(kept) == ex.target + processor.tokenizer.eos_token
    n = int((labels[0] == IGNORE).sum())
    assert (labels[0][n:] != IGNORE).all() and batch["input_ids"].shape == labels.shape


def test_training_lowers_the_loss_and_the_adapter_reloads(tiny_omni, examples, tmp_path):
    recipe = LoraRecipe(max_steps=30, **FAST)
    probe = examples[:8]
    processor, base, _ = load_model(str(tiny_omni), recipe)
    before = mean_loss(base, processor, probe, recipe)
    res = train_lora(str(tiny_omni), examples, tmp_path / "run", recipe)
    after = mean_loss(res.model, processor, probe, recipe)
    assert res.steps == 30 and after < before - 0.05, (before, after)
    from peft import PeftModel
    from transformers import Qwen2_5OmniThinkerForConditionalGeneration

    again = PeftModel.from_pretrained(
        Qwen2_5OmniThinkerForConditionalGeneration.from_pretrained(str(tiny_omni)), str(res.adapter_dir)
    ).eval()
    batch, _ = encode(processor, probe[0], 4, 112)
    with torch.no_grad():
        assert torch.allclose(again(**batch).logits, res.model(**batch).logits, atol=1e-5)


def test_resume_from_a_checkpoint_reaches_the_same_weights(tiny_omni, examples, tmp_path):
    recipe = LoraRecipe(max_steps=6, save_every=100, **FAST)
    whole = train_lora(str(tiny_omni), examples, tmp_path / "whole", recipe)
    part = train_lora(str(tiny_omni), examples, tmp_path / "split", recipe, stop_after=3)
    assert part.steps == 3 and not part.adapter_dir.exists()
    rest = train_lora(str(tiny_omni), examples, tmp_path / "split", recipe)
    assert rest.resumed_from == 3 and rest.steps == 6 and rest.losses == whole.losses
    from safetensors.torch import load_file

    a = load_file(str(whole.adapter_dir / "adapter_model.safetensors"))
    b = load_file(str(rest.adapter_dir / "adapter_model.safetensors"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_training_inputs_are_the_eval_adapters_inputs(tiny_omni, examples):
    adapter = make_adapter("hf", path=str(tiny_omni), frames=4, frame_size=112)
    processor = adapter.processor
    for ex in (examples[0], next(e for e in examples if e.item.condition.value == "av_swap")):
        sent, _ = adapter.inputs(Request(ex.item, ex.media_path, ex.media_sha256))
        train_batch, labels = encode(processor, ex, 4, 112)
        n = int((labels[0] == IGNORE).sum())
        assert torch.equal(train_batch["input_ids"][:, :n], sent["input_ids"])
        for key in ("pixel_values_videos", "input_features"):
            assert torch.equal(train_batch[key], sent[key]), key


def test_tuned_model_is_recorded_and_never_served_base_answers(tiny_omni, home, tmp_path):
    """Train on a train build (its own workspace: the demo pool may not be both train and test), then
    evaluate base and tuned on a test build."""
    train_home = tmp_path / "train_ws"
    build("train", home=train_home, progress=False)
    rep = train(str(tiny_omni), "default", tmp_path / "lora", LoraRecipe(max_steps=4, **FAST), home=train_home)
    rows = run_readonly(
        f"sqlite:///{train_home}/manifest.db",
        "SELECT status, steps, items, split, adapter_sha256, config FROM train_runs",
    )[1]
    status, steps, items, split, sha, cfg = rows[0]
    cfg = json.loads(cfg) if isinstance(cfg, str) else cfg
    assert (status, steps, items, split) == ("finished", 4, 90, "train") and sha == rep.adapter_sha256
    assert cfg["rank"] == 8
    base = make_adapter("hf", path=str(tiny_omni), frames=4, frame_size=112, max_new_tokens=4)
    tuned = make_adapter(
        "hf", path=str(tiny_omni), frames=4, frame_size=112, max_new_tokens=4, adapter=str(rep.result.adapter_dir)
    )
    r1 = evaluate(base, split="conflict", home=home, limit=4)
    r2 = evaluate(tuned, split="conflict", home=home, limit=4)
    assert r1.called == 4 and r2.called == 4 and r2.cached == 0 and r1.run_id != r2.run_id
    with Manifest(home=home) as m:
        ex = sft_examples(
            m,
            "default",
            "full",
        )[0]
    batch, _ = base.inputs(Request(ex.item, ex.media_path, ex.media_sha256))
    with torch.no_grad():
        assert not torch.allclose(base.net(**batch).logits, tuned.net(**batch).logits)


def test_training_on_test_items_is_refused_unless_asked(tiny_omni, home, tmp_path):
    with pytest.raises(ValueError, match="allow-test-items"):
        train(str(tiny_omni), "default", tmp_path / "x", LoraRecipe(max_steps=1, **FAST), split="full", home=home)
