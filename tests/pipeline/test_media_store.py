"""A build into a non-default media store (fsspec's in-memory filesystem in-process, a file:// URL through the CLI)
makes the manifest the default build makes (ids, media hashes), verifies, repairs and exports through the store."""

import hashlib
import os
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from mmabench.adapters.base import Adapter, Request, Response
from mmabench.db.manifest import Manifest
from mmabench.db.models import PredictionRow
from mmabench.eval.runner import evaluate
from mmabench.export.hf import export_hf
from mmabench.export.webdataset import export_webdataset
from mmabench.media.store import open_store
from mmabench.pipeline.build import build
from mmabench.pipeline.verify import verify
from mmabench.tagging.runner import cached_scores, load_taggers, tag_files
from tests.manifestdump import dump


@pytest.fixture(scope="module")
def default(tmp_path_factory):
    home = tmp_path_factory.mktemp("default")
    build("conflict", home=home, progress=False)
    return home


def test_memory_store_build_equals_the_default_build(default, tmp_path):
    url = f"memory://{uuid.uuid4().hex}/media"
    home = tmp_path / "ws"
    report = build("conflict", home=home, media_url=url, progress=False)
    assert report.clip_status == {"ok": 18} and not report.render_errors
    assert dump(f"sqlite:///{home}/manifest.db") == dump(f"sqlite:///{default}/manifest.db")
    assert not (home / "media").exists()  # nothing went to the default folder
    assert url.split("//")[1].encode() not in (home / "manifest.db").read_bytes()  # no store URL in the manifest
    store = open_store(url, home / "media-cache")
    keys = sorted(p.split("/media/", 1)[1] for p in store.fs.find(store.root))
    local = sorted(p.relative_to(default / "media").as_posix() for p in (default / "media").rglob("*.mp4"))
    assert keys == local and len(keys) == 18 + 36
    assert store.fs.find(f"{store.root}/.tmp") == []
    assert verify(home=home, media_url=url) == ([], 0)
    assert build("conflict", home=home, media_url=url, progress=False).new_work == 0  # a re-run finds it all

    # a lost and a damaged object: verify names both, --repair re-renders them into the store
    lost, bad = [k for k in keys if k.startswith("variants/")][:2]
    store.fs.rm_file(f"{store.root}/{lost}")
    store.fs.pipe_file(f"{store.root}/{bad}", b"rotten")
    problems, _ = verify(home=home, media_url=url)
    assert sorted(why for _, why in problems) == ["hash differs from the manifest", "missing"]
    assert verify(home=home, media_url=url, repair=True)[1] == 2
    assert verify(home=home, media_url=url) == ([], 0)

    # exports read through the store (cache copies checked against the manifest's hashes)
    wd_mem = export_webdataset(tmp_path / "wd_mem", home=home, media_url=url, split="conflict")
    wd_def = export_webdataset(tmp_path / "wd_def", home=default, split="conflict")
    assert wd_mem == wd_def
    for shard in wd_def["shards"]:
        assert (tmp_path / "wd_mem" / shard).read_bytes() == (tmp_path / "wd_def" / shard).read_bytes()
    rep = export_hf(tmp_path / "rel", home=home, media_url=url)
    assert rep.configs == {"conflict": 72, "full": 72} and rep.media_files == 36
    export_hf(tmp_path / "rel_def", home=default)
    assert _files(tmp_path / "rel" / "media") == _files(tmp_path / "rel_def" / "media")


def _files(d: Path) -> dict[str, str]:
    return {p.relative_to(d).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest() for p in d.rglob("*.mp4")}


def _cli(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "mmabench.cli", *args], env=env, capture_output=True, text=True)


def test_cli_build_verify_export_with_a_file_url(default, tmp_path):
    store_dir = tmp_path / "shared" / "media"
    url = f"file://{store_dir}"
    home = tmp_path / "ws"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    env.pop("MMABENCH_MEDIA_URL", None)
    b = _cli("build", "--split", "conflict", "--home", str(home), "--media-url", url, "--no-progress", env=env)
    assert b.returncode == 0, b.stderr[-2000:]
    assert dump(f"sqlite:///{home}/manifest.db") == dump(f"sqlite:///{default}/manifest.db")
    assert not (home / "media").exists() and len(list(store_dir.rglob("*.mp4"))) == 18 + 36
    v = _cli("verify", "--home", str(home), env=env | {"MMABENCH_MEDIA_URL": url})
    assert v.returncode == 0 and "0 variant file(s) missing or changed" in v.stdout, v.stdout + v.stderr
    wrong = _cli("verify", "--home", str(home), env=env)  # the default store holds none of it
    assert wrong.returncode == 1 and "36 variant file(s) missing" in wrong.stdout
    x = _cli("export", "webdataset", str(tmp_path / "wd"), "--home", str(home), "--media-url", url, env=env)
    assert x.returncode == 0, x.stderr[-2000:]
    tars = sorted((tmp_path / "wd").glob("*.tar"))
    assert tars and hashlib.sha256(b"".join(t.read_bytes() for t in tars)).hexdigest() == _default_shards(
        default, tmp_path
    )


def _default_shards(default: Path, tmp_path: Path) -> str:
    export_webdataset(tmp_path / "wd_default", home=default)
    return hashlib.sha256(b"".join(t.read_bytes() for t in sorted((tmp_path / "wd_default").glob("*.tar")))).hexdigest()


def test_cli_refuses_a_store_whose_backend_is_not_installed(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    r = _cli("build", "--home", str(tmp_path), "--media-url", "gs://bucket/media", "--no-progress", env=env)
    assert r.returncode == 2 and "Traceback" not in r.stderr
    assert "needs the gcsfs package (pip install gcsfs)" in r.stderr and len(r.stderr.strip().splitlines()) == 1


class _HashAdapter(Adapter):
    """Answers with the sha256 of the file it was handed: proves which bytes eval read."""

    name = "hash"

    def generate(self, request: Request) -> Response:
        assert request.media_path is not None
        return Response(text=hashlib.sha256(request.media_path.read_bytes()).hexdigest())


def test_eval_and_tag_read_media_through_the_store(default, tmp_path):
    url = f"memory://{uuid.uuid4().hex}/media"
    home = tmp_path / "ws"
    build("conflict", home=home, media_url=url, progress=False)
    shutil.rmtree(home / "media-cache")  # nothing local: every read goes to the store
    rep = evaluate(_HashAdapter(), split="conflict", home=home, media_url=url, concurrency=2)
    assert rep.errors == 0 and rep.called == 72
    with Manifest(home=home) as m:
        sha = {v.id: v.sha256 for v in m.variants()}
        want = {i.id: sha[i.variant_id] for i in m.items(split="conflict")}
        with m.session() as s:
            got = dict(s.execute(select(PredictionRow.item_id, PredictionRow.response)).all())
        assert got == want
        clips = m.clips()[:3]
        imagenet = load_taggers(["imagenet"], {"imagenet": {"batch_size": 16, "device": "cpu"}})[0]
        store = open_store(url, home / "media-cache")
        tagged = tag_files(m, imagenet, {c.sha256: Path(c.path) for c in clips}, store=store)
        assert (tagged.model_calls, tagged.failed) == (3, {})
        scores = cached_scores(m, imagenet, [c.sha256 for c in clips])
    for c in clips:
        alone = imagenet.tag(default / "media" / c.path)
        assert max(abs(scores[c.sha256][k] - alone[k]) for k in alone) < 1e-3
