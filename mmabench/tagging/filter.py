"""Stage-2 audio-visual consistency with model taggers or an MLLM judge (benchmark.md §2), every decision stored.

The study's four checks stay four: "visible with the audio muted", "audible with the frames black", and both
again on the full clip. An MLLM judge (`judge`, tagging/judge.py) asks all four. Without one, a visual tagger
on the frames and an audio tagger on the soundtrack do what they can: a single-modality tagger sees the same
input for its muted/black check and its full-clip check, and the decision's `checks` says so (`same_input_as`).
Every check records who did it (`by`) or that it was not done (`done: false`, with why).

A class no check can see (or hear) — the visual tagger has no counterpart for it and there is no judge — is
**unverifiable**, which is not a pass: the clip is rejected with "unverifiable: no visual check for <class>"
unless `allow_unverifiable` is set. Voice-over: speech heard on a clip whose class is not speech rejects it;
the speech score comes from a speech-activity tagger (`silero`, `pyannote`) when `speech_tagger` is set,
else from the audio tagger's Speech class.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from mmabench.db.manifest import Manifest
from mmabench.db.models import DecisionRow
from mmabench.logs import make_progress
from mmabench.media.store import store_for
from mmabench.schema import Clip, ClipStatus
from mmabench.schema.ids import canonical_json
from mmabench.tagging.judge import TRANSPORT_OPTIONS, Judge, judge_clips
from mmabench.tagging.runner import cached_scores, load_taggers, tag_files
from mmabench.taxonomy.ontology import default_ontology

CHECKS = ("visible_muted", "audible_black", "visible_full", "audible_full")


class FilterConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    visual_tagger: str = "imagenet"
    audio_tagger: str = "yamnet"
    speech_tagger: Optional[str] = None  # None: the audio tagger's Speech score
    visual_threshold: float = 0.2
    audio_threshold: float = 0.3
    speech_threshold: float = 0.6
    allow_unverifiable: bool = False  # keep clips whose class no check can see/hear (recorded as such)
    judge: Optional[str] = None  # "ADAPTER[:MODEL]": an MLLM asked the four questions
    judge_options: dict[str, Any] = Field(default_factory=dict)  # adapter constructor options

    def hash(self) -> str:
        d = self.model_dump()
        d["judge_options"] = {k: v for k, v in self.judge_options.items() if k not in TRANSPORT_OPTIONS}
        return hashlib.sha256(canonical_json(d).encode()).hexdigest()[:16]


@dataclass
class Decision:
    clip: Clip
    kept: bool
    reason: Optional[str]
    checks: dict


def _top(scores: dict[str, float], vocabulary: Optional[set[str]]) -> Optional[str]:
    cand = {k: v for k, v in scores.items() if vocabulary is None or k in vocabulary}
    return max(cand, key=cand.get) if cand else None


def _tagger_check(tagger: str, score: Optional[float], thr: float, what: str, same_as: str = "") -> dict:
    if score is None:
        return {"done": False, "by": None, "why": f"{tagger} has no class for this label", "pass": None}
    out = {"done": True, "by": tagger, "score": score, "threshold": thr, "pass": score >= thr}
    if same_as:  # a single-modality tagger: the full clip is the same input as the muted/black one
        out["same_input_as"] = same_as
        out["note"] = f"{tagger} {what} only; the full clip gives it the same input"
    return out


def decide(
    clip: Clip,
    vis: dict[str, float],
    aud: dict[str, float],
    cfg: FilterConfig,
    vocabulary: Optional[set[str]] = None,
    speech_scores: Optional[dict[str, float]] = None,
    judged: Optional[dict[str, Optional[bool]]] = None,
) -> Decision:
    """judged: the MLLM judge's yes/no per check (None: no clear answer); without it the taggers decide."""
    onto = default_ontology()
    v, a = vis.get(clip.label), aud.get(clip.label)
    speech = (aud if speech_scores is None else speech_scores).get("Speech", 0.0)
    mid, speech_mid = clip.label_mid, onto.mid("Speech")
    is_speech = bool(mid and (mid == speech_mid or mid in onto.descendants(speech_mid)))
    checks: dict[str, Any]
    if judged is not None:
        who = f"judge {cfg.judge}"
        checks = {
            k: {"done": judged.get(k) is not None, "by": who, "answer": judged.get(k), "pass": judged.get(k)}
            for k in CHECKS
        }
        checks["tagger_scores"] = {cfg.visual_tagger: v, cfg.audio_tagger: a}
    else:
        checks = {
            "visible_muted": _tagger_check(cfg.visual_tagger, v, cfg.visual_threshold, "sees the frames"),
            "audible_black": _tagger_check(cfg.audio_tagger, a, cfg.audio_threshold, "hears the soundtrack"),
            "visible_full": _tagger_check(
                cfg.visual_tagger, v, cfg.visual_threshold, "sees the frames", "visible_muted"
            ),
            "audible_full": _tagger_check(
                cfg.audio_tagger, a, cfg.audio_threshold, "hears the soundtrack", "audible_black"
            ),
        }
    checks["voice_over"] = {
        "speech": speech,
        "tagger": cfg.speech_tagger or cfg.audio_tagger,
        "flag": (not is_speech) and speech >= cfg.speech_threshold,
    }
    checks["visual_top"] = _top(vis, vocabulary)
    checks["audio_top"] = _top(aud, vocabulary)
    for k in CHECKS:
        c = checks[k]
        if c["pass"] is False:
            word = "not visible" if k.startswith("visible") else "not audible"
            where = {"muted": "with the audio muted", "black": "with black frames", "full": "on the full clip"}[
                k.split("_")[1]
            ]
            if judged is not None:
                return Decision(clip, False, f"{word} (judge {cfg.judge}: no, {where})", checks)
            return Decision(
                clip, False, f"{word} ({c['by']} {clip.label} = {c['score']:.2f} < {c['threshold']})", checks
            )
    for sense, pair in (("visual", ("visible_muted", "visible_full")), ("audio", ("audible_black", "audible_full"))):
        if not any(checks[k]["done"] for k in pair):
            checks["unverifiable"] = checks.get("unverifiable", []) + [sense]
    if checks.get("unverifiable") and not cfg.allow_unverifiable:
        return Decision(clip, False, f"unverifiable: no {checks['unverifiable'][0]} check for {clip.label}", checks)
    if checks["voice_over"]["flag"]:
        return Decision(
            clip,
            False,
            f"voice-over: speech {speech:.2f} ({cfg.speech_tagger or cfg.audio_tagger}) on a {clip.label} clip",
            checks,
        )
    allowed = checks.get("unverifiable")  # kept, but the decision says what was taken on trust
    return Decision(
        clip, True, f"allowed unverifiable: no {allowed[0]} check for {clip.label}" if allowed else None, checks
    )


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
    media_url: Optional[str] = None,
    ray=None,
) -> list[Decision]:
    """Tag (cached), judge (cached, with `cfg.judge`) and decide every ok clip (or `clip_ids`); decisions are
    upserted per filter hash. options: tagger constructor kwargs as for `tag_clips` (device, batch size,
    checkpoints); ray: a RayTagOptions to tag on a Ray actor pool (the judge stays in this process). A clip
    tagger scores the build's labels besides the curated classes, so it sees every class."""
    cfg = cfg or FilterConfig()
    options = {k: dict(v) for k, v in (options or {}).items()}
    store = store_for(media_url, home)
    with Manifest(db, home) as m:
        clips = [c for c in m.clips(status=ClipStatus.ok) if clip_ids is None or c.id in clip_ids]
        files = {c.sha256: Path(c.path) for c in clips if c.sha256 and c.path}  # store keys
        vocab = {c.label for c in clips}
        if "clip" in (cfg.visual_tagger, cfg.audio_tagger):
            from mmabench.taggers.clip import default_vocabulary

            options.setdefault("clip", {}).setdefault("vocabulary", sorted(set(default_vocabulary()) | vocab))
        names = [cfg.visual_tagger, cfg.audio_tagger] + ([cfg.speech_tagger] if cfg.speech_tagger else [])
        failed: dict[str, str] = {}
        with make_progress(progress, console) as bar:
            if ray is None:
                tagger_objs = load_taggers(names, options, workers)
                reports = [tag_files(m, t, files, workers, bar, decode, store) for t in tagger_objs]
            else:  # the models live in Ray actors; the driver keeps their identities for the cache
                from mmabench.tagging.ray_tag import tag_files_ray

                pairs = [tag_files_ray(m, n, options, files, ray, bar, store) for n in names]
                tagger_objs, reports = [t for t, _ in pairs], [r for _, r in pairs]
            for t, rep in zip(tagger_objs, reports):
                for sha, why in rep.failed.items():
                    failed.setdefault(sha, f"{t.name} could not read the clip: {why}")
        vs, as_ = (cached_scores(m, t, list(files)) for t in tagger_objs[:2])
        ss = cached_scores(m, tagger_objs[2], list(files)) if cfg.speech_tagger else {}
        judged: dict[str, dict[str, Optional[bool]]] = {}
        if cfg.judge:
            verdicts = judge_clips(m, Judge(cfg.judge, cfg.judge_options), clips, workers, store)
            judged = verdicts.answers
            for sha, why in verdicts.failed.items():
                failed.setdefault(sha, why)
        out = [
            Decision(c, False, failed[c.sha256], {})
            if c.sha256 in failed
            else decide(
                c,
                vs[c.sha256],
                as_[c.sha256],
                cfg,
                vocab,
                ss.get(c.sha256) if cfg.speech_tagger else None,
                judged.get(c.sha256) if cfg.judge else None,
            )
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
