"""Verify variant media against the manifest and re-render from recipes: the manifest is the truth.

Workspaces imported from a release hold variant files but not the source clips they were rendered from:
their files are checked against the hashes all the same, and a repair that would need a missing source
says so instead of failing."""

from __future__ import annotations

from mmabench import media
from mmabench.db.manifest import Manifest
from mmabench.db.models import VariantRow
from mmabench.pipeline.build import _variant_row, remove_path, render_variant
from mmabench.schema import ClipStatus


def verify(home=None, db=None, repair: bool = False, console=None) -> tuple[list[tuple[str, str]], int]:
    """(bad source clips ("clip ID") and variants with the reason, variants re-rendered); notes go to `console`."""
    bad, fixed, _ = verify_report(home, db, repair, console)
    return bad, fixed


def verify_report(
    home=None, db=None, repair: bool = False, console=None
) -> tuple[list[tuple[str, str]], int, list[str]]:
    """(bad variants with the reason, variants re-rendered, notes on what could not be checked or repaired)."""
    bad: list[tuple[str, str]] = []
    notes: list[str] = []
    fixed = 0
    with Manifest(db, home) as m:
        ok = m.clips(status=ClipStatus.ok)
        clips = {c.id: m.media_root / c.path for c in ok if c.path}
        for c in ok:  # source clips: checked, never re-rendered (`build` re-ingests them from their source)
            if c.path and not clips[c.id].is_file():
                bad.append((f"clip {c.id}", "missing"))
            elif c.path and c.sha256 and media.sha256_file(clips[c.id]) != c.sha256:
                bad.append((f"clip {c.id}", "hash differs from the manifest"))
            else:
                continue
            del clips[c.id]
        if len(clips) < len([c for c in ok if c.path]):
            notes.append(
                f"{len([c for c in ok if c.path]) - len(clips)} source clip(s) missing or changed: they cannot be "
                "re-rendered; run `mmabench build` to ingest them again from their source"
            )
        absent = [c.id for c in ok if not c.path]
        if absent:
            notes.append(
                f"{len(absent)} source clips are not in this workspace (imported from a release): variant files "
                "are checked against their hashes but cannot be re-rendered"
            )
        for v in m.variants():
            f = m.media_root / (v.path or "")
            if v.path and f.is_dir():
                bad.append((v.id, "a folder where the file should be"))
            elif not v.path or not f.is_file():
                bad.append((v.id, "missing"))
            elif media.sha256_file(f) != v.sha256:
                bad.append((v.id, "hash differs from the manifest"))
            else:
                continue
            if repair:
                lost = [c for c in (v.video_clip_id, v.audio_clip_id) if c and c not in clips]
                if lost:
                    notes.append(f"cannot re-render {v.id}: source clip {', '.join(lost)} is not usable here")
                    continue
                if v.path:
                    remove_path(f)
                nv, error = render_variant(v, clips, m.media_root)
                if error is None:
                    m.upsert(VariantRow, [_variant_row(nv)], update=["sha256", "bytes", "recipe", "tool_versions"])
                    fixed += 1
                else:
                    notes.append(f"cannot re-render {v.id}: {error}")
    if console is not None:
        for n in notes:
            console.print(n, markup=False, highlight=False)
    return bad, fixed, notes
