"""Split.train: tuning items from a pool disjoint from every test build; the guard refuses overlaps both ways,
at build time and at export; exports write / honour the train split."""

import csv
import json
import shutil

import pytest

from mmabench.config import BuildConfig, SourceConfig
from mmabench.db.manifest import Manifest
from mmabench.export.hf import export_hf
from mmabench.export.llamafactory import export_llamafactory
from mmabench.pipeline.build import build
from mmabench.pipeline.pools import PoolOverlap, youtube_id
from mmabench.sources.demo import DEMO_DIR
from tests.mediagen import make_clip


def folder_pool(root, extra=(), shift=0):
    """Four new clips (Dog, Cat; tone shifted by `shift` Hz: new content), plus `extra` (file, label) rows
    copied in from elsewhere."""
    root.mkdir(parents=True, exist_ok=True)
    rows = []
    for i, (lab, freq) in enumerate([("Dog", 300), ("Dog", 350), ("Cat", 900), ("Cat", 950)]):
        # names differ per pool: a folder clip's identity is its path relative to the folder
        make_clip(root / f"{root.name}{i}.mp4", seconds=2, freq=freq + shift)
        rows.append((f"{root.name}{i}.mp4", lab))
    for src, lab in extra:
        shutil.copy(src, root / f"copy_{src.name}")
        rows.append((f"copy_{src.name}", lab))
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label"), *rows])
    return SourceConfig(name="folder", options={"root": str(root), "labels": str(labels)})


def test_train_build_from_a_disjoint_pool_is_recorded_and_exported(db_url, tmp_path):
    home = tmp_path / "ws"
    build("conflict", home=home, db=db_url, progress=False)  # the test build: the demo corpus
    pool = folder_pool(tmp_path / "train")
    rep = build("train", BuildConfig(name="tune", sources=[pool]), home=home, db=db_url, progress=False)
    assert rep.items == {(c, m): 4 for c in ("aligned", "av_swap", "frames_zeroed") for m in ("visual", "audio")}
    with Manifest(db_url, home) as m:
        row = m.build_row("tune")
        assert row.config["train"] is True and row.config["pool"] == [f"folder:{tmp_path / 'train' / 'labels.csv'}"]
        assert m.build_row("default").config["train"] is False and m.build_row("default").config["pool"] == ["demo"]
        train = list(m.items("train", build="tune"))
        assert len(train) == 24 and {i.split.value for i in train} == {"train"}
        assert list(m.items("full", build="tune")) == [] and list(m.items("train", build="default")) == []
    # one name is a test build or a train build, never both
    with pytest.raises(Exception, match="train: True -> False"):
        build("conflict", BuildConfig(name="tune", sources=[pool]), home=home, db=db_url, progress=False)

    hf = export_hf(tmp_path / "rel", build="tune", home=home, db=db_url)
    assert hf.configs == {"train": 24}
    import datasets

    ds = datasets.load_dataset(str(tmp_path / "rel"), "train", split="train", cache_dir=str(tmp_path / "hfc"))
    assert len(ds) == 24 and set(ds["condition"]) == {"aligned", "av_swap", "frames_zeroed"}
    assert "split: train" in (tmp_path / "rel" / "README.md").read_text()
    with pytest.raises(LookupError, match="'default' is a test build: its configs are conflict"):
        export_hf(tmp_path / "rel2", build="default", splits=["train"], home=home, db=db_url)

    lf = export_llamafactory(tmp_path / "lf", build="tune", home=home, db=db_url)
    assert lf["records"] == 24
    recs = json.loads((tmp_path / "lf" / "mmabench.json").read_text())
    assert {r["mmabench"]["condition"] for r in recs} == {"aligned", "av_swap", "frames_zeroed"}
    with pytest.raises(LookupError, match="test build.*--allow-test-items"):
        export_llamafactory(tmp_path / "lf2", build="default", home=home, db=db_url)
    with pytest.raises(LookupError, match="choose --split conflict"):
        export_llamafactory(tmp_path / "lf3", build="default", allow_test_items=True, home=home, db=db_url)
    ok = export_llamafactory(
        tmp_path / "lf4", build="default", split="conflict", allow_test_items=True, home=home, db=db_url
    )
    assert ok["records"] == 72


def test_overlapping_pools_are_refused_both_ways(db_url, tmp_path):
    home = tmp_path / "ws"
    build("conflict", home=home, db=db_url, progress=False)
    # a train pool holding a renamed copy of a demo clip: same content, other name and source
    leaky = folder_pool(tmp_path / "leaky", extra=[(DEMO_DIR / "clips" / "cat_2.mp4", "Cat")])
    with pytest.raises(PoolOverlap) as e:
        build("train", BuildConfig(name="tune", sources=[leaky]), home=home, db=db_url, progress=False)
    msg = str(e.value)
    assert "\n" not in msg and "train build 'tune' shares 1 source(s) with test build 'default'" in msg
    assert "copy_cat_2.mp4" in msg
    with Manifest(db_url, home) as m:
        assert m.build_row("tune") is None and list(m.items("train", build="tune")) == []  # nothing left behind

    # vice versa: a clean train build first, then a test build that reuses one of its clips
    clean = folder_pool(tmp_path / "clean")
    build("train", BuildConfig(name="tune", sources=[clean]), home=home, db=db_url, progress=False)
    reuse = folder_pool(tmp_path / "reuse", extra=[(tmp_path / "clean" / "clean0.mp4", "Dog")], shift=20)
    with pytest.raises(PoolOverlap, match="test build 'eval2' shares .* with train build 'tune'"):
        build("conflict", BuildConfig(name="eval2", sources=[reuse]), home=home, db=db_url, progress=False)
    # without the reused clip the same new test build goes in beside both
    fresh = folder_pool(tmp_path / "fresh", shift=20)
    build("conflict", BuildConfig(name="eval2", sources=[fresh]), home=home, db=db_url, progress=False)
    assert export_llamafactory(tmp_path / "lf", build="tune", home=home, db=db_url)["records"] == 24


def test_youtube_ids_from_refs_and_urls():
    assert youtube_id("abc123XYZ_-") == "abc123XYZ_-"
    assert youtube_id("https://www.youtube.com/watch?v=abc123XYZ_-&t=30") == "abc123XYZ_-"
    assert youtube_id("https://youtu.be/abc123XYZ_-") == "abc123XYZ_-"
