"""One rate limit for a whole Ray job: a named actor holds the bucket and every task, on any node, asks it
for a slot. (A limiter shipped inside a task would pace each worker process alone: 2 workers, twice the rate.)

The actor hands out slots, it does not sleep: `reserve` returns how long the caller waits, measured on the
actor's clock and slept by the caller, so no call ever waits behind another and clocks of different nodes
never meet. It is get-or-create by name and rate, and lives while a run holds it, so a second build shares it.
"""

from __future__ import annotations

from mmabench.cluster import paced, token_bucket
from mmabench.ratelimit import RateLimit, Unlimited


class RayRateLimit:
    """`RateLimit` backed by the cluster's named token bucket (`cluster.token_bucket`, the one eval's `--rate`
    uses too); picklable (it carries the actor's handle)."""

    def __init__(self, per_second: float, key: str = "downloads"):
        self.actor = token_bucket(f"mmabench-rate-{key}", per_second)

    def acquire(self) -> None:
        paced(self.actor)()


def ray_rate_limit(per_second: float, key: str = "downloads") -> RateLimit:
    return RayRateLimit(per_second, key) if per_second > 0 else Unlimited()
