"""Media payloads prepared once per (content, spec): in worker processes, ahead of the requests, single-flight,
and kept on disk by content hash.

Why: decoding and JPEG-encoding in request threads (~30 ms CPU a file) held the GIL against the requests, and
with no single-flight the items of one file decoded it several times over (146 decodes for 72 files at
concurrency 16: 15-19% of the ideal request rate on a cold run).

- Single-flight: every ask for one payload shares one Future; a run decodes each file at most once.
- Workers: a process pool for the runner, forked (all workers at the first `prefetch`, which the runner
  makes before its request threads exist): up in milliseconds with everything imported; none for a run
  with nothing to prepare. Without one (a store made on demand, from whatever thread asks, or
  a platform without a safe fork) preparation runs in the asking thread, still single-flight: forking a busy
  threaded process is not safe, and spawn/forkserver re-import the caller's main module (a script without a
  `__main__` guard breaks).
- Disk: `<cache>/<k[:2]>/<k>.payload`, k = sha256(file sha256, spec, PREP_VERSION). Written to a temp name
  then renamed (no fsync: a torn file fails its hash and is prepared again); read back only when complete
  and intact. A file whose bytes do not match the sha256 it was asked under is prepared but not cached.
"""

from __future__ import annotations

import functools
import multiprocessing as mp
import os
import signal
import sys
import threading
import time
from collections import Counter, OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Optional

from mmabench.adapters.media import MediaParts, PayloadSpec, prepare_parts
from mmabench.logs import get_logger
from mmabench.media import sha256_file, sweep_partials

log = get_logger(__name__)


def cache_file(cache_dir: str | Path, key: str) -> Path:
    return Path(cache_dir) / key[:2] / f"{key}.payload"


def _write(path: Path, data: bytes) -> None:
    # the temp name is atomic_output's pattern (.NAME.PID.ID.partEXT), so sweep_partials clears a killed writer's
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident():x}.part")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as e:  # a read-only workspace: the payload is still sent, just not kept
        tmp.unlink(missing_ok=True)
        log.debug("payload not cached: %s", e)


def load_or_prepare(path: str, sha: str, spec: PayloadSpec, cache_dir: Optional[str]) -> tuple[MediaParts, str]:
    """In a worker: (parts, "disk") from an intact cache file, else (parts, "decoded")."""
    key = spec.key(sha)
    file = cache_file(cache_dir, key) if cache_dir else None
    parts = None
    if file is not None:
        try:
            parts = MediaParts.from_bytes(file.read_bytes(), key)
        except OSError:
            parts = None
    how = "disk"
    if parts is None:
        parts, how = prepare_parts(path, PayloadSpec(spec.frames, spec.audio, spec.rate)), "decoded"
        if file is not None and sha256_file(path) == sha:
            _write(file, parts.to_bytes(key))
    if spec.mp4:
        parts.video_mp4 = Path(path).read_bytes()
    return parts, how


def _worker_init(parent: int) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle; it shuts the pool down

    def orphaned() -> None:  # a SIGKILLed parent cannot shut its pool down: leave with it
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=orphaned, daemon=True).start()


def can_fork() -> bool:
    return sys.platform == "linux" and "fork" in mp.get_all_start_methods()


class PayloadStore:
    """`get(path, sha256, spec)` -> MediaParts, prepared at most once; `prefetch` starts it without waiting.
    `counts` says how each payload was had: "decoded" or "disk" (read back from the cache).
    workers=0: prepared in the asking thread (no processes)."""

    def __init__(self, cache_dir: Optional[Path] = None, workers: int = 0, keep: int = 256):
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.workers, self.keep = workers if can_fork() else 0, keep
        self.counts: Counter[str] = Counter()
        self._live: OrderedDict[tuple[str, PayloadSpec], Future] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: Optional[ProcessPoolExecutor] = None
        if self.cache_dir is not None and self.cache_dir.is_dir():
            sweep_partials(self.cache_dir)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = mp.get_context("fork")
            self._pool = ProcessPoolExecutor(
                self.workers, mp_context=ctx, initializer=_worker_init, initargs=(os.getpid(),)
            )
        return self._pool

    def prefetch(self, path: str | Path, sha: Optional[str], spec: PayloadSpec) -> Future:
        sha = sha or sha256_file(path)  # content, not name: a path may hold other bytes later (temp files do)
        key = (sha, spec)
        with self._lock:
            fut = self._live.get(key)
            if fut is not None:
                self._live.move_to_end(key)
                return fut
            args = (str(path), sha, spec, str(self.cache_dir) if self.cache_dir else None)
            if not self.workers:
                fut = Future()
            else:
                try:
                    fut = self._executor().submit(load_or_prepare, *args)
                except BrokenProcessPool:  # a worker died (OOM-killed?): the next ask gets a fresh pool
                    self._pool = None
                    fut = self._executor().submit(load_or_prepare, *args)
            self._live[key] = fut
            self._trim()
        fut.add_done_callback(functools.partial(self._settled, key))
        if not self.workers:  # this thread prepares; others asking meanwhile wait on `fut`
            try:
                fut.set_result(load_or_prepare(*args))
            except BaseException as e:
                fut.set_exception(e)
                if not isinstance(e, Exception):
                    raise
        return fut

    def get(self, path: str | Path, sha: Optional[str], spec: PayloadSpec) -> MediaParts:
        parts, _ = self.prefetch(path, sha, spec).result()
        return parts

    def _settled(self, key: tuple[str, PayloadSpec], fut: Future) -> None:
        with self._lock:
            if fut.cancelled():
                how = "cancelled"
            elif isinstance(fut.exception(), BrokenProcessPool):
                how = "failed"
                if self._live.get(key) is fut:  # not a fact about the file: asking again may succeed
                    del self._live[key]
            else:
                how = "failed" if fut.exception() else fut.result()[1]
            self.counts[how] += 1

    def _trim(self) -> None:
        """Forget the oldest settled payloads beyond `keep` (the disk still has them); never one in flight."""
        over = len(self._live) - self.keep
        for key in [k for k, f in self._live.items() if f.done()][: max(0, over)]:
            del self._live[key]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            self._live.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
