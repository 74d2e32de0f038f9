"""`import hf` against crafted releases: every attack is tried on one variant of a real release; that variant
is rejected with a reason, the rest imports, nothing outside the workspace changes and nothing from outside
the release reaches the media store."""

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from mmabench.db.manifest import Manifest
from mmabench.export.hf import export_hf, import_hf
from mmabench.export.safe_files import Rejected
from mmabench.pipeline.verify import verify_report

PASSWD = Path("/etc/passwd")


def sha_bytes(b: bytes) -> str:
    return hashlib.sha256(b).hexdigest()


def tree(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def set_row(meta: Path, variant_id: str, **values) -> None:
    """Rewrite the rows of one variant in a metadata.parquet (what an attacker controls)."""
    table = pq.read_table(meta)
    rows = table.to_pylist()
    assert any(r["variant_id"] == variant_id for r in rows)
    for r in rows:
        if r["variant_id"] == variant_id:
            r.update(values)
    import pyarrow as pa

    pq.write_table(pa.Table.from_pylist(rows, schema=table.schema), meta)


@pytest.fixture
def crafted(demo_home, tmp_path):
    """A real release, an `outside` folder holding a file an attacker wants, and the target row."""
    rel = export_hf(tmp_path / "rel", home=demo_home, splits=["conflict"]).out
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "victim.mp4").write_bytes(b"precious bytes that must not change")
    (outside / "payload.mp4").write_bytes(b"attacker bytes from outside the release")
    meta = sorted((rel / "media").glob("*/metadata.parquet"))[0]
    row = pq.read_table(meta).to_pylist()[0]
    return rel, outside, meta, row


def run_import(rel, tmp_path):
    ws = tmp_path / "ws_import"
    rep = import_hf(str(rel), home=ws)
    return ws, rep


def assert_store_clean(ws: Path, outside: Path, before: dict[str, bytes]) -> None:
    assert tree(outside) == before  # nothing written or overwritten outside the workspace
    for p in (ws / "media").rglob("*"):
        if p.is_file() and p.suffix == ".mp4":
            assert not p.is_symlink() and sha_bytes(p.read_bytes()) == p.stem  # store holds only verified bytes
            assert p.read_bytes() not in (PASSWD.read_bytes(), *before.values())


ATTACKS = ["dotdot", "absolute", "symlink_passwd", "symlink_dir", "dev_zero", "fifo", "hardlink", "bad_sha_name"]


@pytest.mark.parametrize("attack", ATTACKS)
def test_crafted_path_is_rejected_and_the_rest_imports(crafted, tmp_path, attack):
    rel, outside, meta, row = crafted
    vid, folder = row["variant_id"], meta.parent
    payload = (outside / "payload.mp4").read_bytes()
    if attack == "dotdot":
        depth = len(folder.relative_to(tmp_path).parts)
        set_row(meta, vid, file_name="../" * depth + "outside/payload.mp4", media_sha256=sha_bytes(payload))
        why = "leaves the release"
    elif attack == "absolute":
        set_row(meta, vid, file_name=str(outside / "payload.mp4"), media_sha256=sha_bytes(payload))
        why = "is absolute"
    elif attack == "symlink_passwd":
        (folder / "pw.mp4").symlink_to(PASSWD)
        set_row(meta, vid, file_name="pw.mp4", media_sha256=sha_bytes(PASSWD.read_bytes()))
        why = "symlink"
    elif attack == "symlink_dir":
        (folder / "sub").symlink_to(outside, target_is_directory=True)
        set_row(meta, vid, file_name="sub/payload.mp4", media_sha256=sha_bytes(payload))
        why = "symlink"
    elif attack == "dev_zero":
        (folder / "zero.mp4").symlink_to("/dev/zero")
        set_row(meta, vid, file_name="zero.mp4")
        why = "symlink"
    elif attack == "fifo":
        os.mkfifo(folder / "pipe.mp4")  # opening it for reading would block forever
        set_row(meta, vid, file_name="pipe.mp4")
        why = "not a regular file"
    elif attack == "hardlink":
        os.link(outside / "payload.mp4", folder / "linked.mp4")
        set_row(meta, vid, file_name="linked.mp4", media_sha256=sha_bytes(payload))
        why = "hard-linked"
    else:  # the recorded hash names the store file: a path in it must not steer the write
        set_row(meta, vid, media_sha256="../../../../outside/victim")
        why = "is not a sha256"
    before = tree(outside)
    ws, rep = run_import(rel, tmp_path)
    assert [v for v, _ in rep.rejected] == [vid] and why in rep.rejected[0][1]
    assert rep.variants == 36 - 1 and rep.items == 72 - 2  # the rest of the release is imported
    assert_store_clean(ws, outside, before)
    with Manifest(home=ws) as m:
        assert vid not in {v.id for v in m.variants()}


def test_hash_mismatch_rejects_the_file_and_exits_non_zero(crafted, tmp_path):
    rel, outside, meta, row = crafted
    target = meta.parent / row["file_name"]
    sharing = {r["variant_id"] for r in pq.read_table(meta).to_pylist() if r["file_name"] == row["file_name"]}
    target.write_bytes(target.read_bytes() + b"tampered")
    before = tree(outside)
    ws = tmp_path / "ws_cli"
    res = subprocess.run(
        [sys.executable, "-m", "mmabench.cli", "import", "hf", str(rel), "--home", str(ws)],
        capture_output=True,
        text=True,
        env={**os.environ, "COLUMNS": "300"},
    )
    assert res.returncode == 1, res.stdout + res.stderr
    assert f"rejected {len(sharing)} variant(s)" in res.stderr and "differs from the recorded" in res.stderr
    assert f"imported {72 - 2 * len(sharing)} items" in res.stdout
    assert_store_clean(ws, outside, before)
    assert not list((ws / "media").rglob("*.part"))  # the rejected copy left nothing behind


def test_existing_store_link_is_replaced_not_followed(crafted, tmp_path):
    """A link planted at the store path the import will write must not carry the write outside."""
    rel, outside, meta, row = crafted
    ws = tmp_path / "ws_import"
    dst = ws / "media" / "variants" / row["media_sha256"][:2] / f"{row['media_sha256']}.mp4"
    dst.parent.mkdir(parents=True)
    dst.symlink_to(outside / "victim.mp4")
    before = tree(outside)
    rep = import_hf(str(rel), home=ws)
    assert rep.rejected == [] and not dst.is_symlink()
    assert_store_clean(ws, outside, before)


def test_card_pointing_outside_is_refused(crafted, tmp_path):
    rel, outside, meta, row = crafted
    card = (rel / "README.md").read_text().replace("media/*/metadata.parquet", "../outside/*.parquet")
    (rel / "README.md").write_text(card)
    with pytest.raises(Rejected, match="leaves the release"):
        import_hf(str(rel), home=tmp_path / "ws1")
    (rel / "README.md").unlink()
    (rel / "README.md").symlink_to(PASSWD)
    with pytest.raises(Rejected, match="symlink"):
        import_hf(str(rel), home=tmp_path / "ws2")


def test_verify_on_an_imported_workspace(crafted, tmp_path):
    rel = crafted[0]
    ws, rep = run_import(rel, tmp_path)
    assert rep.rejected == []
    bad, fixed, notes = verify_report(home=ws)
    assert bad == [] and fixed == 0
    assert any("18 source clips are not in this workspace" in n for n in notes)
    victim = next((ws / "media" / "variants").rglob("*.mp4"))
    victim.write_bytes(b"x")
    bad, fixed, notes = verify_report(home=ws, repair=True)
    assert len(bad) >= 1 and fixed == 0 and all(why == "hash differs from the manifest" for _, why in bad)
    assert any("cannot re-render" in n for n in notes)
