"""A metadata-only manifest (no media) with items of every condition and runs of made-up predictions, written
through the real tables; the outcomes cover correct, wrong, unparsed, abstained and error rows."""

from __future__ import annotations

import random
from typing import Any, Callable

from mmabench.db.bulk import follows
from mmabench.db.models import BuildRow, ClipRow, ItemRow, RunRow, VariantRow

CLASSES = ["Cat", "Dog", "Horse", "Speech", "Camera", "Explosion"]
CONDITIONS = ["aligned", "av_swap", "caption", "long_context", "audio_removed", "frames_zeroed"]
NONE = "None of the above"


Put = Callable[[Any, list[dict]], None]  # (model, rows): Manifest.upsert, or an upsert at an older revision


def items(put: Put, n_variants: int, seed: int = 0) -> list[dict]:
    """Build `default` with 2 items (visual, audio prompt) per variant; returns the item rows."""
    rnd = random.Random(seed)
    put(BuildRow, [dict(name="default", config={}, config_hash="h", seed=0, versions={}, timings={})])
    clips = [
        dict(id=f"c{k:015x}", source="t", source_ref=str(k), label=CLASSES[k % 6], status="ok", provenance={})
        for k in range(12)
    ]
    put(ClipRow, clips)
    by_id = {c["id"]: c["label"] for c in clips}
    variants, rows = [], []
    for v in range(n_variants):
        cond = CONDITIONS[v % 6]
        vc = clips[rnd.randrange(12)]
        ac = rnd.choice(clips) if cond == "av_swap" else None if cond == "audio_removed" else vc
        vid = f"v{v:015x}"
        variants.append(
            dict(
                id=vid, condition=cond, op=cond, op_version=1, video_clip_id=vc["id"],
                audio_clip_id=ac["id"] if ac else None, recipe={}, tool_versions={},
            )
        )  # fmt: skip
        for mod in ("visual", "audio"):
            answer = vc["label"] if mod == "visual" else ac["label"] if ac else NONE
            rows.append(
                dict(
                    id=f"i{v:014x}{mod[0]}", build="default", variant_id=vid, split="full", condition=cond,
                    prompt_modality=mod, prompt="?", options=[*CLASSES, NONE], answer=answer,
                    abstain_expected=answer == NONE, template_version=1,
                )
            )  # fmt: skip
    put(VariantRow, variants)
    put(ItemRow, rows)
    for r in rows:  # the clip classes a prediction is scored against (eval/runner.py reads them the same way)
        v = next(v for v in variants if v["id"] == r["variant_id"])
        r["labels"] = (by_id[v["video_clip_id"]], by_id.get(v["audio_clip_id"]))
    return rows


def run(put: Put, run_id: str, model: str = "m") -> str:
    put(
        RunRow,
        [
            dict(
                id=run_id, model=model, adapter="t", options={}, build="default", split="full", template_version=1,
                package_version="0", seed=0, status="finished", counts={}, timings={},
            )
        ],
    )  # fmt: skip
    return run_id


def prediction(run_id: str, item: dict, rnd: random.Random) -> dict:
    """One made-up answer: right, wrong, abstained, unparsed or an error, in proportions that vary by run."""
    roll = rnd.random()
    error = roll < 0.05
    if error:
        parsed, status = None, "error"
    elif roll < 0.12:
        parsed, status = None, "unparsed"
    elif roll < 0.2:
        parsed, status = NONE, "exact"
    else:
        parsed, status = (item["answer"] if rnd.random() < 0.6 else rnd.choice(CLASSES)), "exact"
    return dict(
        run_id=run_id,
        item_id=item["id"],
        fingerprint=f"{run_id}{item['id']}",
        response=None if error else str(parsed),
        parsed=parsed,
        parse_status=status,
        correct=None if error else parsed == item["answer"],
        abstained=None if error else parsed == NONE,
        latency_ms=1.0,
        tokens_in=None,
        tokens_out=None,
        sent={"frames": 8},
        cached_from=None,
        error="HTTP 500" if error else None,
        attempts=1,
    ) | scored(item, parsed)


def scored(item: dict, parsed: str | None) -> dict:
    """What a prediction of `item` is stored with, as eval/runner.py writes it: the item's cell and answer, and
    whether `parsed` names the variant's video / audio clip class."""
    video, audio = item.get("labels", (None, None))
    return dict(
        condition=item.get("condition"),
        prompt_modality=item.get("prompt_modality"),
        answer=item["answer"],
        follows_video=follows(parsed, video),
        follows_audio=follows(parsed, audio),
    )
