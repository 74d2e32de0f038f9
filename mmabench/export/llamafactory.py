"""`mmabench export llamafactory`: ShareGPT-style JSON with `videos` / `audios` and a `dataset_info.json`,
per the study's tuning recipe (benchmark.md §7): one `<video><audio>` turn per item, target = the bare
class name; frames-zeroed visual prompts are trained to answer "None of the above". Audio goes as a
16-kHz mono WAV extracted from the variant itself (so an audio_removed item trains on its silence)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Optional

import numpy as np

from mmabench.db.manifest import Manifest
from mmabench.export.rows import export_rows, media_file
from mmabench.media import load_audio, wav_bytes
from mmabench.media.store import store_for
from mmabench.pipeline.pools import check_build_pools, role
from mmabench.schema import NONE_OF_THE_ABOVE, Split

DEFAULT_CONDITIONS = ("aligned", "av_swap", "frames_zeroed")  # the study's tuning mix


def target_for(row) -> str:
    if row.condition == "frames_zeroed" and row.prompt_modality == "visual":
        return NONE_OF_THE_ABOVE
    return row.answer


def _wav(src: Path, dst: Path) -> None:
    x = load_audio(src, 16000)
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.write_bytes(wav_bytes(np.zeros(0, np.float32) if x is None else x, 16000))


def export_llamafactory(
    out: str | Path,
    *,
    build: str = "default",
    conditions: Optional[list[str]] = None,
    name: str = "mmabench",
    split: Split | str = Split.train,
    allow_test_items: bool = False,
    home=None,
    db=None,
    media_url: Optional[str] = None,
) -> dict:
    out = Path(out)
    split = Split(split)
    conditions = list(conditions or DEFAULT_CONDITIONS)
    records, media = [], {}
    with Manifest(db, home) as m:
        store = store_for(media_url, m.home)
        row = m.build_row(build)
        if row is None:
            raise LookupError(f"no build {build!r} in this manifest")
        is_train = role(row.config or {}) == "train"
        if not is_train and not allow_test_items:
            raise LookupError(
                f"build {build!r} is a test build (pool {', '.join(row.config.get('pool') or ['?'])}): tuning on it "
                f"leaks the benchmark; export a train build (build --split train from another pool) "
                f"or pass --allow-test-items"
            )
        if is_train != (split is Split.train):
            raise LookupError(
                f"build {build!r} is a {'train' if is_train else 'test'} build: "
                + ("export it with --split train" if is_train else "choose --split conflict, text, unimodal or full")
            )
        if is_train:
            check_build_pools(m, build)
        rows = [r for r in export_rows(m, build, split) if r.condition in conditions]
        if not rows:
            raise LookupError(f"build {build!r} has no {split.value} items for conditions {conditions}")
        for r in rows:
            if r.media_path not in media:
                stem = Path(r.media_path).stem
                video, audio = f"media/{stem[:2]}/{stem}.mp4", f"media/{stem[:2]}/{stem}.wav"
                (out / video).parent.mkdir(parents=True, exist_ok=True)
                src = media_file(store, r)
                shutil.copy2(src, out / video)
                _wav(src, out / audio)
                media[r.media_path] = (video, audio)
            video, audio = media[r.media_path]
            records.append(
                {
                    "messages": [
                        {"role": "user", "content": f"<video><audio>{r.prompt}"},
                        {"role": "assistant", "content": target_for(r)},
                    ],
                    "videos": [video],
                    "audios": [audio],
                    "mmabench": {"item_id": r.item_id, "condition": r.condition, "prompt_modality": r.prompt_modality},
                }
            )
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}.json").write_text(json.dumps(records, indent=1, ensure_ascii=False))
    info = {
        name: {
            "file_name": f"{name}.json",
            "formatting": "sharegpt",
            "columns": {"messages": "messages", "videos": "videos", "audios": "audios"},
            "tags": {"role_tag": "role", "content_tag": "content", "user_tag": "user", "assistant_tag": "assistant"},
        }
    }
    (out / "dataset_info.json").write_text(json.dumps(info, indent=1))
    return {"records": len(records), "media": len(media), "conditions": conditions}


def write_train_yaml(out: str | Path, model: str, *, epochs: float = 1.0, name: str = "mmabench") -> Path:
    """A LLaMA-Factory SFT config with the study's recipe (benchmark.md §7) over the exported dataset."""
    import yaml

    out = Path(out)
    cfg = {
        "model_name_or_path": model,
        "trust_remote_code": True,
        "stage": "sft",
        "do_train": True,
        "finetuning_type": "lora",
        "lora_rank": 8,
        "lora_alpha": 16,
        "lora_target": "q_proj,v_proj",
        "freeze_vision_tower": True,
        "dataset": name,
        "dataset_dir": str(out.resolve()),
        "template": "qwen2_omni",
        "video_fps": 8.0,
        "cutoff_len": 8192,
        "output_dir": str((out / "lora").resolve()),
        "per_device_train_batch_size": 4,
        "gradient_accumulation_steps": 4,
        "learning_rate": 1.0e-4,
        "num_train_epochs": epochs,
        "lr_scheduler_type": "constant",
        "bf16": True,
        "logging_steps": 10,
        "save_steps": 500,
        "report_to": "none",
    }
    path = out / "train_lora.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path
