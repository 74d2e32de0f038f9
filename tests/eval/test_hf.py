"""The `hf` adapter and the attention analysis on a tiny random-init Qwen2.5-Omni thinker built at test
time. Its answers are noise; these tests prove the code path: media in, generation out, attention maps."""

import json

import numpy as np
import pytest

from mmabench.config import BuildConfig
from mmabench.db.readonly import run_readonly
from mmabench.eval.attention import cohens_d, study, write
from mmabench.eval.runner import evaluate, make_adapter
from mmabench.pipeline.build import build


@pytest.fixture(scope="module")
def adapter(tiny_omni):
    return make_adapter("hf", path=str(tiny_omni), frames=4, frame_size=112, max_new_tokens=4, attention=True)


def test_hf_adapter_answers_with_video_and_audio(adapter, demo_home):
    r = evaluate(adapter, split="conflict", home=demo_home, limit=6)
    assert r.errors == 0 and r.called == 6
    rows = run_readonly(
        f"sqlite:///{demo_home}/manifest.db",
        f"SELECT response, sent, parse_status FROM predictions WHERE run_id = '{r.run_id}'",
    )[1]
    for response, sent, status in rows:
        sent = json.loads(sent) if isinstance(sent, str) else sent
        assert response and sent["frames"] == 4 and sent["audio"]["seconds"] > 4 and not sent["audio"]["silent"]
        assert status in ("exact", "contained", "unparsed")
    again = evaluate(adapter, split="conflict", home=demo_home, limit=6)
    assert again.called == 0  # deterministic (greedy) -> resumed


def test_dropped_audio_reaches_the_model_as_no_audio(adapter, tmp_path):
    build("unimodal", BuildConfig(audio_removed_mode="drop"), home=tmp_path, progress=False)
    r = evaluate(adapter, split="unimodal", home=tmp_path)
    sent = run_readonly(
        f"sqlite:///{tmp_path}/manifest.db", f"SELECT condition, sent FROM predictions_flat WHERE run_id = '{r.run_id}'"
    )[1]
    by = {}
    for cond, s in sent:
        by.setdefault(cond, []).append(json.loads(s) if isinstance(s, str) else s)
    assert all(s["audio"] is None for s in by["audio_removed"]) and all(s["audio"] for s in by["frames_zeroed"])


def test_attention_masses_and_cohens_d(adapter, demo_home, tmp_path):
    st = study(adapter, split="conflict", limit=6, home=demo_home)
    layers = {r["layer"] for r in st.rows}
    assert layers == {0, 1}  # the tiny model has 2 decoder layers
    by_item = {}
    for r in st.rows:
        by_item.setdefault((r["item_id"], r["layer"]), {})[r["block"]] = r["mass"]
    for masses in by_item.values():
        assert abs(sum(masses.values()) - 1.0) < 1e-3 and masses["video"] > 0 and masses["audio"] > 0
    assert {s["block"] for s in st.summary} == {"video", "audio", "text"}
    paths = write(st, tmp_path / "att", "tiny random-init model: plumbing only")
    assert paths["png"].read_bytes()[:4] == b"\x89PNG" and json.loads(paths["summary"].read_text())


def test_cohens_d():
    x, y = np.array([2.0, 3.0, 4.0]), np.array([1.0, 2.0, 3.0])
    assert cohens_d(x, y) == pytest.approx(1.0)
    assert cohens_d(y, x) == pytest.approx(-1.0) and np.isnan(cohens_d(x[:1], y))
