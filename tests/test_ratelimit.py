"""The in-process limiter: starts spaced 1/rate apart across threads; 0 is no limit; a pickled copy paces its
own process."""

import pickle
import threading
import time

from mmabench.ratelimit import LocalRateLimit, Unlimited


def _stamps(limit, threads: int, each: int) -> list[float]:
    out: list[float] = []
    lock = threading.Lock()

    def work():
        for _ in range(each):
            limit.acquire()
            with lock:
                out.append(time.monotonic())

    ts = [threading.Thread(target=work) for _ in range(threads)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return sorted(out)


def test_threads_share_one_rate():
    s = _stamps(LocalRateLimit(10), threads=4, each=3)  # 12 starts at 10/s: at least 1.1 s first to last
    assert len(s) == 12 and s[-1] - s[0] >= 0.95


def test_zero_rate_and_unlimited_do_not_wait():
    for limit in (LocalRateLimit(0), Unlimited()):
        s = _stamps(limit, threads=4, each=25)
        assert len(s) == 100 and s[-1] - s[0] < 0.5


def test_a_pickled_limiter_keeps_its_rate_with_fresh_slots():
    a = LocalRateLimit(2)
    a.acquire()
    b = pickle.loads(pickle.dumps(a))
    assert b.interval == 0.5 and b.reserve() == 0.0  # another process: its own slots
    assert 0.4 < a.reserve() <= 0.5  # the original's next slot is still taken
