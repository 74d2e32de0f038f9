"""Media payloads prepared once per (content, spec): in worker processes, ahead of the requests, single-flight,
and kept on disk by content hash.

Why: decoding and JPEG-encoding in request threads (~30 ms CPU a file) held the GIL against the requests, and
with no single-flight the items of one file decoded it several times over (146 decodes for 72 files at
concurrency 16: 15-19% of the ideal request rate on a cold run).

- Single-flight: every ask for one payload shares one Future; a run prepares each file at most once.
- Per stream: a payload is a frames part (a function of the video stream alone) and an audio part (of the
  audio stream alone), each keyed by its stream's digest: from the MP4's sample tables and sample bytes
  (`media.mp4tables`, ~0.3 ms, no FFmpeg), or where those do not cover the file, from its demuxed packets
  (`media.Demuxed`, ~3.5 ms). Variants stream-copy their tracks from clips and from shared black/silent
  tracks, so files share parts: the demo `full` split's 72 files have 20 video and 20 audio streams, and a
  cold file whose parts exist costs a read and its table digest instead of ~25 ms of decoding and encoding. Workers preparing
  parts of one stream at once take turns on a flock of the part's cache shard: made once, then read.
- Workers: a process pool for the runner, forked (all workers at the first `prefetch`, which the runner
  makes before its request threads exist): up in milliseconds with everything imported; none for a run
  with nothing to prepare. Without one (a store made on demand, from whatever thread asks, or
  a platform without a safe fork) preparation runs in the asking thread, still single-flight: forking a busy
  threaded process is not safe, and spawn/forkserver re-import the caller's main module (a script without a
  `__main__` guard breaks).
- Disk: parts at `<cache>/<k[:2]>/<k>.payload`, k = sha256(part kind, stream digest, spec, PREP_VERSION), and
  per file an index `<f>.streams` (f = sha256(file sha256, spec, PREP_VERSION): its parts' keys), so a warm
  run opens no media. Written to a temp name then renamed (no fsync: a torn part fails its hash and is made
  again); read back only when complete and intact. Parts are keyed by the bytes read, so always right; a
  file whose bytes do not match the sha256 it was asked under gets no index.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import multiprocessing as mp
import os
import signal
import sys
import threading
import time

try:
    import fcntl
except ImportError:  # not POSIX: racing workers may make a part twice, never a wrong one
    fcntl = None  # type: ignore[assignment]
from collections import Counter, OrderedDict
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterator, Optional

from mmabench.adapters.media import Demuxed, MediaParts, PayloadSpec, joined, make_part, needed, part_key, part_stream
from mmabench.logs import get_logger
from mmabench.media import sha256_file, sweep_partials
from mmabench.media.decode import preload
from mmabench.media.mp4tables import stream_digests

log = get_logger(__name__)


def cache_file(cache_dir: str | Path, key: str, suffix: str = ".payload") -> Path:
    return Path(cache_dir) / key[:2] / f"{key}{suffix}"


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


def _read_part(root: Path, key: str) -> Optional[MediaParts]:
    try:
        return MediaParts.from_bytes(cache_file(root, key).read_bytes(), key)
    except OSError:
        return None


def _read_index(file: Path, spec: PayloadSpec) -> Optional[dict[str, Optional[str]]]:
    """{part kind: part key, or None where the file lacks that stream} for every part `spec` needs, or None."""
    try:
        got = json.loads(file.read_text())
    except (OSError, ValueError):
        return None
    ok = isinstance(got, dict) and set(got) == set(needed(spec))
    return got if ok and all(v is None or isinstance(v, str) and len(v) == 64 for v in got.values()) else None


@contextlib.contextmanager
def _locked(folder: Path) -> Iterator[None]:
    """An exclusive flock on a cache shard's folder: the workers (and concurrent runs) sharing one cache make
    each part once; the loser of a race waits, then reads the winner's file. Unlocked where that cannot be."""
    fd = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        if fcntl is not None:
            fd = os.open(folder, os.O_RDONLY)
            fcntl.flock(fd, fcntl.LOCK_EX)
    except OSError:  # a read-only cache: nothing will be kept either
        pass
    try:
        yield
    finally:
        if fd is not None:
            os.close(fd)  # releases the lock


def _part(root: Optional[Path], key: str, make: Callable[[], MediaParts]) -> tuple[MediaParts, bool]:
    """(the part, whether it was made here): read from the cache, else made and kept, single-flight."""
    if root is None:
        return make(), True
    file = cache_file(root, key)
    with _locked(file.parent):
        got = _read_part(root, key)
        if got is not None:
            return got, False
        got = make()
        _write(file, got.to_bytes(key))
        return got, True


def load_or_prepare(
    path: str, sha: str, spec: PayloadSpec, cache_dir: Optional[str]
) -> tuple[MediaParts, str, tuple[str, ...]]:
    """In a worker: (parts, how, the part kinds made here). how: "disk" (this file's index and parts read back),
    "shared" (parts other files with the same streams had prepared), "decoded" (some part made here)."""
    root = Path(cache_dir) if cache_dir else None
    index = cache_file(root, spec.key(sha), ".streams") if root else None
    keys = _read_index(index, spec) if index else None
    got: dict[str, MediaParts] = {}
    for kind, key in (keys or {}).items():
        part = _read_part(root, key) if root and key else None
        if key and part is None:
            got, keys = {}, None  # a part gone or damaged: demux and look again
            break
        if part is not None:
            got[kind] = part
    how, data, made = "disk", None, list[str]()
    if keys is None:
        data = Path(path).read_bytes()  # read once: digested, demuxed and decoded from these bytes
        keys, got, made = _from_streams(path, data, spec, root)
        how = "decoded" if made else "shared"
        if index is not None and hashlib.sha256(data).hexdigest() == sha:  # the index is about content `sha`;
            _write(index, json.dumps(keys).encode())  # the parts are keyed by what was read, so always right
    parts = joined(got)
    if spec.mp4:
        parts.video_mp4 = data if data is not None else Path(path).read_bytes()
    return parts, how, tuple(made)


_STREAM = {"frames": "video", "audio": "audio"}


def _from_streams(
    path: str, data: bytes, spec: PayloadSpec, root: Optional[Path], tables_ok: bool = True
) -> tuple[dict[str, Optional[str]], dict[str, MediaParts], list[str]]:
    """(part keys, parts, kinds made here) of one file's bytes. The keys come from the MP4's sample tables where
    it has them (`media.mp4tables`: no demux), so a file whose parts exist is never opened in FFmpeg; else, or
    when FFmpeg sees other streams than the tables, from its demuxed packets (`Demuxed.digest`)."""
    tables = stream_digests(data) if root is not None and tables_ok else None
    keys: dict[str, Optional[str]] = {}
    got: dict[str, MediaParts] = {}
    if tables is not None and root is not None:
        for kind in needed(spec):
            digest = tables[_STREAM[kind]]
            keys[kind] = key = None if digest is None else part_key(kind, digest, spec)
            part = _read_part(root, key) if key else None
            if part is not None:
                got[kind] = part
        if all(keys[k] is None or k in got for k in needed(spec)):
            return keys, got, []
    made: list[str] = []
    todo = [k for k in needed(spec) if k not in got]
    with Demuxed(path, data, {_STREAM[k] for k in todo}) as d:  # only the streams of parts to make
        if tables is not None and any((part_stream(d, k) is None) != (keys[k] is None) for k in needed(spec)):
            return _from_streams(path, data, spec, root, False)  # the tables name other streams than FFmpeg's
        for kind in todo:
            stream = part_stream(d, kind)
            if stream is None:
                keys[kind] = None
                continue
            key = keys[kind] if tables is not None else part_key(kind, d.digest(stream), spec)
            assert key is not None
            keys[kind] = key
            got[kind], fresh = _part(root, key, functools.partial(make_part, d, kind, spec))
            made += [kind] if fresh else []
    return keys, got, made


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
        self.made: Counter[str] = Counter()  # stream parts made (decoded) here, by kind: "frames", "audio"
        self._live: OrderedDict[tuple[str, PayloadSpec], Future] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: Optional[ProcessPoolExecutor] = None
        if self.cache_dir is not None and self.cache_dir.is_dir():
            sweep_partials(self.cache_dir)

    def _executor(self) -> ProcessPoolExecutor:
        if self._pool is None:
            preload()  # the decoders' lazy imports, once here rather than once per forked worker
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
        return self.prefetch(path, sha, spec).result()[0]

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
                self.made.update(() if fut.exception() else fut.result()[2])
            self.counts[how] += 1

    def _trim(self) -> None:
        """Forget the oldest settled payloads beyond `keep` (the disk still has them); never one in flight."""
        over = len(self._live) - self.keep
        if over <= 0:  # the common case, checked without walking the dict (asked once per request)
            return
        for key in [k for k, f in self._live.items() if f.done()][: max(0, over)]:
            del self._live[key]

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            self._live.clear()
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
