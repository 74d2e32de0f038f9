"""Executors call a stage's `run(unit)` in parallel and hand results back as they finish; they never touch
the manifest. The driver commits results in batches (idempotent upserts on derived ids), so where a unit
ran — a thread here or a Ray worker on another node — cannot change the manifest.

- `local`: threads (PyAV and the codecs release the GIL; media work is I/O and native code).
- `ray`: one Ray task per unit over a bounded in-flight window (backpressure: a 2M-unit plan never sits in
  the object store at once). `run` is shipped once with `ray.put`; a task whose worker process dies is
  retried by Ray (`max_retries`), and exceptions stay inside `run` (stages turn them into failed results).
  Media keys travel, never decoded frames; every node must reach the media store (a shared folder at the
  same path, or an object store by URL: `media/store.py`).
"""

from __future__ import annotations

import os
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Iterator, Optional, Protocol, Sequence, TypeVar

from mmabench.cluster import describe, init
from mmabench.logs import get_logger
from mmabench.ratelimit import LocalRateLimit, RateLimit

log = get_logger(__name__)
U = TypeVar("U")
R = TypeVar("R")


class Executor(Protocol):
    name: str
    workers: int

    def imap_unordered(self, fn: Callable[[U], R], units: Sequence[U]) -> Iterator[R]: ...

    def rate_limit(self, per_second: float, key: str = "downloads") -> RateLimit:
        """A limit every unit this executor runs shares (0 = unlimited)."""
        ...


class LocalExecutor:
    """Threads with a bounded in-flight window (memory stays flat on huge plans)."""

    name = "local"

    def __init__(self, workers: int = 2):
        self.workers = max(1, workers)

    def imap_unordered(self, fn: Callable[[U], R], units: Sequence[U]) -> Iterator[R]:
        if self.workers == 1:
            yield from map(fn, units)
            return
        with ThreadPoolExecutor(self.workers) as pool:
            pending: set[Future] = set()
            it = iter(units)
            for u in it:
                pending.add(pool.submit(fn, u))
                if len(pending) >= self.workers * 4:
                    break
            while pending:
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                for f in done:
                    yield f.result()
                    nxt = next(it, None)
                    if nxt is not None:
                        pending.add(pool.submit(fn, nxt))

    def rate_limit(self, per_second: float, key: str = "downloads") -> RateLimit:
        return LocalRateLimit(per_second)  # threads of this process


def _call(fn: Callable[[Any], Any], unit: Any) -> Any:
    return fn(unit)


class RayExecutor:
    """Ray tasks over a bounded window; joins a running cluster (`address`) or starts a local one."""

    name = "ray"

    def __init__(
        self,
        address: Optional[str] = None,
        *,
        num_cpus: Optional[int] = None,
        in_flight: Optional[int] = None,
        max_retries: int = 3,
        cpus_per_task: float = 1.0,
    ):
        self.ray = ray = init(address, num_cpus)
        self.workers = int(ray.cluster_resources().get("CPU", 1))
        self.in_flight = in_flight or 4 * self.workers
        self.task = ray.remote(num_cpus=cpus_per_task, max_retries=max_retries, retry_exceptions=False)(_call)

    def imap_unordered(self, fn: Callable[[U], R], units: Sequence[U]) -> Iterator[R]:
        ray = self.ray
        fn_ref = ray.put(fn)
        it = iter(units)
        pending = []
        for u in it:
            pending.append(self.task.remote(fn_ref, u))
            if len(pending) >= self.in_flight:
                break
        while pending:
            done, pending = ray.wait(pending, num_returns=1)
            yield ray.get(done[0])
            nxt = next(it, None)
            if nxt is not None:
                pending.append(self.task.remote(fn_ref, nxt))

    def rate_limit(self, per_second: float, key: str = "downloads") -> RateLimit:
        from mmabench.pipeline.ratelimit import ray_rate_limit

        return ray_rate_limit(per_second, key)  # one named bucket actor for the whole job

    def cluster(self) -> dict[str, Any]:
        """Nodes, CPUs and GPUs of the cluster this executor runs on (for `doctor`)."""
        return describe(self.ray)


def make_executor(
    name: str = "local", workers: Optional[int] = None, address: Optional[str] = None
) -> LocalExecutor | RayExecutor:
    if name == "local":
        return LocalExecutor(workers or min(4, os.cpu_count() or 1))
    if name == "ray":
        return RayExecutor(address, num_cpus=workers)
    raise ValueError(f"unknown executor {name!r}: use 'local' or 'ray'")
