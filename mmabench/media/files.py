"""Files of the media store: hashing, atomic writes (temp name, fsync, rename), sweeping a killed writer's temps, the error type."""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import shutil
from pathlib import Path
from typing import Iterator

import av

from mmabench.schema import ClipStatus

MUX_OPTIONS = {"movflags": "+faststart"}


class MediaError(Exception):
    """A clip that cannot be used; `status` says why in one word, the message in a sentence."""

    def __init__(self, status: ClipStatus, message: str):
        super().__init__(message)
        self.status = status


def tool_versions() -> dict[str, str]:
    return {"pyav": av.__version__, "libavformat": ".".join(map(str, av.library_versions["libavformat"]))}


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


@contextlib.contextmanager
def atomic_output(path: str | Path, fsync: bool = True) -> Iterator[Path]:
    """Yield a temp name beside `path`; on success rename it to `path` (after an fsync unless `fsync=False`:
    for files the caller can re-make and whose hash it records, see `media.writers`)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{id(path):x}.part{path.suffix}")
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def scratch_prefix() -> str:
    """Name prefix of a worker's folder under media/.scratch (downloads, yt-dlp parts): carries the writer's
    pid so a later run can tell a killed run's folder from a live one's."""
    return f"tmp{os.getpid()}-"


def sweep_partials(root: str | Path) -> int:
    """Delete temp files left by killed writers (`atomic_output` names them .NAME.PID.ID.partEXT) and scratch
    folders (`scratch_prefix`, with their yt-dlp parts) whose process is gone; a live writer's are left alone.
    Returns how many were removed."""
    n = 0
    scratch = Path(root) / ".scratch"
    for d in scratch.glob("tmp*-*") if scratch.is_dir() else ():
        hit = re.fullmatch(r"tmp(\d+)-.+", d.name)
        if hit is None or not d.is_dir() or int(hit.group(1)) == os.getpid() or _alive(int(hit.group(1))):
            continue
        shutil.rmtree(d, ignore_errors=True)
        n += 1
    for tmp in Path(root).rglob(".*.part*"):
        hit = re.fullmatch(r"\..+\.(\d+)\.[0-9a-f]+\.part(\.[^.]*)?", tmp.name)
        if hit is None or int(hit.group(1)) == os.getpid() or _alive(int(hit.group(1))):
            continue
        tmp.unlink(missing_ok=True)
        n += 1
    return n


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
