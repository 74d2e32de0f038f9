"""The README's training examples, through the CLI (tiny random-init model: plumbing only)."""

import yaml
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.pipeline.build import build


def test_train_lora_cli_trains_records_and_prints_the_eval_command(tiny_omni, tmp_path):
    build("train", home=tmp_path / "ws", progress=False)
    args = [
        "train",
        "lora",
        "--model",
        str(tiny_omni),
        "--home",
        str(tmp_path / "ws"),
        "--out",
        str(tmp_path / "l"),
        "--max-steps",
        "2",
        "--batch-size",
        "1",
        "--grad-accum",
        "1",
        "--frames",
        "4",
        "--frame-size",
        "112",
        "--no-progress",
    ]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 steps" in res.output and "--adapter" in res.output and (tmp_path / "l" / "adapter").is_dir()
    bad = CliRunner().invoke(app, [*args[:-1], "--build", "nope"])
    assert bad.exit_code == 2 and "no training items" in bad.output and "Traceback" not in bad.output
    test_items = CliRunner().invoke(app, [*args, "--split", "conflict"])
    assert test_items.exit_code == 2 and "--allow-test-items" in test_items.output


def test_train_llamafactory_dry_run_writes_the_study_recipe(tmp_path):
    build("train", home=tmp_path / "ws", progress=False)
    res = CliRunner().invoke(
        app,
        [
            "train",
            "llamafactory",
            "--model",
            "Qwen/Qwen2.5-Omni-7B",
            "--home",
            str(tmp_path / "ws"),
            "--out",
            str(tmp_path / "lf"),
            "--dry-run",
        ],
    )
    assert res.exit_code == 0, res.output
    cfg = yaml.safe_load((tmp_path / "lf" / "train_lora.yaml").read_text())
    assert (cfg["lora_rank"], cfg["lora_target"], cfg["learning_rate"], cfg["template"]) == (
        8,
        "q_proj,v_proj",
        1e-4,
        "qwen2_omni",
    )
    assert cfg["per_device_train_batch_size"] * cfg["gradient_accumulation_steps"] == 16
    assert (tmp_path / "lf" / "dataset_info.json").is_file() and "llamafactory-cli train" in res.output
