"""Re-runs that change the item set (--force-config, --retry-failed adding a class) on SQLite and PostgreSQL:
the config and the items change together, and items that runs answered are marked superseded, never deleted."""

import csv

import pytest

from mmabench.config import BuildConfig, SourceConfig
from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from mmabench.eval.runner import evaluate
from mmabench.pipeline.build import BuildConfigMismatch, build
from tests.mediagen import make_clip


def _current(db_url, home) -> set[str]:
    with Manifest(db_url, home) as m:
        return {i.id for i in m.items("full")}


def _scalar(db_url, sql):
    return run_readonly(db_url, sql)[1][0][0]


def test_force_config_reseed_is_consistent_and_runs_keep_their_items(db_url, tmp_path):
    home = tmp_path / "ws"
    build("conflict", BuildConfig(seed=0), home=home, db=db_url, progress=False)
    build("text", BuildConfig(seed=0), home=home, db=db_url, progress=False)
    seed0 = _current(db_url, home)
    run = evaluate("random", split="conflict", home=home, db=db_url)
    answered = _scalar(db_url, "SELECT count(*) FROM predictions")
    assert answered == 72

    with pytest.raises(BuildConfigMismatch, match="seed: 0 -> 3"):
        build("conflict", BuildConfig(seed=3), home=home, db=db_url, progress=False)
    assert _scalar(db_url, "SELECT seed FROM builds") == 0 and _current(db_url, home) == seed0

    report = build("conflict", BuildConfig(seed=3), home=home, db=db_url, progress=False, force_config=True)
    # the same build made fresh with seed 3 elsewhere: the re-made one must hold exactly its items
    fresh = tmp_path / "fresh"
    build("conflict", BuildConfig(seed=3), home=fresh, progress=False)
    assert _current(db_url, home) == _current(None, fresh)
    assert _scalar(db_url, "SELECT seed FROM builds") == 3
    # text items were made under seed 0: they leave with it (the build now holds conflict items only)
    assert report.removed_items == len(seed0 - _current(None, fresh)) > 0
    assert report.items == {(c, m): 18 for c in ("aligned", "av_swap") for m in ("visual", "audio")}
    # nothing deleted: the run's 72 predictions still join their (now superseded) items
    assert _scalar(db_url, f"SELECT count(*) FROM predictions_flat WHERE run_id = '{run.run_id}'") == 72
    assert _scalar(db_url, "SELECT count(*) FROM items") == len(seed0 | _current(None, fresh))
    assert _scalar(db_url, "SELECT count(*) FROM items_flat WHERE superseded_at IS NULL") == 72

    # and back to seed 0: the old items come back as current, none duplicated
    build("conflict", BuildConfig(seed=0), home=home, db=db_url, progress=False, force_config=True)
    build("text", BuildConfig(seed=0), home=home, db=db_url, progress=False)
    assert _current(db_url, home) == seed0
    again = build("conflict", BuildConfig(seed=0), home=home, db=db_url, progress=False)
    assert again.new_work == 0


def test_retry_failed_that_adds_a_class_supersedes_the_old_items(db_url, tmp_path):
    src = tmp_path / "in"
    for i in range(2):
        make_clip(src / f"dog{i}.mp4", seconds=2, freq=300 + 50 * i)
        make_clip(src / f"cat{i}.mp4", seconds=2, freq=900 + 50 * i)
    (src / "horse0.mp4").write_bytes(b"")  # broken today: the class Horse has no clip yet
    labels = src / "labels.csv"
    with open(labels, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["path", "label"])
        w.writerows([(f"{k}{i}.mp4", k.title()) for k in ("dog", "cat") for i in range(2)] + [("horse0.mp4", "Horse")])
    cfg = BuildConfig(sources=[SourceConfig(name="folder", options={"root": str(src), "labels": str(labels)})])
    home = tmp_path / "ws"
    build("conflict", cfg, home=home, db=db_url, progress=False)
    before = _current(db_url, home)
    assert len(before) == 4 * 2 * 2
    evaluate("random", split="conflict", home=home, db=db_url)

    make_clip(src / "horse0.mp4", seconds=2, freq=600)  # fixed upstream
    report = build("conflict", cfg, home=home, db=db_url, progress=False, retry_failed=True)
    with Manifest(db_url, home) as m:
        items = list(m.items("conflict"))
    assert len(items) == 5 * 2 * 2 and {i.id for i in items}.isdisjoint(before)
    assert all("Horse" in i.options for i in items) and report.removed_items == len(before)
    assert _scalar(db_url, "SELECT count(*) FROM predictions_flat") == 16  # the old run still reads whole
