"""Items: the two questions per variant (benchmark.md §3), with options, ground truth and abstention flag."""

from __future__ import annotations

import hashlib
from typing import Iterable, Optional

from mmabench.schema import (
    CONDITION_SPLIT,
    NONE_OF_THE_ABOVE,
    Condition,
    Item,
    Modality,
    Split,
    Variant,
    derive_id,
    rng_for,
)
from mmabench.synth.conflicts import long_context_text

TEMPLATES = {
    1: "Which class best describes the {modality} content of this video? Options: {options}. "
    "Answer using a single class name.",
    2: "Which class best describes the {modality} content of this video? Options: {options}. "
    "Answer using a single class name.",
}
# v2 quotes each option: 14 AudioSet class names contain commas ("Cattle, bovinae"), which v1's ", "-joined
# list split into two options
OPTION_FORMAT = {1: "{}", 2: '"{}"'}
DEFAULT_TEMPLATE = 2
MODALITY_WORD = {Modality.visual: "visual", Modality.audio: "audio"}


def options_for(vocabulary: Iterable[str], *, seed: int, for_id: str, shuffle: bool) -> list[str]:
    classes = sorted(set(vocabulary))
    if shuffle:
        rng_for(seed, for_id, "options").shuffle(classes)
    return classes + [NONE_OF_THE_ABOVE]


def prompt_for(
    variant: Variant, modality: Modality, options: list[str], template_version: int = DEFAULT_TEMPLATE
) -> str:
    listed = ", ".join(OPTION_FORMAT[template_version].format(o) for o in options)
    question = TEMPLATES[template_version].format(modality=MODALITY_WORD[modality], options=listed)
    if variant.condition is Condition.caption:
        return f"{variant.params['caption']} {question}"
    if variant.condition is Condition.long_context:
        return f"{long_context_text(variant)}\n\n{question}"
    return question


def itemize(
    variant: Variant,
    labels: dict[str, str],
    vocabulary: list[str],
    *,
    build: str,
    seed: int,
    shuffle: bool = False,
    template_version: int = DEFAULT_TEMPLATE,
    split: Optional[Split] = None,
) -> list[Item]:
    """labels: clip id -> class. Visual GT is the video clip's class; audio GT the audio clip's class."""
    items = []
    video_cls = labels[variant.video_clip_id]
    for modality in (Modality.visual, Modality.audio):
        if modality is Modality.visual:
            answer = video_cls
            missing = variant.condition is Condition.frames_zeroed
        else:  # audio removed: GT stays the clip's class, but the ideal answer is to abstain
            answer = labels[variant.audio_clip_id] if variant.audio_clip_id else video_cls
            missing = variant.condition is Condition.audio_removed
        key = derive_id("item-key", [build, variant.id, modality.value, template_version])
        options = options_for(vocabulary, seed=seed, for_id=key, shuffle=shuffle)
        prompt = prompt_for(variant, modality, options, template_version)
        prompt_hash = hashlib.sha256(prompt.encode()).hexdigest()[:16]
        items.append(
            Item(
                id=derive_id("item", [key, prompt_hash]),
                build=build,
                variant_id=variant.id,
                split=split or CONDITION_SPLIT[variant.condition],
                condition=variant.condition,
                prompt_modality=modality,
                prompt=prompt,
                options=options,
                answer=answer,
                abstain_expected=missing,
                template_version=template_version,
            )
        )
    return items
