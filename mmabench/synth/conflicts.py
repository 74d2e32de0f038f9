"""Conflict operations: verbs that take Clip records and return Variant recipes (nothing is rendered here).

A Variant's id is the hash of its canonical recipe, so the same recipe built anywhere has the same id; the
media file is rendered from the recipe by `render` (stream copy throughout: black video and silence come from
shared tracks encoded once per geometry and length).
"""

from __future__ import annotations

import string
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Optional

from mmabench import media
from mmabench.registry import Registry
from mmabench.schema import Clip, Condition, Variant, derive_id, rendezvous, rng_for
from mmabench.taxonomy.ontology import Ontology


@dataclass(frozen=True)
class Op:
    condition: Condition
    version: int
    render: Optional[Callable[[Variant, dict[str, Path], Path], dict]]  # None: shares the aligned media


ops: Registry[Op] = Registry("conflict operation")


def _variant(condition: Condition, video: Clip, audio: Optional[Clip], params: dict) -> Variant:
    op = ops.get(condition.value)
    recipe = {
        "op": condition.value,
        "op_version": op.version,
        "video_clip_id": video.id,
        "audio_clip_id": audio.id if audio else None,
        "params": params,
    }
    return Variant(
        id=derive_id("variant", recipe),
        condition=condition,
        op=condition.value,
        op_version=op.version,
        video_clip_id=video.id,
        audio_clip_id=audio.id if audio else None,
        params=params,
    )


# --- the verbs ---------------------------------------------------------------------------------------------


def aligned(clip: Clip) -> Variant:
    return _variant(Condition.aligned, clip, clip, {})


# A donor must sound for the whole video: its clip is at least as long as the video's, less this slack (an AAC
# frame plus a video frame of container rounding). Shorter donors are never used (no looping, no padding):
# another donor is drawn, deterministically, among the long-enough ones; the recipe records the rule.
DONOR_SLACK_S = 0.1


def long_enough(donor: Clip, clip: Clip) -> bool:
    return donor.duration is None or clip.duration is None or donor.duration >= clip.duration - DONOR_SLACK_S


def swap_audio(clip: Clip, donor: Clip) -> Variant:
    if donor.id == clip.id or donor.label == clip.label:
        raise ValueError("av_swap needs a donor of a different class")
    if not long_enough(donor, clip):
        raise ValueError(f"av_swap donor {donor.id} ({donor.duration} s) is shorter than the video ({clip.duration} s)")
    return _variant(Condition.av_swap, clip, donor, {"trim": "video_length", "donor": "at_least_video_length"})


def caption(clip: Clip, wrong_class: str) -> Variant:
    return _variant(
        Condition.caption, clip, clip, {"caption": f"Video_caption: {wrong_class}.", "wrong_class": wrong_class}
    )


def long_context(clip: Clip, n_letters: int, seed: int) -> Variant:
    return _variant(Condition.long_context, clip, clip, {"n_letters": n_letters, "seed": seed})


def remove_audio(clip: Clip, mode: str = "silence") -> Variant:
    return _variant(Condition.audio_removed, clip, None, {"mode": mode})


def zero_frames(clip: Clip) -> Variant:
    return _variant(Condition.frames_zeroed, clip, clip, {"crf": 18})


def long_context_text(variant: Variant) -> str:
    """n_letters random letters, space-separated (benchmark.md §4: ~10,000 letters, so ~20,000 characters with
    the spaces), derived from (seed, clip, purpose): reproducible anywhere."""
    rng = rng_for(variant.params["seed"], variant.video_clip_id, "long_context")
    return " ".join(rng.choice(string.ascii_letters) for _ in range(variant.params["n_letters"]))


# --- renderers -----------------------------------------------------------------------------------------------
# src: the input clips by role ("video", "audio") and "tracks", the folder of shared encoded tracks (black
# video, silence; `media.tracks`), absent when rendering outside a workspace (then they are encoded into a
# temporary folder, with the same bytes). Variants are written without fsync: the manifest records each one's
# sha256 and size at commit, the next build re-renders a file whose size disagrees and `verify --repair` one
# whose hash does, so a power loss before writeback costs a re-render, never a wrong file taken as right.


def _render_aligned(v: Variant, src: dict[str, Path], dst: Path) -> dict:
    media.remux(src["video"], dst, fsync=False, probe="store")
    return {}


def _render_swap(v: Variant, src: dict[str, Path], dst: Path) -> dict:
    info = media.swap_audio(src["video"], src["audio"], dst, fsync=False)
    if info["audio_s"] < info["video_s"] - DONOR_SLACK_S:  # the plan's durations were wrong: never ship it
        dst.unlink(missing_ok=True)
        raise ValueError(f"av_swap donor sounds {info['audio_s']} s of a {info['video_s']} s video")
    return info


def _render_removed(v: Variant, src: dict[str, Path], dst: Path) -> dict:
    return media.remove_audio(src["video"], dst, v.params["mode"], tracks=src.get("tracks"), fsync=False)


def _render_zeroed(v: Variant, src: dict[str, Path], dst: Path) -> dict:
    return media.zero_frames(src["video"], dst, v.params["crf"], tracks=src.get("tracks"), fsync=False)


ops.register("aligned", Op(Condition.aligned, 1, _render_aligned))
ops.register("av_swap", Op(Condition.av_swap, 2, _render_swap))  # v2: donors at least as long as the video
ops.register("caption", Op(Condition.caption, 1, None))
ops.register("long_context", Op(Condition.long_context, 2, None))  # v2: n_letters letters (v1 gave n/2)
ops.register("audio_removed", Op(Condition.audio_removed, 2, _render_removed))  # v2: silence from a shared track
# v2: single-threaded x264; v3: the black video from a shared track (same packets, container bitrate differs)
ops.register("frames_zeroed", Op(Condition.frames_zeroed, 3, _render_zeroed))


def media_variant(v: Variant) -> Variant:
    """The variant whose file `v` uses: itself, or the aligned variant for text-only conditions."""
    if ops.get(v.op).render is None:
        return _variant(Condition.aligned, _stub(v.video_clip_id), _stub(v.video_clip_id), {})
    return v


def _stub(clip_id: str) -> Clip:  # ids are all a recipe needs
    return Clip(id=clip_id, source="", source_ref="", label="")


def variant_relpath(v: Variant) -> str:
    mv = media_variant(v)
    return f"variants/{mv.id[:2]}/{mv.id}.mp4"


# --- planning: which variants a set of clips gets, with seeded, addition-stable choices ---------------------


def plan_variants(
    clips: Iterable[Clip],
    conditions: Iterable[Condition],
    *,
    seed: int,
    ontology: Ontology,
    long_context_letters: int = 10_000,
    audio_removed_mode: str = "silence",
) -> list[Variant]:
    clips = sorted(clips, key=lambda c: c.id)
    by_class: dict[str, list[Clip]] = {}
    for c in clips:
        by_class.setdefault(c.label, []).append(c)
    mids = {c.label: c.label_mid for c in clips}
    out: list[Variant] = []
    for clip in clips:
        others = [k for k in sorted(by_class) if k != clip.label and not ontology.related(mids[k], clip.label_mid)]
        for cond in conditions:
            if cond is Condition.aligned:
                out.append(aligned(clip))
            elif cond is Condition.av_swap:
                donors = {k: [d for d in by_class[k] if long_enough(d, clip)] for k in others}
                cls = rendezvous(seed, clip.id, "donor-class", [k for k in others if donors[k]])
                if cls is not None:  # a one-class corpus (or one without a long-enough donor): nothing to swap
                    out.append(
                        swap_audio(clip, rendezvous(seed, clip.id, "donor-clip", donors[cls], key=lambda d: d.id))
                    )
            elif cond is Condition.caption:
                wrong = rendezvous(seed, clip.id, "caption", others)
                if wrong is not None:
                    out.append(caption(clip, wrong))
            elif cond is Condition.long_context:
                out.append(long_context(clip, long_context_letters, seed))
            elif cond is Condition.audio_removed:
                out.append(remove_audio(clip, audio_removed_mode))
            elif cond is Condition.frames_zeroed:
                out.append(zero_frames(clip))
    return out
