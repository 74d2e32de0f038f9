"""Rate limits shared by whoever holds one: the interface that download code calls, and the in-process
limiter behind it. It sits on the lowest floor so that sources (and adapters) can pace their requests
without knowing where they run; `pipeline/ratelimit.py` gives the same interface across a Ray cluster.

The limit is a token bucket holding one token: starts are spaced at least 1/rate apart, so N requests
take at least (N-1)/rate seconds however many threads or workers ask (a larger bucket would allow bursts,
which is what a remote rate limiter punishes).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol


class RateLimit(Protocol):
    def acquire(self) -> None:
        """Block until the caller may start one request."""
        ...


class Unlimited:
    def acquire(self) -> None:
        return None


class LocalRateLimit:
    """At most `per_second` starts per second across the threads of this process (0 = unlimited).

    Each caller reserves the next free slot under a lock and sleeps outside it, so waiting threads never
    hold the lock. Pickled (shipped to another process), it paces that process alone: a limit meant for a
    cluster is `pipeline.ratelimit.RayRateLimit`."""

    def __init__(self, per_second: float = 0.0):
        self.interval = 1.0 / per_second if per_second > 0 else 0.0
        self._next = 0.0
        self._lock = threading.Lock()

    def __getstate__(self) -> dict:
        return {"interval": self.interval}

    def __setstate__(self, state: dict) -> None:
        self.interval, self._next, self._lock = state["interval"], 0.0, threading.Lock()

    def reserve(self) -> float:
        """Seconds until the caller's slot (0 when it may start now); the slot is taken."""
        if not self.interval:
            return 0.0
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
        return start - now

    def acquire(self) -> None:
        delay = self.reserve()
        if delay > 0:
            time.sleep(delay)
