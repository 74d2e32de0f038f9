"""One rate limit for a whole Ray job: a named actor holds the bucket and every task, on any node, asks it
for a slot. (A limiter shipped inside a task would pace each worker process alone: 2 workers, twice the rate.)

The actor hands out slots, it does not sleep: `reserve` returns how long the caller waits, measured on the
actor's clock and slept by the caller, so no call ever waits behind another and clocks of different nodes
never meet. It is get-or-create by name in the job's namespace and non-detached, so it lives as long as the
driver that made it (the job) and a second build in the same job shares it.
"""

from __future__ import annotations

import time
from typing import Any, cast

from mmabench.ratelimit import LocalRateLimit, RateLimit, Unlimited


class _Bucket:
    def __init__(self, per_second: float):
        self.limit = LocalRateLimit(per_second)

    def set_rate(self, per_second: float) -> None:
        if self.limit.interval != (1.0 / per_second if per_second > 0 else 0.0):
            self.limit = LocalRateLimit(per_second)

    def reserve(self) -> float:
        return self.limit.reserve()


class RayRateLimit:
    """`RateLimit` backed by the job's named bucket actor; picklable (it carries the actor's handle)."""

    def __init__(self, per_second: float, key: str = "downloads"):
        import ray

        bucket = ray.remote(num_cpus=0, max_restarts=3, max_task_retries=3)(_Bucket)
        opts = bucket.options(name=f"mmabench-rate-{key}", get_if_exists=True, lifetime="non_detached")
        self.actor = cast(Any, opts.remote(per_second))  # ray's stubs do not see the actor's methods
        ray.get(self.actor.set_rate.remote(per_second))  # an existing bucket takes this run's rate

    def acquire(self) -> None:
        import ray

        delay = ray.get(self.actor.reserve.remote())
        if delay > 0:
            time.sleep(delay)


def ray_rate_limit(per_second: float, key: str = "downloads") -> RateLimit:
    return RayRateLimit(per_second, key) if per_second > 0 else Unlimited()
