"""The hf-audio path (transformers AudioSet classifiers such as AST) with a tiny randomly initialised AST
written at test time: loading from a directory, label -> ontology mapping, batching, caching, errors.
Its scores are noise and are never presented as results."""

from pathlib import Path

import pytest

from mmabench.pipeline.build import build
from mmabench.taggers import taggers
from mmabench.tagging.runner import tag_clips

SOUNDS = Path(__file__).resolve().parents[1] / "data" / "sounds"


def test_loads_a_directory_and_maps_labels_onto_the_ontology(tiny_ast):
    t = taggers.get("hf-audio")(checkpoint=tiny_ast, device="cpu")
    s = t.tag(SOUNDS / "dog.mp3")
    assert {"Speech", "Dog", "Bark", "Cat", "Music", "Animal"} <= set(s) and "not-an-audioset-class" in s
    assert all(0 <= v <= 1 for v in s.values())
    assert s["Dog"] == max(s["Dog"], s["Bark"]) and s["Animal"] >= s["Cat"]  # a class covers its descendants
    assert t.model_id == f"hf-audio/audio-spectrogram-transformer/{Path(tiny_ast).name}"
    assert len(t.weights_sha256) == 64


def test_batch_equals_one_by_one_and_silence_is_zero(tiny_ast, clip_factory):
    t = taggers.get("hf-audio")(checkpoint=tiny_ast, device="cpu")
    silent = clip_factory("silent.mp4", silent=True)
    paths = [SOUNDS / "dog.mp3", silent, SOUNDS / "cow.mp3"]
    together = t.forward([t.prepare(p) for p in paths])
    for p, s in zip(paths, together):
        alone = t.tag(p)
        assert max(abs(alone[k] - s[k]) for k in s) < 1e-3
    assert max(together[1].values()) == 0.0


def test_tags_are_cached(tiny_ast, tmp_path):
    build("conflict", home=tmp_path, progress=False)
    opts = {"hf-audio": {"checkpoint": tiny_ast, "device": "cpu"}}
    assert [r.model_calls for r in tag_clips(["hf-audio"], home=tmp_path, progress=False, options=opts)] == [18]
    assert [r.model_calls for r in tag_clips(["hf-audio"], home=tmp_path, progress=False, options=opts)] == [0]


def test_missing_checkpoint_names_the_flag(tmp_path):
    with pytest.raises(ImportError, match="--audio-checkpoint"):
        taggers.get("hf-audio")()
    with pytest.raises(ImportError, match="directory holding config.json"):
        taggers.get("hf-audio")(checkpoint=str(tmp_path / "nowhere"))
