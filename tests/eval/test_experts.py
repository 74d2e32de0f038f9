from mmabench.db.manifest import Manifest
from mmabench.eval.report import load_scores
from mmabench.eval.runner import evaluate


def test_experts_follow_the_prompted_modality_and_abstain_when_it_is_missing(demo_home):
    r = evaluate("experts", split="full", home=demo_home, concurrency=2)
    assert r.errors == 0
    with Manifest(home=demo_home) as m:
        cells = {(c.condition, c.modality): c for c in load_scores(m, [r.run_id])[0].cells}
    assert cells[("audio_removed", "audio")].abstention == 100.0  # silence: nothing to hear
    assert cells[("frames_zeroed", "visual")].abstention == 100.0  # black frames: nothing to see
    # text cannot move a tagger: caption and long_context score exactly like aligned
    for mod in ("visual", "audio"):
        assert cells[("caption", mod)].accuracy == cells[("aligned", mod)].accuracy
        assert cells[("long_context", mod)].accuracy == cells[("aligned", mod)].accuracy
    # on av_swap audio prompts the experts answer from the (donor) audio, never from the video
    assert cells[("av_swap", "audio")].follows_video < cells[("av_swap", "audio")].follows_audio
