"""The media store contract on a local folder (path and file:// URL), on fsspec's local filesystem (the object-store
code path on a real disk, so a writer can be SIGKILLed) and on fsspec's in-memory filesystem."""

import hashlib
import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path

import pytest

from mmabench.config import media_url
from mmabench.media.store import FsspecStore, LocalStore, StoreError, open_store, store_for

BACKENDS = ["path", "file_url", "fsspec_file", "memory"]


@pytest.fixture(params=BACKENDS)
def store(request, tmp_path):
    kind = request.param
    if kind == "path":
        return open_store(tmp_path / "store")
    if kind == "file_url":
        return open_store(f"file://{tmp_path}/store")
    if kind == "fsspec_file":
        return FsspecStore(f"file://{tmp_path}/store", tmp_path / "cache")
    return open_store(f"memory://{uuid.uuid4().hex}/media", tmp_path / "cache")


def scratch_file(store, data: bytes, name: str = "x.mp4") -> Path:
    f = store.scratch() / name
    f.write_bytes(data)
    return f


def test_put_exists_open_local_path_url(store):
    data = os.urandom(300_000)
    src = scratch_file(store, data)
    key = "variants/ab/abc.mp4"
    assert not store.exists(key) and store.size(key) is None
    sha = store.put(src, key)
    assert sha == hashlib.sha256(data).hexdigest()
    assert not src.exists()  # put moves the scratch file (locally: the rename; remotely: into the cache)
    assert store.exists(key) and store.size(key) == len(data) and store.sha256(key) == sha
    with store.open(key) as f:
        assert f.read() == data
    assert store.local_path(key, sha).read_bytes() == data
    assert store.url(key).endswith("/variants/ab/abc.mp4")
    assert store.sizes([key, "variants/ab/none.mp4"]) == {key: len(data), "variants/ab/none.mp4": None}
    store.remove(key)
    assert not store.exists(key)


def test_default_store_is_the_workspace_media_folder(tmp_path, monkeypatch):
    monkeypatch.delenv("MMABENCH_MEDIA_URL", raising=False)
    s = store_for(None, tmp_path)
    assert isinstance(s, LocalStore) and s.root == (tmp_path / "media").resolve()
    assert s.local_path("clips/ab/x.mp4") == (tmp_path / "media" / "clips" / "ab" / "x.mp4").resolve()
    monkeypatch.setenv("MMABENCH_MEDIA_URL", "memory://elsewhere")
    assert media_url(None, tmp_path) == "memory://elsewhere" and isinstance(store_for(None, tmp_path), FsspecStore)


@pytest.mark.parametrize(
    "key",
    ["../x.mp4", "clips/../../x.mp4", "/etc/passwd", "clips//x.mp4", ".tmp/x", "clips/./x", "C:/x", "a\\..\\b", ""],
)
def test_keys_outside_the_store_are_refused(store, tmp_path, key):
    src = scratch_file(store, b"data")
    for call in (
        lambda: store.put(src, key),
        lambda: store.exists(key),
        lambda: store.open(key),
        lambda: store.local_path(key),
        lambda: store.remove(key),
    ):
        with pytest.raises(StoreError):
            call()
    assert src.exists() and not (tmp_path / "x.mp4").exists()


def _remote(tmp_path):
    return open_store(f"memory://{uuid.uuid4().hex}/media", tmp_path / "cache")


def test_a_corrupted_upload_never_reaches_the_final_key(tmp_path, monkeypatch):
    """The backend silently stores fewer bytes: the read-back check refuses it and the temp key goes."""
    s = _remote(tmp_path)
    real = s.fs.put_file

    def truncating(lpath, rpath, **kw):
        real(lpath, rpath, **kw)
        with s.fs.open(rpath, "rb") as f:
            head = f.read(1000)
        s.fs.pipe_file(rpath, head)

    monkeypatch.setattr(s.fs, "put_file", truncating)
    src = scratch_file(s, os.urandom(5000))
    with pytest.raises(OSError, match="came back as 1000 bytes"):
        s.put(src, "clips/ab/x.mp4")
    assert not s.exists("clips/ab/x.mp4") and s.fs.find(f"{s.root}/.tmp") == []


def test_a_failed_upload_leaves_neither_final_nor_temp_key(tmp_path, monkeypatch):
    s = _remote(tmp_path)

    def half_then_fail(lpath, rpath, **kw):
        s.fs.pipe_file(rpath, Path(lpath).read_bytes()[:100])
        raise ConnectionError("link dropped")

    monkeypatch.setattr(s.fs, "put_file", half_then_fail)
    with pytest.raises(ConnectionError):
        s.put(scratch_file(s, os.urandom(5000)), "clips/ab/x.mp4")
    assert not s.exists("clips/ab/x.mp4") and s.fs.find(f"{s.root}/.tmp") == []


KILLED = textwrap.dedent(
    """
    import errno, os, signal, sys
    from pathlib import Path
    from mmabench.media.store import FsspecStore, LocalStore
    kind, root, src = sys.argv[1:]
    data = Path(src).read_bytes()

    def half_then_die(*a, **kw):  # the writer dies half-way through its copy
        dst = a[1]
        os.makedirs(os.path.dirname(dst), exist_ok=True)
        with open(dst, "wb") as f:
            f.write(data[: len(data) // 2])
            f.flush()
        os.kill(os.getpid(), signal.SIGKILL)

    if kind == "fsspec_file":
        store = FsspecStore("file://" + root, root + "-cache")
        store.fs.put_file = lambda lpath, rpath, **kw: half_then_die(lpath, store.fs._strip_protocol(rpath))
    else:  # the local store's copy across filesystems (a rename where it can; forced to copy here)
        store = LocalStore(root)
        import mmabench.media.store as st
        def no_rename(a, b):
            raise OSError(errno.EXDEV, "cross-device link")
        st.os.replace = no_rename
        st.shutil.copyfile = half_then_die
    store.put(src, "clips/ab/x.mp4")
    """
)


@pytest.mark.parametrize("kind", ["fsspec_file", "local_copy"])
def test_a_killed_writer_is_never_visible_under_the_final_key(kind, tmp_path):
    root = tmp_path / "store"
    src = tmp_path / "x.mp4"
    src.write_bytes(os.urandom(200_000))
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    proc = subprocess.run([sys.executable, "-c", KILLED, kind, str(root), str(src)], env=env, timeout=120)
    assert proc.returncode == -signal.SIGKILL
    partial = [p for p in root.rglob("*") if p.is_file()]
    assert len(partial) == 1 and partial[0].stat().st_size == 100_000  # the half-written temp, hidden
    assert partial[0].name.startswith(".") or ".tmp" in partial[0].parts
    store = FsspecStore(f"file://{root}", tmp_path / "c") if kind == "fsspec_file" else LocalStore(root)
    assert not store.exists("clips/ab/x.mp4")
    assert store.sweep() == 1 and not [p for p in root.rglob("*") if p.is_file()]
    assert store.put(src, "clips/ab/x.mp4") == hashlib.sha256((root / "clips/ab/x.mp4").read_bytes()).hexdigest()


def test_the_cache_copy_is_checked_against_the_manifest_hash(tmp_path):
    s = _remote(tmp_path)
    data = os.urandom(4000)
    key = "clips/ab/x.mp4"
    s.fs.pipe_file(f"{s.root}/{key}", data)  # stored by another worker: nothing cached here yet
    sha = hashlib.sha256(data).hexdigest()
    with pytest.raises(OSError, match="the manifest says"):
        s.local_path(key, "0" * 64)
    cached = tmp_path / "cache" / key
    assert not cached.exists() and not list((tmp_path / "cache").rglob(".*.part"))
    assert s.local_path(key, sha) == cached and cached.read_bytes() == data
    cached.write_bytes(b"rotten")  # a damaged cache copy is replaced, not handed to the decoder
    assert s.local_path(key, sha).read_bytes() == data
    cached.write_bytes(b"x" * 10)  # without a hash: its size must match the store's
    assert s.local_path(key).read_bytes() == data


def test_store_urls(tmp_path):
    assert isinstance(open_store(tmp_path), LocalStore)
    assert open_store(f"file://{tmp_path}/m").root == (tmp_path / "m").resolve()
    with pytest.raises(StoreError, match="no fsspec filesystem"):
        open_store("nosuchscheme://x/y")
    with pytest.raises(StoreError, match=r"file:///abs/path"):
        open_store("file://host/x")
    assert importlib.util.find_spec("s3fs") is None, "this test needs a machine without s3fs"
    with pytest.raises(StoreError) as e:
        open_store("s3://user:hunter2@bucket/media")
    assert "needs the s3fs package (pip install s3fs)" in str(e.value) and "hunter2" not in str(e.value)
    assert "\n" not in str(e.value)


def test_store_urls_carry_no_credentials(tmp_path):
    s = open_store("memory://user:hunter2@bucket/media", tmp_path / "cache")
    assert "hunter2" not in s.url("clips/ab/x.mp4") and "hunter2" not in s.url_
