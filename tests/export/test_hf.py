"""Export the demo build, load it with the real `datasets` (offline), compare with the manifest; round trip."""

import hashlib
import json
import subprocess
import sys
import tarfile

import pytest
import yaml

from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from mmabench.export.hf import export_hf, import_hf
from mmabench.export.llamafactory import export_llamafactory
from mmabench.export.webdataset import export_webdataset


def sha(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def manifest_items(home):
    cols, rows = run_readonly(
        f"sqlite:///{home}/manifest.db",
        "SELECT item_id, condition, prompt_modality, answer, "
        "options, prompt, visual_class, audio_class, media_sha256 FROM items_flat ORDER BY item_id",
    )
    return {r[0]: dict(zip(cols, r)) for r in rows}


@pytest.fixture
def release(demo_home, tmp_path):
    rep = export_hf(tmp_path / "rel", home=demo_home, shard_mb=1)
    return rep


def test_release_loads_with_datasets_and_matches_the_manifest(release, demo_home):
    import datasets

    out = release.out
    assert datasets.get_dataset_config_names(str(out)) == ["conflict", "text", "unimodal", "full"]
    want = manifest_items(demo_home)
    full = datasets.load_dataset(str(out), "full")["test"].cast_column("video", datasets.Video(decode=False))
    assert len(full) == len(want) == release.configs["full"] == 216
    for r in full:
        w = want[r["item_id"]]
        opts = json.loads(w["options"]) if isinstance(w["options"], str) else w["options"]
        assert (
            r["condition"],
            r["prompt_modality"],
            r["answer"],
            r["prompt"],
            r["visual_class"],
            r["audio_class"],
        ) == (w["condition"], w["prompt_modality"], w["answer"], w["prompt"], w["visual_class"], w["audio_class"])
        assert r["options"] == opts and r["media_sha256"] == w["media_sha256"]
    for r in full:  # videofolder layout: datasets resolves each file next to its metadata.parquet
        assert sha(out / "media" / r["video"]["path"].split("/media/", 1)[1]) == r["media_sha256"]
    assert len(list((out / "media").glob("*/metadata.parquet"))) >= 1
    assert all(len(list(d.glob("*.mp4"))) <= 1000 for d in (out / "media").iterdir())
    conflict = datasets.load_dataset(str(out), "conflict")["test"]
    assert set(conflict["condition"]) == {"aligned", "av_swap"} and len(conflict) == 72
    # the card's YAML is what datasets and the Hub read
    front = yaml.safe_load((out / "README.md").read_text().split("---", 2)[1])
    assert [c["config_name"] for c in front["configs"]] == ["conflict", "text", "unimodal", "full"]
    assert {i["config_name"]: i["splits"][0]["num_examples"] for i in front["dataset_info"]} == {
        "conflict": 72,
        "text": 72,
        "unimodal": 72,
        "full": 216,
    }
    assert front["mmabench"]["config_hash"] and "CC BY 4.0" in (out / "README.md").read_text()
    assert run_readonly(f"sqlite:///{out / 'manifest.db'}", "SELECT count(*) FROM items")[1] == [(216,)]


def test_release_loads_in_a_fresh_process(release):
    code = (
        "import datasets, sys; d = datasets.load_dataset(sys.argv[1], 'unimodal'); print(d); "
        "print(d['test'].features['video'])"
    )
    res = subprocess.run(
        [sys.executable, "-c", code, str(release.out)],
        capture_output=True,
        text=True,
        env={"HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "PATH": "/usr/bin:/bin"},
    )
    assert res.returncode == 0, res.stderr
    assert "num_rows: 72" in res.stdout and "Video(decode=" in res.stdout


def test_embedded_media(demo_home, tmp_path):
    import datasets

    rep = export_hf(tmp_path / "emb", home=demo_home, embed_media=True, splits=["conflict"], copy_manifest=False)
    assert not (rep.out / "media").exists() and rep.configs == {"conflict": 72}
    for r in datasets.load_dataset(str(rep.out), "conflict")["test"]:
        assert hashlib.sha256(r["video"]["bytes"]).hexdigest() == r["media_sha256"]


def test_round_trip_export_import(release, demo_home, tmp_path):
    rep = import_hf(str(release.out), home=tmp_path / "imported")
    assert rep.rejected == [] and rep.counts() == {"items": 216, "variants": 108, "clips": 18}
    a, b = manifest_items(demo_home), manifest_items(tmp_path / "imported")
    assert a == b
    with Manifest(home=tmp_path / "imported") as m:
        for v in m.variants():
            assert sha(m.media_root / v.path) == v.sha256
    assert import_hf(str(release.out), home=tmp_path / "imported").counts() == rep.counts()  # idempotent


def test_export_refuses_a_non_empty_folder(demo_home, tmp_path):
    (tmp_path / "x").mkdir()
    (tmp_path / "x" / "keep.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        export_hf(tmp_path / "x", home=demo_home)
    assert (tmp_path / "x" / "keep.txt").read_text() == "mine"


def test_llamafactory_files_follow_the_sharegpt_schema(demo_home, tmp_path):
    # the demo is a test build: exporting it for tuning must be asked for (train builds: tests/pipeline/test_pools.py)
    rep = export_llamafactory(tmp_path / "lf", home=demo_home, split="full", allow_test_items=True)
    info = json.loads((tmp_path / "lf" / "dataset_info.json").read_text())["mmabench"]
    assert info["formatting"] == "sharegpt" and info["columns"] == {
        "messages": "messages",
        "videos": "videos",
        "audios": "audios",
    }
    data = json.loads((tmp_path / "lf" / info["file_name"]).read_text())
    assert len(data) == rep["records"] == 18 * 3 * 2
    for rec in data:
        roles = [m["role"] for m in rec["messages"]]
        assert roles == [info["tags"]["user_tag"], info["tags"]["assistant_tag"]]
        user = rec["messages"][0]["content"]
        assert user.count("<video>") == len(rec["videos"]) == 1 and user.count("<audio>") == len(rec["audios"]) == 1
        assert all((tmp_path / "lf" / p).is_file() for p in rec["videos"] + rec["audios"])
        target = rec["messages"][1]["content"]
        if rec["mmabench"]["condition"] == "frames_zeroed" and rec["mmabench"]["prompt_modality"] == "visual":
            assert target == "None of the above"
        else:
            assert target in user and target != "None of the above"


def test_webdataset_shards(demo_home, tmp_path):
    rep = export_webdataset(tmp_path / "wds", home=demo_home, max_samples=40)
    assert rep["samples"] == 108 and len(rep["shards"]) == 3
    names = []
    for shard in rep["shards"]:
        with tarfile.open(tmp_path / "wds" / shard) as t:
            names += t.getnames()
            for m in t.getmembers():
                if m.name.endswith(".json"):
                    meta = json.loads(t.extractfile(m).read())
                    assert len(meta["items"]) == 2
                    video = t.extractfile(m.name.replace(".json", ".mp4")).read()
                    assert hashlib.sha256(video).hexdigest() == meta["media_sha256"]
    assert len(names) == 2 * 108
    again = export_webdataset(tmp_path / "wds2", home=demo_home, max_samples=40)
    assert sha(tmp_path / "wds" / rep["shards"][0]) == sha(tmp_path / "wds2" / again["shards"][0])
