"""Tagging on a local Ray (actor pools, one model per actor): `filter` and `tag` with --executor ray store the
same tag rows and filter decisions as the local path, on SQLite and PostgreSQL; an actor process SIGKILLed
mid-stage is restarted, its calls re-sent, and the tags have no hole or duplicate."""

import json
import os
import signal

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.config import BuildConfig
from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import ingest
from mmabench.schema import ClipStatus
from mmabench.tagging.ray_tag import RayTagOptions, tag_files_ray

TAGGERS = ["--device", "cpu", "--no-progress"]
CORPUS = BuildConfig(classes=["Cat", "Horse", "Speech"])  # 9 demo clips: seen, heard, unverifiable


def rows(url: str) -> dict[str, list]:
    """Tags (without the timing column) and decisions, JSON normalised across backends."""

    def norm(v):  # JSON text (SQLite) or objects (PostgreSQL); 0/1 (SQLite) or booleans
        v = json.loads(v) if isinstance(v, str) and v[:1] in "[{" else v
        return json.dumps(int(v) if isinstance(v, bool) else v, sort_keys=True)

    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.connect() as c:
        out = {
            "tags": sorted(
                tuple(norm(x) for x in r)
                for r in c.execute(
                    text("SELECT sha256, tagger, model_id, weights_sha256, version, modality, scores FROM tags")
                )
            ),
            "decisions": sorted(
                tuple(norm(x) for x in r)
                for r in c.execute(text("SELECT clip_id, filter_hash, kept, reason, checks FROM decisions"))
            ),
        }
    eng.dispose()
    return out


def cli(*args: str):
    r = CliRunner().invoke(app, list(args))
    assert r.exit_code == 0, r.output
    return r.output


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    home = tmp_path_factory.mktemp("local")
    ingest(CORPUS, home=home, progress=False)
    cli("filter", *TAGGERS, "--home", str(home))
    return rows(f"sqlite:///{home}/manifest.db")


def test_filter_and_tag_on_ray_equal_local(ray_local, local, db_url, tmp_path):
    home = tmp_path / "ws"
    ingest(CORPUS, home=home, db=db_url, progress=False)
    out = cli("filter", "--executor", "ray", "--actors", "2", *TAGGERS, "--home", str(home), "--db", db_url)
    assert "kept" in out
    out = cli("tag", "--executor", "ray", *TAGGERS, "--home", str(home), "--db", db_url)
    assert "imagenet: 0 tagged, 0 model calls" in out and "yamnet: 0 tagged, 0 model calls" in out  # all cached
    got = rows(db_url)
    assert len(got["tags"]) == 18 and len(got["decisions"]) == 9
    assert got == local


class KillingProgress:
    """A progress bar that, at the first finished chunk, SIGKILLs the process of the pool's first actor."""

    def __init__(self, ray, prefix: str):
        self.ray, self.prefix, self.done, self.killed_at = ray, prefix, 0, None

    def add_task(self, *a, total=0, **kw):
        self.total = total
        return 0

    def advance(self, task, n=1):
        self.done += n
        if self.killed_at is None:
            name = next(a for a in self.ray.util.list_named_actors() if a.startswith(self.prefix) and a.endswith("-0"))
            pid = self.ray.get(self.ray.get_actor(name).identity.remote())["pid"]
            os.kill(pid, signal.SIGKILL)
            self.killed_at = self.done


def test_a_killed_tagger_actor_is_restarted_with_no_holes_or_duplicates(ray_local, local, tmp_path):
    ingest(CORPUS, home=tmp_path, progress=False)
    bar = KillingProgress(ray_local, "mmabench-tag-imagenet-")
    opts = RayTagOptions(actors=2, chunk=1, cpus_per_actor=0.5)
    with Manifest(home=tmp_path) as m:
        files = {c.sha256: m.media_root / c.path for c in m.clips(status=ClipStatus.ok)}
        tagger, rep = tag_files_ray(m, "imagenet", {"*": {"device": "cpu"}}, files, opts, bar)
    assert bar.killed_at is not None and bar.killed_at < bar.total == 9  # killed mid-stage
    assert (rep.tagged, rep.failed) == (9, {})
    got = [r for r in rows(f"sqlite:///{tmp_path}/manifest.db")["tags"] if r[1] == '"imagenet"']
    assert got == [r for r in local["tags"] if r[1] == '"imagenet"']  # 9 rows: none lost, none twice


def test_ray_options_are_checked(tmp_path):
    r = CliRunner().invoke(app, ["tag", "--executor", "ray", "--actors", "0", "--home", str(tmp_path)])
    assert r.exit_code == 2 and "--actors must be >= 1" in r.output
    r = CliRunner().invoke(app, ["tag", "--executor", "dask", "--home", str(tmp_path)])
    assert r.exit_code == 2 and "--executor must be 'local' or 'ray'" in r.output
