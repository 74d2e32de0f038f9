"""Stage-2 audio-visual consistency with model taggers (benchmark.md §2), every decision stored.

The study's four checks, adapted: "visible with the audio muted" and "audible with the frames black" are a
visual tagger on the frames and an audio tagger on the soundtrack; for single-modality taggers the two
"full clip" checks see exactly the same input, so they are recorded as the same scores (an MLLM judge
registered as a tagger would make them differ). Voice-over: speech heard on a clip whose class is not
speech rejects it; the speech score comes from a speech-activity tagger (`silero`, `pyannote`: fraction of
the clip with speech) when `speech_tagger` is set, else from the audio tagger's Speech class. A class the visual tagger cannot see at all (no ImageNet counterpart, e.g. Speech) is
recorded as "n/a" and passes unless `require_visual` is set.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from pydantic import BaseModel, ConfigDict

from mmabench.db.manifest import Manifest
from mmabench.db.models import DecisionRow
from mmabench.logs import make_progress
from mmabench.schema import Clip, ClipStatus
from mmabench.schema.ids import canonical_json
from mmabench.tagging.runner import cached_scores, load_taggers, tag_files
from mmabench.taxonomy.ontology import default_ontology


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visual_tagger: str = "imagenet"
    audio_tagger: str = "yamnet"
    speech_tagger: Optional[str] = None  # None: the audio tagger's Speech score
    visual_threshold: float = 0.2
    audio_threshold: float = 0.3
    speech_threshold: float = 0.6
    require_visual: bool = False

    def hash(self) -> str:
        return hashlib.sha256(canonical_json(self.model_dump()).encode()).hexdigest()[:16]


@dataclass
class Decision:
    clip: Clip
    kept: bool
    reason: Optional[str]
    checks: dict


def _top(scores: dict[str, float], vocabulary: Optional[set[str]]) -> Optional[str]:
    cand = {k: v for k, v in scores.items() if vocabulary is None or k in vocabulary}
    return max(cand, key=cand.get) if cand else None


def decide(
    clip: Clip,
    vis: dict[str, float],
    aud: dict[str, float],
    cfg: FilterConfig,
    vocabulary: Optional[set[str]] = None,
    speech_scores: Optional[dict[str, float]] = None,
) -> Decision:
    onto = default_ontology()
    v, a = vis.get(clip.label), aud.get(clip.label)
    speech = (aud if speech_scores is None else speech_scores).get("Speech", 0.0)
    mid, speech_mid = clip.label_mid, onto.mid("Speech")
    is_speech = bool(mid and (mid == speech_mid or mid in onto.descendants(speech_mid)))
    visible = None if v is None else v >= cfg.visual_threshold
    audible = None if a is None else a >= cfg.audio_threshold
    checks = {
        "visible_muted": {"score": v, "pass": visible, "tagger": cfg.visual_tagger},
        "audible_black": {"score": a, "pass": audible, "tagger": cfg.audio_tagger},
        "visible_full": {"score": v, "pass": visible, "same_as": "visible_muted"},
        "audible_full": {"score": a, "pass": audible, "same_as": "audible_black"},
        "voice_over": {
            "speech": speech,
            "tagger": cfg.speech_tagger or cfg.audio_tagger,
            "flag": (not is_speech) and speech >= cfg.speech_threshold,
        },
        "visual_top": _top(vis, vocabulary),
        "audio_top": _top(aud, vocabulary),
    }
    if visible is False:
        return Decision(
            clip, False, f"not visible ({cfg.visual_tagger} {clip.label} = {v:.2f} < {cfg.visual_threshold})", checks
        )
    if visible is None and cfg.require_visual:
        return Decision(clip, False, f"{cfg.visual_tagger} cannot see class {clip.label!r}", checks)
    if audible is False:
        return Decision(
            clip, False, f"not audible ({cfg.audio_tagger} {clip.label} = {a:.2f} < {cfg.audio_threshold})", checks
        )
    if audible is None:
        return Decision(clip, False, f"{cfg.audio_tagger} has no class {clip.label!r}", checks)
    if checks["voice_over"]["flag"]:
        return Decision(
            clip,
            False,
            f"voice-over: speech {speech:.2f} ({cfg.speech_tagger or cfg.audio_tagger}) on a {clip.label} clip",
            checks,
        )
    return Decision(clip, True, None, checks)


def run_filter(
    cfg: FilterConfig | None = None,
    *,
    home=None,
    db=None,
    clip_ids=None,
    workers: int = 2,
    progress: bool = False,
    console=None,
    options: Optional[dict[str, dict]] = None,
    decode: str = "auto",
) -> list[Decision]:
    """Tag (cached) and decide every ok clip (or `clip_ids`); decisions are upserted per filter hash.
    options: tagger constructor kwargs as for `tag_clips` (device, batch size, checkpoints)."""
    cfg = cfg or FilterConfig()
    with Manifest(db, home) as m:
        clips = [c for c in m.clips(status=ClipStatus.ok) if clip_ids is None or c.id in clip_ids]
        files = {c.sha256: m.media_root / c.path for c in clips}
        names = [cfg.visual_tagger, cfg.audio_tagger] + ([cfg.speech_tagger] if cfg.speech_tagger else [])
        tagger_objs = load_taggers(names, options)
        failed: dict[str, str] = {}
        with make_progress(progress, console) as bar:
            for t in tagger_objs:
                for sha, why in tag_files(m, t, files, workers, bar, decode).failed.items():
                    failed.setdefault(sha, f"{t.name} could not read the clip: {why}")
        vs, as_ = (cached_scores(m, t, list(files)) for t in tagger_objs[:2])
        ss = cached_scores(m, tagger_objs[2], list(files)) if cfg.speech_tagger else {}
        vocab = {c.label for c in clips}
        out = [
            Decision(c, False, failed[c.sha256], {})
            if c.sha256 in failed
            else decide(c, vs[c.sha256], as_[c.sha256], cfg, vocab, ss.get(c.sha256) if cfg.speech_tagger else None)
            for c in clips
        ]
        m.upsert(
            DecisionRow,
            [
                dict(clip_id=d.clip.id, filter_hash=cfg.hash(), kept=d.kept, reason=d.reason, checks=d.checks)
                for d in out
            ],
            update=["kept", "reason", "checks"],
        )
    return out


def confusion(decisions: list[Decision], key: str) -> tuple[list[str], list[str], object]:
    """Counts of label (rows) vs. the tagger's top class (columns); labels first, in the same order."""
    import numpy as np

    rows = sorted({d.clip.label for d in decisions})
    cols = sorted({d.checks.get(key) or "—" for d in decisions} | set(rows), key=lambda c: (c not in rows, c))
    mat = np.zeros((len(rows), len(cols)), int)
    for d in decisions:
        mat[rows.index(d.clip.label), cols.index(d.checks.get(key) or "—")] += 1
    return rows, cols, mat


def per_class(decisions: list[Decision]) -> list[dict]:
    """One row per label: clips, kept, mean visible/audible scores, and the commonest rejection reason."""
    from collections import Counter

    def mean(ds: list[Decision], check: str) -> Optional[float]:
        v = [d.checks[check]["score"] for d in ds if d.checks.get(check, {}).get("score") is not None]
        return round(sum(v) / len(v), 3) if v else None

    out = []
    for label in sorted({d.clip.label for d in decisions}):
        ds = [d for d in decisions if d.clip.label == label]
        why = Counter((d.reason or "").split(" (")[0] for d in ds if not d.kept).most_common(1)
        out.append(
            {
                "label": label,
                "clips": len(ds),
                "kept": sum(d.kept for d in ds),
                "visible_mean": mean(ds, "visible_muted"),
                "audible_mean": mean(ds, "audible_black"),
                "top_rejection": why[0][0] if why else "",
            }
        )
    return out


def confusion_png(decisions: list[Decision], key: str, path, title: str) -> None:
    """Heatmap of label (rows) vs. the tagger's top class (columns), with the same counts as CSV beside it."""
    import csv

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, cols, mat = confusion(decisions, key)
    with open(Path(path).with_suffix(".csv"), "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["label / top class", *cols])
        w.writerows([r, *m] for r, m in zip(rows, mat.tolist()))
    fig, ax = plt.subplots(figsize=(1 + 0.6 * len(cols), 1 + 0.45 * len(rows)))
    ax.imshow(mat, cmap="Blues")
    ax.set_xticks(range(len(cols)), cols, rotation=60, ha="right", fontsize=7)
    ax.set_yticks(range(len(rows)), rows, fontsize=8)
    for i in range(len(rows)):
        for j in range(len(cols)):
            if mat[i, j]:
                ax.text(j, i, int(mat[i, j]), ha="center", va="center", fontsize=7)
    ax.set_xlabel("tagger top class")
    ax.set_ylabel("label")
    ax.set_title(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
