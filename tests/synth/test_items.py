from mmabench.schema import Clip, Condition, Modality
from mmabench.synth.conflicts import plan_variants
from mmabench.synth.items import NONE_OF_THE_ABOVE, itemize
from mmabench.taxonomy.ontology import default_ontology

CLIPS = [
    Clip(id=f"{i:016x}", source="t", source_ref=str(i), label=lab) for i, lab in enumerate(["Dog", "Cat", "Music"])
]
LABELS = {c.id: c.label for c in CLIPS}
VOCAB = sorted(LABELS.values())


def _items(shuffle=False, build="b"):
    vs = plan_variants(CLIPS, list(Condition), seed=0, ontology=default_ontology())
    return [i for v in vs for i in itemize(v, LABELS, VOCAB, build=build, seed=0, shuffle=shuffle)], vs


def test_ground_truth_per_condition_and_modality():
    items, vs = _items()
    by_v = {v.id: v for v in vs}
    for it in items:
        v = by_v[it.variant_id]
        if it.prompt_modality is Modality.visual:
            assert it.answer == LABELS[v.video_clip_id]
            assert it.abstain_expected == (v.condition is Condition.frames_zeroed)
        else:
            expect = LABELS[v.audio_clip_id] if v.audio_clip_id else LABELS[v.video_clip_id]
            assert it.answer == expect
            assert it.abstain_expected == (v.condition is Condition.audio_removed)
        if v.condition is Condition.av_swap:
            assert LABELS[v.audio_clip_id] != LABELS[v.video_clip_id]
        assert it.options[-1] == NONE_OF_THE_ABOVE and it.answer in it.options
    assert len(items) == 2 * len(vs)


def test_prompts_follow_the_study_templates():
    items, vs = _items()
    by_v = {v.id: v for v in vs}
    for it in items:
        cond = by_v[it.variant_id].condition
        word = "visual" if it.prompt_modality is Modality.visual else "audio"
        assert f"describes the {word} content of this video" in it.prompt
        assert 'Options: "Cat", "Dog", "Music", "None of the above".' in it.prompt
        if cond is Condition.caption:
            assert it.prompt.startswith("Video_caption: ") and by_v[it.variant_id].params["wrong_class"] in it.prompt
        if cond is Condition.long_context:
            letters = it.prompt.split("\n\n")[0]
            assert len(letters.split(" ")) == 10_000 and set(letters) <= set(
                "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ "
            )


def test_option_order_fixed_by_default_and_seeded_when_shuffled():
    fixed, _ = _items()
    assert {tuple(i.options) for i in fixed} == {("Cat", "Dog", "Music", NONE_OF_THE_ABOVE)}
    shuffled, _ = _items(shuffle=True)
    assert len({tuple(i.options) for i in shuffled}) > 1
    assert [i.options for i in shuffled] == [i.options for i in _items(shuffle=True)[0]]
    assert {i.id for i in _items(build="other")[0]}.isdisjoint({i.id for i in fixed})
