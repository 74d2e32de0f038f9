"""Verify variant media against the manifest and re-render from recipes: the manifest is the truth."""

from __future__ import annotations

from mmabench import media
from mmabench.db.manifest import Manifest
from mmabench.db.models import VariantRow
from mmabench.pipeline.build import _variant_row, render_variant
from mmabench.schema import ClipStatus


def verify(home=None, db=None, repair: bool = False, console=None) -> tuple[list[tuple[str, str]], int]:
    bad: list[tuple[str, str]] = []
    fixed = 0
    with Manifest(db, home) as m:
        clips = {c.id: m.media_root / c.path for c in m.clips(status=ClipStatus.ok)}
        for v in m.variants():
            f = m.media_root / (v.path or "")
            if not f.is_file():
                bad.append((v.id, "missing"))
            elif media.sha256_file(f) != v.sha256:
                bad.append((v.id, "hash differs from the manifest"))
            else:
                continue
            if repair:
                f.unlink(missing_ok=True)
                nv, error = render_variant(v, clips, m.media_root)
                if error is None:
                    m.upsert(VariantRow, [_variant_row(nv)], update=["sha256", "bytes", "recipe", "tool_versions"])
                    fixed += 1
    return bad, fixed
