"""The MLLM judge (the study's own stage-2 method): four yes/no questions about a clip's class, asked of a
model through the eval adapters — "visible?" on the clip with the audio muted and on the full clip, "audible?"
on the clip with black frames and on the full clip.

Answers are cached in the `tags` table like tagger scores: keyed by the clip's content sha256, tagger
"judge", the judge's model id and the question-set version; the scores hold 1.0 (yes) / 0.0 (no) per
"check|class", so a re-run asks nothing. An answer that is not a clear yes or no is not cached.
"""

from __future__ import annotations

import re
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

from sqlalchemy import select

from mmabench.adapters import TransientError, adapters
from mmabench.adapters.base import Request
from mmabench.db.manifest import Manifest
from mmabench.db.models import TagRow
from mmabench.media import remove_audio, zero_frames
from mmabench.media.store import MediaStore
from mmabench.schema import Clip, Condition, Item, Modality, Split

QUESTIONS_VERSION = 1
VISIBLE = "Is there a {} visible in this video? Answer yes or no."
AUDIBLE = "Can you hear a {} in this video? Answer yes or no."
# check -> (question, which input: the clip muted, with black frames, or as it is)
CHECKS = {
    "visible_muted": (VISIBLE, "muted"),
    "audible_black": (AUDIBLE, "black"),
    "visible_full": (VISIBLE, "full"),
    "audible_full": (AUDIBLE, "full"),
}
# options that reach the server but do not change the answers: kept out of the filter's hash
TRANSPORT_OPTIONS = {"base_url", "api_key_env", "timeout"}


def parse_yes_no(text: str) -> Optional[bool]:
    """yes/no from a free answer: the first word if it is one, else the only one of the two it mentions."""
    words = re.findall(r"[a-z]+", text.lower())
    if words and words[0] in ("yes", "no"):
        return words[0] == "yes"
    said = {w for w in words if w in ("yes", "no")}
    return (said == {"yes"}) if len(said) == 1 else None


@dataclass
class Verdicts:
    answers: dict[str, dict[str, Optional[bool]]] = field(default_factory=dict)  # sha256 -> check -> yes/no
    failed: dict[str, str] = field(default_factory=dict)  # sha256 -> reason
    calls: int = 0


class Judge:
    name = "judge"

    def __init__(self, spec: str, options: Optional[dict[str, Any]] = None, retries: int = 2):
        adapter, _, model = spec.partition(":")
        self.adapter = adapters.get(adapter)(model=model, **(options or {}))
        self.model_id = f"{adapter}:{self.adapter.model}"
        self.retries = retries

    def ask(self, path: Path, question: str) -> tuple[Optional[bool], str]:
        item = Item(
            id="judge",
            build="judge",
            variant_id="judge",
            split=Split.conflict,
            condition=Condition.aligned,
            prompt_modality=Modality.visual,
            prompt=question,
            options=["yes", "no"],
            answer="yes",
        )
        for attempt in range(self.retries + 1):
            try:
                text = self.adapter.generate(Request(item, path, None)).text
                return parse_yes_no(text), text
            except TransientError:
                if attempt == self.retries:
                    raise
                time.sleep(0.5 * 2**attempt)
        raise AssertionError("unreachable")

    def judge_clip(self, src: Path, label: str) -> tuple[dict[str, Optional[bool]], int]:
        """The four answers for one clip; (answers, model calls)."""
        out: dict[str, Optional[bool]] = {}
        with tempfile.TemporaryDirectory(prefix="mmabench-judge-") as tmp:
            inputs = {"full": src, "muted": Path(tmp) / "muted.mp4", "black": Path(tmp) / "black.mp4"}
            remove_audio(src, inputs["muted"])
            zero_frames(src, inputs["black"])
            for check, (q, which) in CHECKS.items():
                out[check], _ = self.ask(inputs[which], q.format(label))
        return out, len(CHECKS)


def _key(check: str, label: str) -> str:
    return f"{check}|{label}"


def judge_clips(
    m: Manifest, judge: Judge, clips: list[Clip], workers: int = 2, store: Optional[MediaStore] = None
) -> Verdicts:
    """The four answers for every clip, from the cache where it has them, else from the model."""
    q = select(TagRow.sha256, TagRow.scores).where(
        TagRow.tagger == judge.name,
        TagRow.model_id == judge.model_id,
        TagRow.weights_sha256 == "",
        TagRow.version == QUESTIONS_VERSION,
    )
    with m.session() as s:
        rows = {sha: dict(scores) for sha, scores in s.execute(q)}
    v = Verdicts()
    todo = []
    for c in clips:
        have = rows.get(c.sha256, {})
        if all(_key(k, c.label) in have for k in CHECKS):
            v.answers[c.sha256 or ""] = {k: have[_key(k, c.label)] >= 0.5 for k in CHECKS}
        else:
            todo.append(c)

    def one(c: Clip):
        try:
            src = store.local_path(str(c.path), c.sha256) if store is not None else m.media_root / str(c.path)
            return c, *judge.judge_clip(src, c.label), None
        except Exception as e:  # an unreadable clip or a server that keeps failing: recorded, the rest go on
            return c, {}, 0, f"judge {judge.model_id} failed: {type(e).__name__}: {str(e)[:200]}"

    with ThreadPoolExecutor(max(1, workers)) as pool:
        for c, ans, calls, why in pool.map(one, todo):
            v.calls += calls
            if why:
                v.failed[c.sha256] = why
                continue
            v.answers[c.sha256] = ans
            sure = {_key(k, c.label): float(a) for k, a in ans.items() if a is not None}
            if sure:
                merged = rows.setdefault(c.sha256, {}) | sure
                m.upsert(
                    TagRow,
                    [
                        dict(
                            sha256=c.sha256,
                            tagger=judge.name,
                            model_id=judge.model_id,
                            weights_sha256="",
                            version=QUESTIONS_VERSION,
                            modality="judge",
                            scores=merged,
                            seconds=None,
                        )
                    ],
                    update=["scores"],
                )
    return v
