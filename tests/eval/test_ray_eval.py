"""Evaluation on a local Ray: a local `hf` model (the tiny Qwen2.5-Omni) in an actor and an OpenAI-compatible
peer behind actors give the same run id and predictions as the local path; the cluster-wide rate limit
books one slot per request; an actor SIGKILLed mid-run is restarted and the run has every answer once."""

import json
import os
import shutil
import signal

import pytest
from sqlalchemy import create_engine, text
from typer.testing import CliRunner

from mmabench import cluster
from mmabench.cli import app
from mmabench.eval.ray_eval import RayAdapter
from mmabench.eval.runner import evaluate, make_adapter
from tests.llmpeer import LLMPeer

COLUMNS = "run_id, item_id, fingerprint, response, parsed, parse_status, correct, abstained, sent, error"


def predictions(home) -> list[tuple]:
    eng = create_engine(f"sqlite:///{home}/manifest.db")
    with eng.connect() as c:
        out = sorted(
            tuple(
                json.dumps(json.loads(x), sort_keys=True) if k == 8 and isinstance(x, str) else x
                for k, x in enumerate(r)
            )
            for r in c.execute(text(f"SELECT {COLUMNS} FROM predictions"))
        )
    eng.dispose()
    return out


@pytest.fixture
def two_homes(demo_home, tmp_path):
    other = tmp_path / "ws2"
    shutil.copytree(demo_home, other)
    return demo_home, other


def test_hf_model_in_an_actor_answers_like_the_local_path(ray_local, tiny_omni, two_homes):
    local_home, ray_home = two_homes
    opts = dict(path=str(tiny_omni), frames=4, frame_size=112, max_new_tokens=4)
    a = evaluate(make_adapter("hf", **opts), split="conflict", home=local_home, limit=6)
    ra = RayAdapter("hf", "", opts, actors=1)
    try:
        r = evaluate(ra, split="conflict", home=ray_home, limit=6, dispatch=ra.dispatch)
        again = evaluate(ra, split="conflict", home=ray_home, limit=6, dispatch=ra.dispatch)
    finally:
        ra.close()
    assert (r.run_id, r.called, r.errors) == (a.run_id, 6, 0) and again.called == 0  # resumed, as locally
    assert predictions(ray_home) == predictions(local_home)


def test_api_adapter_on_actors_with_a_cluster_rate_limit(ray_local, two_homes):
    local_home, ray_home = two_homes
    bucket = cluster.token_bucket("mmabench-rate-openai-compat", 40)  # the run's actors find this one by name
    with LLMPeer() as peer:
        common = ["eval", "--model", "openai-compat:omni", "--base-url", peer.url + "/v1", "--limit", "12"]
        common += ["--no-progress", "--concurrency", "2"]
        loc = CliRunner().invoke(app, [*common, "--home", str(local_home)])
        assert loc.exit_code == 0, loc.output
        ray = CliRunner().invoke(
            app, [*common, "--home", str(ray_home), "--executor", "ray", "--actors", "2", "--rate", "40"]
        )
        assert ray.exit_code == 0, ray.output
    assert "12 model calls" in ray.output
    assert predictions(ray_home) == predictions(local_home)
    st = ray_local.get(bucket.stats.remote())
    assert st["granted"] == 12 and st["span"] >= 11 / 40 - 1e-9  # every request took a slot of one bucket


class KillingProgress:
    """At the first answer, SIGKILLs the process of the pool's first actor (the run is still going)."""

    def __init__(self, ray, prefix: str):
        self.ray, self.prefix, self.done, self.killed_at, self.total = ray, prefix, 0, None, 0

    def add_task(self, *a, total=0, completed=0, **kw):
        self.total = total
        return 0

    def advance(self, task, n=1):
        self.done += n
        if self.killed_at is None:
            name = next(a for a in self.ray.util.list_named_actors() if a.startswith(self.prefix) and a.endswith("-0"))
            os.kill(self.ray.get(self.ray.get_actor(name).pid.remote()), signal.SIGKILL)
            self.killed_at = self.done


def test_a_killed_adapter_actor_is_restarted_and_the_run_has_every_answer_once(ray_local, two_homes):
    local_home, ray_home = two_homes
    with LLMPeer(latency=0.05) as peer:
        url = peer.url + "/v1"
        evaluate(make_adapter("openai-compat", "omni", base_url=url), split="conflict", home=local_home, limit=16)
        ra = RayAdapter("openai-compat", "omni", {"base_url": url}, actors=2, concurrency=2, cpus_per_actor=0.5)
        bar = KillingProgress(ray_local, "mmabench-eval-openai-compat-")
        try:
            r = evaluate(ra, split="conflict", home=ray_home, limit=16, dispatch=ra.dispatch, progress=bar)
        finally:
            ra.close()
    assert bar.killed_at is not None and bar.killed_at < bar.total == 16  # killed mid-run
    assert (r.called, r.errors) == (16, 0)
    assert predictions(ray_home) == predictions(local_home)  # 16 rows: none lost, none twice


def test_rate_needs_ray_and_an_unknown_adapter_is_one_line(tmp_path):
    r = CliRunner().invoke(app, ["eval", "--model", "random", "--rate", "2", "--home", str(tmp_path)])
    assert r.exit_code == 2 and "--rate paces requests across a Ray cluster" in r.output
    r = CliRunner().invoke(app, ["eval", "--model", "randon", "--executor", "ray", "--home", str(tmp_path)])
    assert r.exit_code == 2 and "random" in r.output and "Traceback" not in r.output
