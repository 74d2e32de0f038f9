"""Speech activity: Silero VAD (weights ship in its package) on real recordings, the voice-over check it
feeds, and the pyannote.audio path with a tiny randomly initialised PyanNet checkpoint written at test time
(loading from a file or directory, pipeline parameters in the cache key). Random-init scores are noise."""

import os
from pathlib import Path

import pytest

from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import build
from mmabench.sources.demo import DEMO_DIR
from mmabench.taggers import taggers
from mmabench.tagging.filter import FilterConfig, decide, run_filter
from mmabench.tagging.runner import tag_clips

SOUNDS = Path(__file__).resolve().parents[1] / "data" / "sounds"
CLIPS = DEMO_DIR / "clips"


@pytest.fixture(scope="module")
def silero():
    return taggers.get("silero")()


def test_silero_hears_speech_and_not_animals(silero, clip_factory):
    for name in ("speech_1", "speech_2", "speech_3"):
        assert silero.tag(CLIPS / f"{name}.mp4")["Speech"] > 0.3, name
    for path in (SOUNDS / "dog.mp3", SOUNDS / "cow.mp3", CLIPS / "cat_1.mp4"):
        assert silero.tag(path)["Speech"] < 0.1, path
    assert silero.tag(clip_factory("silent.mp4", silent=True)) == {"Speech": 0.0}


def test_voice_over_check_uses_the_speech_tagger(silero, tmp_path):
    build("conflict", home=tmp_path, progress=False)
    cfg = FilterConfig(speech_tagger="silero", allow_unverifiable=True)  # imagenet cannot see Speech
    decisions = {d.clip.source_ref: d for d in run_filter(cfg, home=tmp_path)}
    assert decisions["clips/speech_1.mp4"].kept  # speech on a Speech clip is the label
    assert decisions["clips/cat_1.mp4"].checks["voice_over"]["tagger"] == "silero"
    # narration over the cat clip: the cat is seen and heard, but speech covers most of the clip
    cat = decisions["clips/cat_1.mp4"]
    d = decide(
        cat.clip, {"Cat": 0.9}, {"Cat": 0.9, "Speech": 0.0}, cfg, speech_scores=silero.tag(CLIPS / "speech_1.mp4")
    )
    assert not d.kept and d.reason.startswith("voice-over") and "silero" in d.reason


@pytest.fixture(scope="module")
def tiny_pyannote(tmp_path_factory):
    os.environ.setdefault("PYANNOTE_METRICS_ENABLED", "false")
    import lightning
    import torch
    from pyannote.audio.core.task import Problem, Resolution, Specifications
    from pyannote.audio.models.segmentation import PyanNet

    torch.manual_seed(0)
    model = PyanNet(
        sincnet={"stride": 10},
        lstm={"hidden_size": 16, "num_layers": 1, "monolithic": True},
        linear={"hidden_size": 16, "num_layers": 1},
    )
    model.specifications = Specifications(
        problem=Problem.MULTI_LABEL_CLASSIFICATION, resolution=Resolution.FRAME, duration=5.0, classes=["speech"]
    )
    model.build()
    ckpt = {
        "state_dict": model.state_dict(),
        "hyper_parameters": dict(model.hparams),
        "pytorch-lightning_version": lightning.__version__,
    }
    model.on_save_checkpoint(ckpt)  # what a Lightning trainer writes for pyannote
    d = tmp_path_factory.mktemp("tiny_pyannote")
    torch.save(ckpt, d / "pytorch_model.bin")
    return d


def test_pyannote_loads_a_file_or_a_directory(tiny_pyannote):
    by_file = taggers.get("pyannote")(checkpoint=str(tiny_pyannote / "pytorch_model.bin"), device="cpu")
    by_dir = taggers.get("pyannote")(checkpoint=str(tiny_pyannote), device="cpu")
    s = by_file.tag(CLIPS / "speech_1.mp4")
    assert set(s) == {"Speech"} and 0 <= s["Speech"] <= 1 and s == by_dir.tag(CLIPS / "speech_1.mp4")
    assert by_file.weights_sha256 == by_dir.weights_sha256
    other = taggers.get("pyannote")(checkpoint=str(tiny_pyannote), device="cpu", min_duration_on=0.5)
    assert other.model_id != by_dir.model_id  # pipeline parameters key the cache


def test_pyannote_tags_are_cached_and_missing_weights_name_the_flag(tiny_pyannote, tmp_path):
    build("conflict", home=tmp_path, progress=False)
    opts = {"pyannote": {"checkpoint": str(tiny_pyannote), "device": "cpu"}}
    assert [r.model_calls for r in tag_clips(["pyannote"], home=tmp_path, progress=False, options=opts)] == [18]
    assert [r.model_calls for r in tag_clips(["pyannote"], home=tmp_path, progress=False, options=opts)] == [0]
    with Manifest(home=tmp_path) as m, m.session() as s:
        from mmabench.db.models import TagRow

        assert {r.modality for r in s.query(TagRow)} == {"speech"}
    with pytest.raises(ImportError, match="--speech-checkpoint"):
        taggers.get("pyannote")()
    with pytest.raises(ImportError, match="cannot load pyannote checkpoint"):
        taggers.get("pyannote")(checkpoint=str(tmp_path / "missing.bin"))
