"""Verify variant media against the manifest and re-render from recipes: the manifest is the truth.

Media are read through the store (`--media-url`: a folder or an fsspec URL), hashed where they are stored.
Workspaces imported from a release hold variant files but not the source clips they were rendered from:
their files are checked against the hashes all the same, and a repair that would need a missing source
says so instead of failing."""

from __future__ import annotations

from typing import Optional

from mmabench.db.manifest import Manifest
from mmabench.db.models import VariantRow
from mmabench.media.store import MediaStore, StoreError, check_key, store_for
from mmabench.pipeline.build import ClipKeys, _variant_row, render_variant
from mmabench.schema import ClipStatus


def verify(
    home=None, db=None, repair: bool = False, console=None, media_url: Optional[str] = None
) -> tuple[list[tuple[str, str]], int]:
    """(bad source clips ("clip ID") and variants with the reason, variants re-rendered); notes go to `console`."""
    bad, fixed, _ = verify_report(home, db, repair, console, media_url)
    return bad, fixed


def _problem(store: MediaStore, key: Optional[str], sha: Optional[str]) -> Optional[str]:
    """Why the stored object at `key` is not the manifest's, or None when it is."""
    if not key:
        return "missing"
    try:
        check_key(key)
    except StoreError:
        return "path outside the media store"
    if store.isdir(key):
        return "a folder where the file should be"
    if not store.exists(key):
        return "missing"
    if sha and store.sha256(key) != sha:
        return "hash differs from the manifest"
    return None


def verify_report(
    home=None, db=None, repair: bool = False, console=None, media_url: Optional[str] = None
) -> tuple[list[tuple[str, str]], int, list[str]]:
    """(bad variants with the reason, variants re-rendered, notes on what could not be checked or repaired)."""
    bad: list[tuple[str, str]] = []
    notes: list[str] = []
    fixed = 0
    with Manifest(db, home) as m:
        store = store_for(media_url, m.home)
        ok = m.clips(status=ClipStatus.ok)
        clips: ClipKeys = {}
        lost = 0
        for c in ok:  # source clips: checked, never re-rendered (`build` re-ingests them from their source)
            if not c.path:
                continue
            why = _problem(store, c.path, c.sha256)
            if why is None:
                clips[c.id] = (c.path, c.sha256)
            else:
                bad.append((f"clip {c.id}", why))
                lost += 1
        if lost:
            notes.append(
                f"{lost} source clip(s) missing or changed: they cannot be "
                "re-rendered; run `mmabench build` to ingest them again from their source"
            )
        absent = [c.id for c in ok if not c.path]
        if absent:
            notes.append(
                f"{len(absent)} source clips are not in this workspace (imported from a release): variant files "
                "are checked against their hashes but cannot be re-rendered"
            )
        for v in m.variants():
            why = _problem(store, v.path, v.sha256)
            if why is None:
                continue
            bad.append((v.id, why))
            if repair:
                gone = [c for c in (v.video_clip_id, v.audio_clip_id) if c and c not in clips]
                if gone:
                    notes.append(f"cannot re-render {v.id}: source clip {', '.join(gone)} is not usable here")
                    continue
                if why == "path outside the media store":
                    notes.append(f"cannot re-render {v.id}: its path {v.path!r} is outside the media store")
                    continue
                if v.path:
                    store.remove(v.path)
                nv, error = render_variant(v, clips, store)
                if error is None:
                    m.upsert(VariantRow, [_variant_row(nv)], update=["sha256", "bytes", "recipe", "tool_versions"])
                    fixed += 1
                else:
                    notes.append(f"cannot re-render {v.id}: {error}")
    if console is not None:
        for n in notes:
            console.print(n, markup=False, highlight=False)
    return bad, fixed, notes
