"""The open_clip path with a tiny randomly initialised checkpoint written at test time: loading from a
file, batching, caching and the offline error. Its scores are noise and are never presented as results."""

import json

import pytest

from mmabench.pipeline.build import build
from mmabench.sources.demo import DEMO_DIR
from mmabench.taggers import taggers
from mmabench.tagging.runner import tag_clips

TINY = {
    "embed_dim": 32,
    "vision_cfg": {"image_size": 224, "layers": 2, "width": 64, "patch_size": 32, "head_width": 32},
    "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2},
}


@pytest.fixture(scope="module")
def tiny_clip(tmp_path_factory):
    import open_clip
    import torch

    d = tmp_path_factory.mktemp("tiny_clip")
    (d / "tiny-clip-test.json").write_text(json.dumps(TINY))
    open_clip.add_model_config(d)
    torch.manual_seed(0)
    model, _, _ = open_clip.create_model_and_transforms("tiny-clip-test", pretrained=None)
    torch.save(model.state_dict(), d / "tiny.pt")
    return str(d / "tiny.pt")


def test_clip_loads_a_file_and_scores_the_vocabulary(tiny_clip):
    t = taggers.get("clip")(
        model="tiny-clip-test", pretrained=tiny_clip, vocabulary=["Cat", "Dog", "Horse"], frames=5, batch_size=2
    )  # batches of 2 over 5 frames
    s = t.tag(DEMO_DIR / "clips" / "cat_1.mp4")
    assert set(s) == {"Cat", "Dog", "Horse"} and all(0 <= v <= 1 for v in s.values())
    assert s == t.tag(DEMO_DIR / "clips" / "cat_1.mp4")
    assert t.model_id.startswith("open_clip/tiny-clip-test/tiny.pt/vocab-")


def test_clip_tags_are_cached(tiny_clip, tmp_path):
    build("conflict", home=tmp_path, progress=False)
    opts = {"clip": {"model": "tiny-clip-test", "pretrained": tiny_clip, "vocabulary": ["Cat", "Dog"]}}
    assert [r.model_calls for r in tag_clips(["clip"], home=tmp_path, progress=False, options=opts)] == [18]
    assert [r.model_calls for r in tag_clips(["clip"], home=tmp_path, progress=False, options=opts)] == [0]


def test_missing_weights_name_the_flag(monkeypatch):
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)  # fail fast, as on an offline machine
    with pytest.raises(ImportError, match="--clip-pretrained"):
        taggers.get("clip")(model="ViT-B-32", pretrained="laion2b_s34b_b79k")
