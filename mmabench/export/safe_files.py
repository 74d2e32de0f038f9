"""Reading files named by an untrusted release: a name must stay inside the release folder, every step of
the way must be a real directory (no symlinks), and the file itself a regular, singly-linked file opened
without following links; bytes reach the media store only after their sha256 matches the recorded one."""

from __future__ import annotations

import hashlib
import os
import re
import stat
import tempfile
from pathlib import Path

SHA256 = re.compile(r"[0-9a-f]{64}")


class Rejected(ValueError):
    """A release entry that is not stored; the message says why."""


def check_name(name: object) -> list[str]:
    """The parts of a relative POSIX name, or Rejected: absolute, `..`, URL, backslash, NUL, empty."""
    if not isinstance(name, str) or not name:
        raise Rejected("no media path")
    if "\0" in name or "\\" in name or "://" in name:
        raise Rejected(f"media path {name!r} is not a plain relative path")
    if name.startswith("/"):
        raise Rejected(f"media path {name!r} is absolute")
    parts = [p for p in name.split("/") if p not in ("", ".")]
    if not parts or ".." in parts:
        raise Rejected(f"media path {name!r} leaves the release folder")
    return parts


def open_inside(root: Path, base: Path, name: object) -> int:
    """An fd for `base/name` (base inside root), refusing anything that could reach outside root."""
    root = root.resolve()
    here = base.resolve()
    if here != root and root not in here.parents:
        raise Rejected(f"folder {base} is outside the release")
    parts = check_name(name)
    for i, part in enumerate(parts):
        here = here / part
        try:
            st = os.lstat(here)
        except FileNotFoundError:
            raise Rejected(f"media file {name!r} is not in the release") from None
        if stat.S_ISLNK(st.st_mode):
            raise Rejected(f"media path {name!r} goes through a symlink ({'/'.join(parts[: i + 1])})")
        last = i == len(parts) - 1
        if not last and not stat.S_ISDIR(st.st_mode):
            raise Rejected(f"media path {name!r}: {part} is not a folder")
    if not stat.S_ISREG(st.st_mode):
        raise Rejected(f"media path {name!r} is not a regular file (device, FIFO or socket)")
    if st.st_nlink > 1:
        raise Rejected(f"media file {name!r} is hard-linked elsewhere ({st.st_nlink} links)")
    # O_NOFOLLOW + O_NONBLOCK: a swap to a link or FIFO between the checks and the open still fails safe
    fd = os.open(here, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    st2 = os.fstat(fd)
    if not stat.S_ISREG(st2.st_mode) or (st2.st_dev, st2.st_ino) != (st.st_dev, st.st_ino):
        os.close(fd)
        raise Rejected(f"media file {name!r} changed while it was checked")
    return fd


def store_verified(chunks, want_sha256: str, dst: Path, scratch: Path) -> int:
    """Write chunks to a temp file in scratch, check the sha256, then rename onto dst (never through a link
    at dst: rename replaces the link itself). Returns the size; Rejected on a hash mismatch."""
    scratch.mkdir(parents=True, exist_ok=True)
    h, size = hashlib.sha256(), 0
    fd, tmp = tempfile.mkstemp(dir=scratch, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            for block in chunks:
                h.update(block)
                size += len(block)
                f.write(block)
        if h.hexdigest() != want_sha256:
            raise Rejected(f"sha256 {h.hexdigest()[:12]}… differs from the recorded {want_sha256[:12]}…")
        dst.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, dst)
        return size
    finally:
        Path(tmp).unlink(missing_ok=True)


def read_fd(fd: int):
    with os.fdopen(fd, "rb") as f:
        yield from iter(lambda: f.read(1 << 20), b"")


def has_verified(dst: Path, want_sha256: str) -> bool:
    """An existing store file counts only if it is a regular file (not a link) with the right content."""
    try:
        st = os.lstat(dst)
    except FileNotFoundError:
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    h = hashlib.sha256()
    with open(dst, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest() == want_sha256
