"""The media store: where clips and variants live, by key (`clips/ab/<id>.mp4`, `variants/cd/<id>.mp4`).

`open_store(url)` gives a `LocalStore` for a folder (a plain path or `file://`, the default `<home>/media`)
or an `FsspecStore` for any other fsspec URL (`s3://`, `gs://`, `memory://` …). Writers render into a local
scratch file (`store.scratch()`), then `put(file, key)` moves it in and returns its sha256. Readers ask
`local_path(key, sha256)` for a file PyAV can open: the stored file itself, or a content-verified cache copy.

What a reader of the final key can see, per backend (never a partial object):
- local folder: `put` is a rename within one filesystem (atomic on POSIX); across filesystems a copy to a
  hidden temp name beside the key, fsync, then rename. A killed writer leaves only hidden temps and scratch
  folders, which `sweep()` removes once their process is gone.
- fsspec (object stores, remote filesystems): upload to a temp key under `.tmp/`, check its size and sha256
  by reading it back, then `mv` to the final key. S3/GCS: `mv` is a server-side copy (an object appears
  whole or not at all) then a delete of the temp; a POSIX-like fsspec filesystem renames. A killed writer
  leaves a temp key under `.tmp/`, never the final key; `sweep()` removes this host's temps of dead writers.
Keys are relative POSIX paths; `..`, `.`, empty or hidden segments and absolute paths are refused.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import os
import re
import shutil
import socket
import stat
import uuid
from pathlib import Path
from typing import IO, Any, Iterable, Optional
from urllib.parse import unquote, urlsplit

from mmabench.config import media_cache, media_url
from mmabench.media.files import _alive, atomic_output, sha256_file, sweep_partials
from mmabench.schema.redact import redact_url

TMP_PREFIX = ".tmp"  # fsspec temp keys live under this prefix (one listing to sweep)
_BAD_SEGMENT = re.compile(r"^$|^\.|[\\\x00]")


class StoreError(ValueError):
    """A store URL that cannot be used, or a key outside the store (one line)."""


def check_key(key: str) -> str:
    """A key is a relative POSIX path inside the store: no absolute path, no `..`/`.`/hidden/empty segment."""
    if not isinstance(key, str) or not key or key.startswith("/") or re.match(r"^[A-Za-z]:", key):
        raise StoreError(f"media key {key!r} is not a relative path inside the store")
    if any(_BAD_SEGMENT.search(seg) for seg in key.split("/")):
        raise StoreError(f"media key {key!r} has an empty, hidden, '..' or '.' segment, or a backslash")
    return key


def _hash_stream(f: IO[bytes]) -> tuple[str, int]:
    h, n = hashlib.sha256(), 0
    for block in iter(lambda: f.read(1 << 20), b""):
        h.update(block)
        n += len(block)
    return h.hexdigest(), n


class LocalStore:
    """A folder on a local or shared (NFS, Lustre) filesystem; the default `<home>/media`."""

    def __init__(self, root: str | Path):
        self.root = Path(root).expanduser().resolve()
        self.url_ = self.root.as_uri()

    def path(self, key: str) -> Path:
        return self.root / check_key(key)

    def scratch(self) -> Path:
        """Local folder for writers' scratch files: inside the store, so `put` is a rename."""
        d = self.root / ".scratch"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def put(self, src: str | Path, key: str, sha256: Optional[str] = None) -> str:
        """Move a complete local file to `key` (it is gone from `src` after); returns its sha256."""
        dst = self.path(key)
        sha = sha256 or sha256_file(src)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dst)
        except OSError as e:
            if e.errno != errno.EXDEV:
                raise
            with atomic_output(dst) as tmp:  # another filesystem: copy beside the key, fsync, rename
                shutil.copyfile(src, tmp)
            os.unlink(src)
        return sha

    def exists(self, key: str) -> bool:
        return self.path(key).is_file()

    def isdir(self, key: str) -> bool:
        return self.path(key).is_dir()

    def size(self, key: str) -> Optional[int]:
        try:
            st = self.path(key).stat()  # one stat: plans call this per key
        except (FileNotFoundError, NotADirectoryError):
            return None
        return st.st_size if stat.S_ISREG(st.st_mode) else None

    def sizes(self, keys: Iterable[str]) -> dict[str, Optional[int]]:
        return {k: self.size(k) for k in keys}

    def open(self, key: str) -> IO[bytes]:
        return open(self.path(key), "rb")

    def sha256(self, key: str) -> str:
        return sha256_file(self.path(key))

    def local_path(self, key: str, sha256: Optional[str] = None) -> Path:
        """The stored file itself (no copy; as today, not re-hashed: `verify` checks hashes)."""
        return self.path(key)

    def url(self, key: str) -> str:
        return self.path(key).as_uri()

    def remove(self, key: str) -> None:
        """The key's file, or a folder where a file should be."""
        p = self.path(key)
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            p.unlink(missing_ok=True)

    def sweep(self) -> int:
        return sweep_partials(self.root) if self.root.is_dir() else 0


class FsspecStore:
    """Any fsspec filesystem by URL; credentials come from the backend's usual environment (never the manifest).
    Local copies for decoding live in `cache` (a folder on this machine), verified against the sha256 asked for."""

    def __init__(self, url: str, cache: str | Path, **storage_options: Any):
        import fsspec
        from fsspec.registry import known_implementations

        scheme = urlsplit(url).scheme
        try:
            fsspec.get_filesystem_class(scheme)
        except ImportError:
            pkg = str(known_implementations.get(scheme, {}).get("class", "")).split(".")[0]
            raise StoreError(
                f"media store {redact_url(url)}: the {scheme!r} filesystem needs the {pkg or 'fsspec backend'} "
                f"package (pip install {pkg or '…'})"
            ) from None
        except ValueError:
            raise StoreError(f"media store {redact_url(url)}: no fsspec filesystem for {scheme!r}://") from None
        if scheme in ("file", "local"):  # object stores have no folders; a filesystem needs them made
            storage_options.setdefault("auto_mkdir", True)
        self.fs, root = fsspec.core.url_to_fs(url, **storage_options)
        self.root = root.rstrip("/")
        self.scheme = scheme
        self.url_ = redact_url(url.rstrip("/"))
        self.cache = Path(cache).expanduser().resolve()
        self._verified: dict[tuple[str, int, int], str] = {}  # (cache file, mtime_ns, size) -> sha256

    def _key(self, key: str) -> str:
        return f"{self.root}/{check_key(key)}"

    def scratch(self) -> Path:
        """Local folder for writers' scratch files: inside the cache, so a put file becomes its cache copy."""
        d = self.cache / ".scratch"
        d.mkdir(parents=True, exist_ok=True)
        return d

    def put(self, src: str | Path, key: str, sha256: Optional[str] = None) -> str:
        """Upload to a temp key, verify size and sha256 there, then move to `key`; `src` becomes the cache copy."""
        final = self._key(key)
        sha = sha256 or sha256_file(src)
        size = os.path.getsize(src)
        tmp = f"{self.root}/{TMP_PREFIX}/{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex}"
        try:
            self.fs.put_file(str(src), tmp)
            with self.fs.open(tmp, "rb") as f:
                got, n = _hash_stream(f)
            if (got, n) != (sha, size):
                raise OSError(f"upload of {key} to {self.url_} came back as {n} bytes, sha256 {got[:12]}…")
            self.fs.mv(tmp, final)
        except BaseException:
            with contextlib.suppress(Exception):  # best effort: sweep() gets what this misses
                self.fs.rm_file(tmp)
            raise
        self._to_cache(Path(src), key, sha)
        return sha

    def _to_cache(self, src: Path, key: str, sha: str) -> None:
        dst = self.cache / check_key(key)
        dst.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.replace(src, dst)
        except OSError:
            src.unlink(missing_ok=True)  # no cache copy then: the next local_path downloads
            return
        st = dst.stat()
        self._verified[(str(dst), st.st_mtime_ns, st.st_size)] = sha

    def exists(self, key: str) -> bool:
        return bool(self.fs.isfile(self._key(key)))

    def isdir(self, key: str) -> bool:
        return bool(self.fs.isdir(self._key(key)))

    def size(self, key: str) -> Optional[int]:
        try:
            info = self.fs.info(self._key(key))
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type") == "file" else None

    def sizes(self, keys: Iterable[str]) -> dict[str, Optional[int]]:
        """One listing per folder instead of a request per key (plans over many keys)."""
        keys = list(keys)
        found: dict[str, int] = {}
        for folder in sorted({k.rsplit("/", 1)[0] for k in map(check_key, keys) if "/" in k}):
            with contextlib.suppress(FileNotFoundError):
                for p, info in self.fs.find(f"{self.root}/{folder}", detail=True).items():
                    found[p.lstrip("/")] = int(info["size"])
        return {k: found.get(self._key(k).lstrip("/")) if "/" in k else self.size(k) for k in keys}

    def open(self, key: str) -> IO[bytes]:
        return self.fs.open(self._key(key), "rb")

    def sha256(self, key: str) -> str:
        with self.open(key) as f:
            return _hash_stream(f)[0]

    def local_path(self, key: str, sha256: Optional[str] = None) -> Path:
        """A cache copy of `key`: reused when its sha256 is `sha256` (or, without one, its size matches the
        store's), else downloaded to a temp file, checked, and renamed into place."""
        dst = self.cache / check_key(key)
        if dst.is_file() and self._cached_ok(dst, key, sha256):
            return dst
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = dst.with_name(f".{dst.name}.{os.getpid()}.{uuid.uuid4().hex[:12]}.part")  # sweep_partials' pattern
        try:
            with open(tmp, "xb") as out, self.open(key) as f:
                h = hashlib.sha256()
                for block in iter(lambda: f.read(1 << 20), b""):
                    h.update(block)
                    out.write(block)
            got = h.hexdigest()
            if sha256 is not None and got != sha256:
                raise OSError(f"{self.url(key)} has sha256 {got[:12]}…, the manifest says {sha256[:12]}…")
            os.replace(tmp, dst)
        finally:
            Path(tmp).unlink(missing_ok=True)
        st = dst.stat()
        self._verified[(str(dst), st.st_mtime_ns, st.st_size)] = got
        return dst

    def _cached_ok(self, dst: Path, key: str, sha256: Optional[str]) -> bool:
        st = dst.stat()
        if sha256 is None:
            return st.st_size == self.size(key)
        memo = (str(dst), st.st_mtime_ns, st.st_size)
        if memo not in self._verified:
            self._verified[memo] = sha256_file(dst)
        return self._verified[memo] == sha256

    def url(self, key: str) -> str:
        return f"{self.url_}/{check_key(key)}"

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.fs.rm(self._key(key), recursive=True)
        (self.cache / key).unlink(missing_ok=True)

    def sweep(self) -> int:
        """This host's temp keys whose writer is gone, and the cache's killed downloads and scratch folders."""
        n = sweep_partials(self.cache) if self.cache.is_dir() else 0
        host = socket.gethostname()
        with contextlib.suppress(FileNotFoundError):
            for p in self.fs.find(f"{self.root}/{TMP_PREFIX}"):
                hit = re.fullmatch(rf"{re.escape(host)}-(\d+)-[0-9a-f]+", p.rsplit("/", 1)[-1])
                if hit and int(hit.group(1)) != os.getpid() and not _alive(int(hit.group(1))):
                    with contextlib.suppress(FileNotFoundError):
                        self.fs.rm_file(p)
                    n += 1
        return n


MediaStore = LocalStore | FsspecStore


def open_store(url: str | Path, cache: str | Path | None = None, **storage_options: Any) -> MediaStore:
    """A folder path or `file://` URL -> LocalStore; any other URL -> FsspecStore (cache: local folder for
    decodable copies, default `config.media_cache()`)."""
    s = str(url)
    parts = urlsplit(s)
    if "://" not in s:
        return LocalStore(s)
    if parts.scheme == "file":
        if parts.netloc not in ("", "localhost"):
            raise StoreError(f"media store {s}: file:// URLs name a local path (file:///abs/path)")
        return LocalStore(unquote(parts.path))
    return FsspecStore(s, cache if cache is not None else media_cache(), **storage_options)


def store_for(url: str | None = None, home: str | Path | None = None) -> MediaStore:
    """The workspace's store: --media-url / MMABENCH_MEDIA_URL, else <home>/media (cache: <home>/media-cache)."""
    return open_store(media_url(url, home), media_cache(home))
