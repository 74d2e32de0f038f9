"""Ray helpers: an actor pool whose actor process is SIGKILLed mid-stage restarts it and re-sends its calls
(every result once, none lost), with backpressure; the token bucket's slots; a remote error in one line."""

import os
import signal
from pathlib import Path

import pytest

from mmabench import cluster
from mmabench.cluster import ActorPool, TokenBucket, chunks, root_cause


class Squarer:
    """Holds 'a model' (its start count); dies once, mid-stage, on the chunk holding 7."""

    def __init__(self, marker_dir: str):
        self.marker_dir = marker_dir
        starts = Path(marker_dir) / f"starts.{os.getpid()}"
        starts.touch()

    def run(self, chunk: list[int]) -> list[tuple[int, int]]:
        marker = Path(self.marker_dir) / "died"
        if 7 in chunk and not marker.exists():
            marker.touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return [(u, u * u) for u in chunk]

    def boom(self, _):
        raise ValueError("weights file truncated")


def test_a_killed_actor_is_restarted_and_its_calls_resent(ray_local, tmp_path):
    pool = ActorPool(Squarer, (str(tmp_path),), actors=2, num_cpus=0.5, in_flight=2, name="squarer")
    try:
        out = [r for res in pool.map_unordered("run", chunks(list(range(40)), 3)) for r in res]
    finally:
        pool.close()
    assert sorted(out) == [(u, u * u) for u in range(40)]  # no hole, no duplicate
    assert (tmp_path / "died").exists()
    assert len(list(tmp_path.glob("starts.*"))) == 3  # two actors, one restarted after the kill


def test_a_remote_error_is_one_line(ray_local, tmp_path):
    pool = ActorPool(Squarer, (str(tmp_path),), actors=1, num_cpus=0.5)
    try:
        with pytest.raises(RuntimeError) as e:
            list(pool.map_unordered("boom", [1]))
    finally:
        pool.close()
    assert str(e.value) == "a Ray actor failed: weights file truncated"


def test_the_bucket_is_one_actor_shared_by_name(ray_local):
    a = cluster.token_bucket("t", 50.0)
    b = cluster.token_bucket("t", 50.0)
    wait = cluster.paced(b)
    for _ in range(5):
        wait()
    st = ray_local.get(a.stats.remote())
    assert st["granted"] == 5 and st["span"] >= 4 / 50.0 - 1e-9
    assert cluster.token_bucket("t", 0) is None


def test_token_bucket_slots(monkeypatch):
    now = [100.0]
    monkeypatch.setattr(cluster.time, "monotonic", lambda: now[0])
    b = TokenBucket(rate=4.0, burst=2)
    assert [b.reserve() for _ in range(4)] == [0.0, 0.0, 0.25, 0.5]  # a burst of 2, then one per 0.25 s
    now[0] += 10.0  # idle: the burst is available again, never more
    assert [b.reserve() for _ in range(3)] == [0.0, 0.0, 0.25]
    assert b.stats()["granted"] == 7


def test_root_cause_keeps_the_remote_line():
    e = RuntimeError("The actor died\n  File \"x.py\", line 1\nmmabench.registry.RegistryError: unknown tagger 'x'")
    assert root_cause(e) == "unknown tagger 'x'"
    assert root_cause(RuntimeError("plain words: kept")) == "plain words: kept"
