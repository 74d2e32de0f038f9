"""Ray helpers every room may use (build stages, taggers, evaluation): join or start a cluster, stream chunks
of work through a pool of actors with backpressure, and a cluster-wide token bucket. `import ray` stays
inside the functions: Ray is an extra (`mmabench[ray]`).

Actor pools are for work that holds state worth loading once (a model); each actor gets `num_gpus` (Ray
sets CUDA_VISIBLE_DEVICES for it) and is restarted by Ray when its process dies, and the calls that were in
flight on it are re-sent (`max_task_retries`), so a killed actor costs time, never a result. Results are
committed by the caller as upserts on derived ids, so a re-sent call cannot create a duplicate row.
"""

from __future__ import annotations

import os
import time
from typing import Any, Callable, Iterable, Iterator, Optional, Sequence, TypeVar

T = TypeVar("T")


def forwarded_env() -> dict[str, str]:
    """The variables that change what a worker does (media decode threads, cache, tool paths); never secrets."""
    keep = ("MMABENCH_", "PYTHONPATH", "HF_HOME", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")
    return {k: v for k, v in os.environ.items() if k.startswith(keep) and "TOKEN" not in k and "KEY" not in k}


def ray_module():
    try:
        import ray
    except ImportError as e:
        raise ImportError("--executor ray needs Ray: pip install 'mmabench[ray]'") from e
    return ray


def init(address: Optional[str] = None, num_cpus: Optional[int] = None):
    """Join the cluster at `address` (auto, ray://…, or RAY_ADDRESS) or start a local Ray; returns the module.
    A session the caller already opened (a test's `ray.init(num_cpus=2)`) is reused as it is."""
    ray = ray_module()
    if not ray.is_initialized():
        address = address or os.environ.get("RAY_ADDRESS") or None
        ray.init(
            address=address,
            num_cpus=None if address else num_cpus,  # a running cluster sizes itself
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            # workers import mmabench from the driver's environment (same venv or image on every node)
            runtime_env={"env_vars": forwarded_env()},
        )
    return ray


def describe(ray) -> dict[str, Any]:
    nodes = [n for n in ray.nodes() if n.get("Alive")]
    res = ray.cluster_resources()
    return {"nodes": len(nodes), "cpus": res.get("CPU", 0), "gpus": res.get("GPU", 0)}


def chunks(items: Sequence[T], size: int) -> list[list[T]]:
    size = max(1, size)
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class ActorPool:
    """`actors` copies of `cls(*args)`, each with `num_gpus` GPUs and `num_cpus` CPUs, restarted when their
    process dies. `map_unordered(method, chunks)` keeps at most `in_flight` calls queued per actor (so a
    2-M-item plan never sits in the object store) and yields results as they finish."""

    def __init__(
        self,
        cls: type,
        args: tuple = (),
        *,
        actors: int = 1,
        num_gpus: float = 0.0,
        num_cpus: float = 1.0,
        max_concurrency: int = 1,
        in_flight: int = 2,
        name: Optional[str] = None,
        max_restarts: int = 3,
    ):
        ray = self.ray = ray_module()
        remote = ray.remote(
            num_gpus=num_gpus,
            num_cpus=num_cpus,
            max_restarts=max_restarts,
            max_task_retries=max_restarts,
            max_concurrency=max_concurrency,
        )(cls)
        # named so that an operator (or a test) can find and kill one: `ray.get_actor(f"{name}-0")`
        self.actors = [
            remote.options(name=f"{name}-{i}" if name else None).remote(*args) for i in range(max(1, actors))
        ]
        self.in_flight = max(1, in_flight)

    def call_all(self, method: str, *args) -> list:
        """The same call on every actor (waits for all: e.g. the model identity once they have loaded)."""
        return self._get([getattr(a, method).remote(*args) for a in self.actors])

    def _get(self, refs):
        try:
            return self.ray.get(refs)
        except self.ray.exceptions.RayError as e:  # e.g. a model that cannot load: one line, not a remote trace
            raise RuntimeError(f"a Ray actor failed: {root_cause(e)}") from None

    def map_unordered(self, method: str, work: Iterable[Any]) -> Iterator[Any]:
        ray = self.ray
        it = iter(work)
        load = {i: 0 for i in range(len(self.actors))}
        owner: dict = {}

        def submit() -> bool:
            i = min(load, key=load.__getitem__)
            if load[i] >= self.in_flight:
                return False
            nxt = next(it, _END)
            if nxt is _END:
                return False
            ref = getattr(self.actors[i], method).remote(nxt)
            owner[ref], load[i] = i, load[i] + 1
            return True

        while submit():
            pass
        while owner:
            done, _ = ray.wait(list(owner), num_returns=1)
            load[owner.pop(done[0])] -= 1
            yield self._get(done[0])
            while submit():
                pass

    def close(self) -> None:
        for a in self.actors:
            self.ray.kill(a, no_restart=True)


_END = object()


def root_cause(e: BaseException) -> str:
    """The remote exception's own line (Ray's message carries the whole remote traceback)."""
    lines = [ln.strip() for ln in str(e).splitlines() if ln.strip()]
    last = lines[-1] if lines else type(e).__name__
    head, sep, rest = last.partition(": ")
    is_type = sep and " " not in head and head.rsplit(".", 1)[-1][:1].isupper()  # "pkg.mod.SomeError: why"
    return rest if is_type else last


class TokenBucket:
    """Cluster-wide rate limit, run as one named Ray actor: `reserve()` books the next free slot and returns
    how long the caller must sleep before using it (`rate` per second, `burst` at once)."""

    def __init__(self, rate: float, burst: int = 1):
        self.interval, self.burst = 1.0 / rate, max(1, burst)
        self.next_free = time.monotonic() - self.burst * self.interval
        self.granted, self.first, self.last = 0, 0.0, 0.0  # what `stats` reports

    def reserve(self) -> float:
        now = time.monotonic()
        self.next_free = max(self.next_free + self.interval, now - (self.burst - 1) * self.interval)
        self.first = self.first if self.granted else self.next_free
        self.last, self.granted = self.next_free, self.granted + 1
        return max(0.0, self.next_free - now)

    def stats(self) -> dict[str, float]:
        """Slots granted and the seconds from the first to the last (>= (granted - burst) / rate)."""
        return {"granted": self.granted, "span": self.last - self.first}


def token_bucket(name: str, rate: float, burst: int = 1):
    """The named bucket actor (created once per cluster and name, shared by every worker); None for no limit."""
    if rate <= 0:
        return None
    ray = ray_module()
    return (
        ray.remote(num_cpus=0)(TokenBucket)
        # one per name and rate while anyone holds it (a run's actors do): other drivers find it by name
        .options(name=f"{name}-{rate:g}-{burst}", namespace="mmabench", get_if_exists=True)
        .remote(rate, burst)
    )


def paced(bucket) -> Callable[[], None]:
    """A function that blocks until the bucket grants a slot (a no-op without a bucket). Used inside actors."""
    if bucket is None:
        return lambda: None
    ray = ray_module()

    def wait() -> None:
        delay = ray.get(bucket.reserve.remote())
        if delay > 0:
            time.sleep(delay)

    return wait
