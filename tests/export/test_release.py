"""What a release holds and how its users open it: only the released build's rows, no local paths, a
read-only-safe manifest.db with Datasette's canned queries, and media that `datasets` resolves after the
folder is moved, opened from another working directory and decoded with PyAV."""

import hashlib
import json
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mmabench.config import BuildConfig
from mmabench.eval.runner import evaluate
from mmabench.export.card import RELEASE
from mmabench.export.hf import export_hf
from mmabench.pipeline.build import build

OFFLINE = {"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}


def make_read_only(folder: Path) -> None:
    for p in [folder, *folder.rglob("*")]:
        p.chmod(p.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))


def strings(value) -> list[str]:
    if isinstance(value, dict):
        return [s for v in value.values() for s in strings(v)]
    if isinstance(value, list):
        return [s for v in value for s in strings(v)]
    return [value] if isinstance(value, str) else []


@pytest.fixture
def two_builds(demo_home):
    """The demo build with a run, a second build beside it, and a local absolute path in the build config."""
    build("conflict", BuildConfig(name="other", seed=7), home=demo_home, progress=False)
    evaluate("random", split="conflict", home=demo_home, limit=10)
    con = sqlite3.connect(demo_home / "manifest.db")
    cfg = json.loads(con.execute("SELECT config FROM builds WHERE name = 'default'").fetchone()[0])
    cfg["sources"].append({"name": "folder", "options": {"root": str(demo_home / "clips_src"), "labels": "/x/l.csv"}})
    con.execute("UPDATE builds SET config = ? WHERE name = 'default'", (json.dumps(cfg),))
    con.commit()
    con.close()
    return demo_home


def test_release_holds_only_the_released_build(two_builds, tmp_path):
    home = two_builds
    rep = export_hf(tmp_path / "rel", home=home)
    db = sqlite3.connect(f"file:{rep.out / 'manifest.db'}?mode=ro", uri=True)
    assert db.execute("SELECT name FROM builds").fetchall() == [("default",)]
    assert db.execute("SELECT DISTINCT build FROM items").fetchall() == [("default",)]
    assert (
        db.execute("SELECT count(*) FROM runs").fetchone() == db.execute("SELECT count(*) FROM predictions").fetchone()
    )
    assert db.execute("SELECT count(*) FROM runs").fetchone() == (0,)
    ws = sqlite3.connect(home / "manifest.db")
    assert (
        ws.execute("SELECT count(*) FROM variants").fetchone()[0]
        > db.execute("SELECT count(*) FROM variants").fetchone()[0]
    )
    # items_flat.media_path names a file in the release, with the recorded content
    for path, sha in db.execute("SELECT DISTINCT media_path, media_sha256 FROM items_flat"):
        assert hashlib.sha256((rep.out / path).read_bytes()).hexdigest() == sha
    with_runs = export_hf(tmp_path / "rel2", home=home, include_runs=True)
    db2 = sqlite3.connect(f"file:{with_runs.out / 'manifest.db'}?mode=ro", uri=True)
    assert db2.execute("SELECT count(*) FROM predictions").fetchone() == (10,)


def test_no_local_absolute_path_anywhere_in_a_release(two_builds, tmp_path):
    home = two_builds
    rep = export_hf(tmp_path / "rel", home=home, include_runs=True)
    local = [str(home), str(tmp_path), "/x/l.csv"]
    for p in rep.out.rglob("*"):
        if p.suffix in (".md", ".db", ".json"):
            assert not any(s.encode() in p.read_bytes() for s in local), p
        if p.suffix == ".parquet":  # compressed: check the values
            assert not any(s in v for row in pq.read_table(p).to_pylist() for v in strings(row) for s in local)
    db = sqlite3.connect(f"file:{rep.out / 'manifest.db'}?mode=ro", uri=True)
    cfg = json.loads(db.execute("SELECT config FROM builds").fetchone()[0])
    assert cfg["sources"][-1]["options"] == {"root": "clips_src", "labels": "l.csv"}
    assert db.execute("SELECT count(*) FROM clips WHERE path IS NOT NULL").fetchone() == (0,)


def test_manifest_db_opens_read_only_and_runs_every_canned_query(demo_home, tmp_path):
    rep = export_hf(tmp_path / "rel", home=demo_home, splits=["conflict"])
    ro = tmp_path / "ro"
    shutil.copytree(rep.out, ro)
    make_read_only(ro)
    assert not (ro / "manifest.db-wal").exists()
    con = sqlite3.connect(f"file:{ro / 'manifest.db'}?mode=ro", uri=True)
    assert con.execute("PRAGMA journal_mode").fetchone() == ("delete",)
    assert con.execute("SELECT count(*) FROM items").fetchone() == (72,)
    meta = json.loads((ro / "metadata.json").read_text())
    queries = meta["databases"]["manifest"]["queries"]
    shipped = sorted(p.stem for p in (Path(__file__).parents[2] / "mmabench" / "db" / "queries").glob("*.sql"))
    assert sorted(queries) == shipped and all(set(q) == {"title", "description", "sql"} for q in queries.values())
    counts = {name: len(con.execute(q["sql"]).fetchall()) for name, q in queries.items()}
    assert counts["items_per_class_condition"] == 6 * 2 * 2 and counts["misaligned_pairs"] == 18
    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        con.execute("DELETE FROM items")


def test_moved_release_loads_from_anywhere_and_video_decodes(demo_home, tmp_path):
    """Loaded once where it was made (so `datasets` has cached its paths), moved under the same folder name,
    made read-only, loaded from another directory with the card's download_mode: paths under the new place."""
    rep = export_hf(tmp_path / "made" / "rel", home=demo_home, splits=["conflict", "full"], copy_manifest=False)
    moved = tmp_path / "elsewhere" / "rel"
    moved.parent.mkdir()
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    code = (
        "import sys, av, datasets\n"
        "ds = datasets.load_dataset(sys.argv[1], 'conflict', split='test', download_mode='force_redownload')\n"
        "ds = ds.cast_column('video', datasets.Video(decode=False))\n"
        "r = ds[0]\n"
        "with av.open(r['video']['path']) as f:\n"
        "    fr = next(f.decode(video=0)).to_ndarray(format='rgb24')\n"
        "print(len(ds), fr.shape, r['video']['path'])\n"
    )
    env = {**os.environ, **OFFLINE, "HF_DATASETS_CACHE": str(tmp_path / "hfcache")}
    first = subprocess.run([sys.executable, "-c", code, str(rep.out)], cwd=cwd, capture_output=True, text=True, env=env)
    assert first.returncode == 0 and str(rep.out / "media") in first.stdout, first.stderr[-2000:]
    shutil.move(str(rep.out), moved)
    shutil.rmtree(tmp_path / "made")
    make_read_only(moved)
    res = subprocess.run([sys.executable, "-c", code, str(moved)], cwd=cwd, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr[-2000:]
    n, shape, path = res.stdout.split(" ", 1)[0], res.stdout.split("(", 1)[1].split(")")[0], res.stdout.split()[-1]
    assert n == "72" and shape.endswith("3") and path.startswith(str(moved / "media"))


@pytest.mark.parametrize("embed", [False, True])
def test_the_cards_snippet_runs_from_another_directory(demo_home, tmp_path, embed):
    rep = export_hf(tmp_path / "rel", home=demo_home, splits=["conflict"], embed_media=embed, copy_manifest=False)
    card = (rep.out / "README.md").read_text()
    code = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert RELEASE in code
    cwd = tmp_path / "cwd"
    cwd.mkdir()
    res = subprocess.run(
        [sys.executable, "-c", code.replace(RELEASE, str(rep.out))],
        cwd=cwd,
        capture_output=True,
        text=True,
        env={**os.environ, **OFFLINE, "HF_DATASETS_CACHE": str(tmp_path / "hfcache")},
    )
    assert res.returncode == 0, res.stderr[-2000:]
    assert "(504, 504, 3)" in res.stdout or res.stdout.rstrip().endswith(", 3)")
