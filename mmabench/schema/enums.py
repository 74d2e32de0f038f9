"""Conditions, modalities and splits exactly as in docs/benchmark.md §3-4."""

from __future__ import annotations

from enum import Enum

NONE_OF_THE_ABOVE = "None of the above"  # the abstain option every item offers (benchmark.md §3)


class Condition(str, Enum):
    aligned = "aligned"
    av_swap = "av_swap"
    caption = "caption"
    long_context = "long_context"
    audio_removed = "audio_removed"
    frames_zeroed = "frames_zeroed"


class Modality(str, Enum):
    visual = "visual"
    audio = "audio"


class Split(str, Enum):
    conflict = "conflict"
    text = "text"
    unimodal = "unimodal"
    full = "full"
    train = "train"  # tuning items, from a source pool disjoint from every test build's


class ClipStatus(str, Enum):
    """Outcome of ingesting one source clip; anything but `ok` keeps its reason in `clips.error`."""

    ok = "ok"
    empty = "empty"  # zero-byte file
    unreadable = "unreadable"  # not a media file, or the container cannot be opened
    truncated = "truncated"  # packets end before the declared duration / demux error mid-file
    no_video = "no_video"
    no_audio = "no_audio"
    too_short = "too_short"  # shorter than the requested section
    silent = "silent"  # audio stream is digital silence: nothing to hear
    missing = "missing"  # the source file does not exist
    unavailable = "unavailable"  # download: not found (404, "Video unavailable")
    private = "private"
    removed = "removed"
    geo_blocked = "geo_blocked"
    rate_limited = "rate_limited"  # still throttled after all retries
    error = "error"  # anything else (message kept)
    dropped = "dropped"  # `relabel`: the current curation rules drop the segment (reason kept)


# Items carry the split of their condition; `full` is the union of the three.
SPLIT_CONDITIONS: dict[Split, tuple[Condition, ...]] = {
    Split.conflict: (Condition.aligned, Condition.av_swap),
    Split.text: (Condition.caption, Condition.long_context),
    Split.unimodal: (Condition.audio_removed, Condition.frames_zeroed),
}
SPLIT_CONDITIONS[Split.full] = tuple(
    c for s in (Split.conflict, Split.text, Split.unimodal) for c in SPLIT_CONDITIONS[s]
)
# the study's tuning mix (benchmark.md §7): aligned and swapped clips, frames-zeroed ones to learn abstaining
SPLIT_CONDITIONS[Split.train] = (Condition.aligned, Condition.av_swap, Condition.frames_zeroed)
CONDITION_SPLIT: dict[Condition, Split] = {
    c: s for s in (Split.conflict, Split.text, Split.unimodal) for c in SPLIT_CONDITIONS[s]
}


def conditions_for(split: Split | str) -> tuple[Condition, ...]:
    return SPLIT_CONDITIONS[Split(split)]
