"""Ground truth written by hand from docs/benchmark.md §3-4, checked item by item on a real demo build.

Nothing here calls the implementation's answer logic: the expected answer is read off the table below and the
classes off the demo's file names (cat_1.mp4 is a Cat), so a wrong formula in synth/items.py cannot agree with
itself here.
"""

import re

import pytest

from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import build

# benchmark.md §4, one row per condition: split, then per prompted modality (whose class is the answer,
# whether the ideal answer is to abstain). "clip" = the class of the video's own clip, "donor" = the class
# of the clip the audio was taken from.
TABLE = {
    "aligned": ("conflict", {"visual": ("clip", False), "audio": ("clip", False)}),
    "av_swap": ("conflict", {"visual": ("clip", False), "audio": ("donor", False)}),
    "caption": ("text", {"visual": ("clip", False), "audio": ("clip", False)}),
    "long_context": ("text", {"visual": ("clip", False), "audio": ("clip", False)}),
    "audio_removed": ("unimodal", {"visual": ("clip", False), "audio": ("clip", True)}),
    "frames_zeroed": ("unimodal", {"visual": ("clip", True), "audio": ("clip", False)}),
}
# the demo corpus, by file name (mmabench/data/demo/corpus.json)
DEMO_CLASS = {
    "cat": "Cat",
    "horse": "Horse",
    "speech": "Speech",
    "camera": "Camera",
    "explosion": "Explosion",
    "music": "Music",
}
VOCAB = ["Camera", "Cat", "Explosion", "Horse", "Music", "Speech", "None of the above"]
LETTERS = 10_000  # "~10,000 random letters (space-separated)"


def _class_of(source_ref: str) -> str:
    return DEMO_CLASS[re.match(r"(?:clips/)?([a-z]+)_\d\.mp4$", source_ref).group(1)]


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    home = tmp_path_factory.mktemp("gt")
    build("full", home=home, progress=False)
    with Manifest(None, home) as m:
        clips = {c.id: c for c in m.clips()}
        variants = {v.id: v for v in m.variants()}
        items = list(m.items("full"))
        per_split = {s: {i.id for i in m.items(s)} for s in ("conflict", "text", "unimodal")}
    return clips, variants, items, per_split


def test_every_item_matches_the_hand_written_table(demo):
    clips, variants, items, per_split = demo
    seen = set()
    for it in items:
        v = variants[it.variant_id]
        split, per_modality = TABLE[it.condition.value]
        whose, abstain = per_modality[it.prompt_modality.value]
        clip_class = _class_of(clips[v.video_clip_id].source_ref)
        if whose == "donor":
            expected = _class_of(clips[v.audio_clip_id].source_ref)
            assert expected != clip_class, "an av_swap donor must be of another class"
        else:
            expected = clip_class
        assert (it.answer, it.abstain_expected) == (expected, abstain), (it.condition, it.prompt_modality)
        assert it.split.value == split and it.id in per_split[split]
        assert sorted(it.options[:-1]) + [it.options[-1]] == VOCAB
        assert "Options: " + ", ".join(f'"{o}"' for o in it.options) + "." in it.prompt  # template v2: quoted
        if it.condition.value == "av_swap":  # "trimmed to the video's length": the donor sounds throughout
            r = v.params["rendered"]
            assert r["audio_s"] >= r["video_s"] - 0.1, r
        if it.condition.value == "audio_removed":
            assert v.audio_clip_id is None
        if it.condition.value == "caption":
            m = re.match(r"Video_caption: (.+?)\. Which class", it.prompt)
            assert m and m.group(1) in VOCAB[:-1] and m.group(1) != clip_class
        else:
            assert "Video_caption" not in it.prompt
        if it.condition.value == "long_context":
            head, _, question = it.prompt.partition("\n\n")
            words = head.split(" ")
            assert len(words) == LETTERS and all(len(w) == 1 and w.isascii() and w.isalpha() for w in words)
            assert question.startswith("Which class best describes")
        else:
            assert len(it.prompt) < 1000
        word = {"visual": "visual", "audio": "audio"}[it.prompt_modality.value]
        assert f"describes the {word} content of this video" in it.prompt
        seen.add((it.condition.value, it.prompt_modality.value))
    # 18 demo clips, each with one item per condition x modality
    assert seen == {(c, mod) for c in TABLE for mod in ("visual", "audio")}
    assert len(items) == 18 * 6 * 2
    assert sum(map(len, per_split.values())) == len(items)
