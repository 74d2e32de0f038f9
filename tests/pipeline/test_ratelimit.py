"""One download rate for a whole run, seen from the server: with the local executor (threads) and on a Ray
started by the test with 2 workers, each download's first request arrives at least 1/rate after the one
before (a limiter per worker would let the two workers start together), and N downloads span (N-1)/rate."""

import pytest
import ray  # noqa: E402  (the ray extra is part of the test install)

from mmabench.config import BuildConfig, SourceConfig
from mmabench.pipeline.build import ingest
from mmabench.pipeline.executors import RayExecutor
from mmabench.pipeline.ratelimit import RayRateLimit
from tests.httpfaults import FaultServer
from tests.mediagen import make_clip

N, RATE = 4, 0.5  # 4 downloads at 0.5/s: 6 s first to last at least, gaps of 2 s. The time from a slot to
# its request (yt-dlp setup, connect) wanders by up to ~0.8 s at load 16 on 2 cores, hence the wide margins


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("srv")
    for i in range(N):
        make_clip(root / f"clip{i}.mp4", seconds=3, freq=300 + 40 * i)
    return root


def _ingest(served, home, executor: str, workers: int) -> list[float]:
    (home / "list.csv").parent.mkdir(parents=True, exist_ok=True)
    (home / "list.csv").write_text("ytid,start,end,label\n" + "".join(f"clip{i},0,2,Dog\n" for i in range(N)))
    with FaultServer(served) as srv:
        src = SourceConfig(
            name="list",
            options={"path": str(home / "list.csv"), "url_template": srv.url_template},
            runtime={"download": {"rate": RATE, "retries": 0, "timeout": 10, "exact_cuts": False}},
        )
        rep = ingest(BuildConfig(sources=[src]), home=home, workers=workers, progress=False, executor=executor)
    assert rep.clip_status == {"ok": N}
    return srv.first_requests()


def _assert_paced(starts: list[float]) -> None:
    gaps = [b - a for a, b in zip(starts, starts[1:])]
    assert len(starts) == N
    assert starts[-1] - starts[0] >= (N - 1) / RATE - 1.0, starts  # 6 s ideal; a limit per worker: ~2 s
    assert min(gaps) >= 0.5 / RATE, gaps  # half the interval: two workers starting together fail this


def test_local_threads_share_the_rate(served, tmp_path):
    _assert_paced(_ingest(served, tmp_path / "ws", "local", workers=4))


@pytest.fixture(scope="module")
def ray_cluster():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield
    ray.shutdown()


def _warm(_unit: int) -> int:
    import time

    import yt_dlp  # noqa: F401  (both workers up and importing before the timed run)

    time.sleep(0.5)
    return 0


def test_ray_workers_share_one_bucket(ray_cluster, served, tmp_path):
    ex = RayExecutor()
    assert ex.workers == 2 and list(ex.imap_unordered(_warm, [0, 1])) == [0, 0]
    _assert_paced(_ingest(served, tmp_path / "ws", "ray", workers=None))
    # the bucket is one named actor of this job: a second handle draws from the same slots
    a, b = RayRateLimit(1.0, key="probe"), RayRateLimit(1.0, key="probe")
    assert ray.get(a.actor.reserve.remote()) == 0.0 and ray.get(b.actor.reserve.remote()) > 0.5
