"""Which files the viewer may send: only regular files inside the media store, after resolving symlinks."""

from __future__ import annotations

from pathlib import Path, PurePosixPath


class Refused(PermissionError):
    """A path that names something outside the media store (traversal, absolute path, symlink out)."""


def media_file(root: Path, rel: str) -> Path:
    """The file `rel` names under `root`. Raises Refused for escapes, FileNotFoundError for absent files."""
    p = PurePosixPath(rel)
    if not rel or "\\" in rel or "\x00" in rel or p.is_absolute() or ".." in p.parts:
        raise Refused(rel)
    base = root.resolve()
    target = (base / p).resolve()  # follows symlinks: a link pointing outside resolves outside
    if not target.is_relative_to(base):
        raise Refused(rel)
    if not target.is_file():
        raise FileNotFoundError(rel)
    return target
