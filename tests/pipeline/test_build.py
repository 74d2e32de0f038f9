"""End to end on the embedded demo corpus and on a bad-input folder, against SQLite and PostgreSQL."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from mmabench.config import BuildConfig, SourceConfig
from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from mmabench.pipeline.build import BuildConfigMismatch, build
from mmabench.pipeline.verify import verify
from mmabench.schema import Condition
from tests.mediagen import make_clip, packets, truncate

TABLES = ("builds", "clips", "variants", "items")


def dump(url: str) -> dict:
    eng = create_engine(url)
    with eng.connect() as c:
        out = {t: sorted(map(tuple, c.execute(text(f"SELECT * FROM {t}"))), key=repr) for t in TABLES}
    eng.dispose()
    return out


def test_demo_conflict_build_end_to_end(db_url, tmp_path):
    report = build("conflict", home=tmp_path, db=db_url, progress=False)
    assert report.clip_status == {"ok": 18}
    assert report.items == {(c, m): 18 for c in ("aligned", "av_swap") for m in ("visual", "audio")}
    cols, rows = run_readonly(
        db_url, "SELECT condition, prompt_modality, count(*) FROM items_flat GROUP BY 1, 2 ORDER BY 1, 2"
    )
    assert rows == [
        ("aligned", "audio", 18),
        ("aligned", "visual", 18),
        ("av_swap", "audio", 18),
        ("av_swap", "visual", 18),
    ]
    with Manifest(db_url, tmp_path) as m:
        clips = {c.id: c for c in m.clips()}
        assert all(c.provenance["assets"] and c.provenance["assets"][0]["license"] for c in clips.values())
        swaps = m.variants(Condition.av_swap)
        assert len(swaps) == 18
        for v in swaps:
            src, donor = clips[v.video_clip_id], clips[v.audio_clip_id]
            assert src.label != donor.label
            out = m.media_root / v.path
            assert packets(out, "video") == packets(m.media_root / src.path, "video")
            assert packets(out, "audio") == packets(m.media_root / donor.path, "audio")[: len(packets(out, "audio"))]
        # the flat view carries both classes and the media path
        _, flat = run_readonly(
            db_url,
            "SELECT visual_class, audio_class, answer, prompt_modality, media_path "
            "FROM items_flat WHERE condition = 'av_swap'",
        )
        for vis, aud, ans, mod, path in flat:
            assert vis != aud and ans == (vis if mod == "visual" else aud) and (m.media_root / path).is_file()
    assert verify(home=tmp_path, db=db_url) == ([], 0)


def test_second_run_does_no_work_and_changes_no_row(db_url, tmp_path):
    build("conflict", home=tmp_path, db=db_url, progress=False)
    before = dump(db_url)
    again = build("conflict", home=tmp_path, db=db_url, progress=False)
    assert again.new_work == 0 and [s.planned for s in again.stages] == [0, 0, 0]
    assert dump(db_url) == before


def test_same_inputs_same_manifest_anywhere_and_seed_changes_donors(tmp_path):
    def donors_and_items(home, seed, name="default", db=None):
        build("conflict", BuildConfig(name=name, seed=seed), home=home, db=db, progress=False)
        _, d = run_readonly(
            db or f"sqlite:///{home}/manifest.db",
            "SELECT video_clip_id, audio_clip_id FROM variants WHERE condition = 'av_swap' ORDER BY 1, 2",
        )
        _, items = run_readonly(
            db or f"sqlite:///{home}/manifest.db",
            f"SELECT id, answer, options, prompt FROM items WHERE build = '{name}' ORDER BY id",
        )
        return d, items

    a_donors, a_items = donors_and_items(tmp_path / "a", 0)
    b_donors, b_items = donors_and_items(tmp_path / "b", 0)
    assert (a_donors, a_items) == (b_donors, b_items)
    c_donors, _ = donors_and_items(tmp_path / "c", 7)
    assert c_donors != a_donors
    with pytest.raises(BuildConfigMismatch, match="seed: 0 -> 7"):
        build("conflict", BuildConfig(seed=7), home=tmp_path / "a", progress=False)
    # a second build under another name lives beside the first in the same manifest
    s7 = build("conflict", BuildConfig(name="seed7", seed=7), home=tmp_path / "a", progress=False)
    assert s7.stages[0].done == 0 and s7.stages[1].done > 0  # clips reused, new swaps rendered


def _bad_folder(root: Path) -> Path:
    good = {f"dog{i}.mp4": ("Dog", 300 + 50 * i) for i in range(2)} | {
        f"cat{i}.mp4": ("Cat", 900 + 50 * i) for i in range(2)
    }
    for name, (_, freq) in good.items():
        make_clip(root / name, seconds=2, freq=freq)
    make_clip(root / "long.mp4", seconds=3)
    (root / "empty.mp4").write_bytes(b"")
    (root / "junk.mp4").write_text("definitely not a video")
    truncate(root / "long.mp4", root / "truncated.mp4", 0.5)
    make_clip(root / "noaudio.mp4", audio=False)
    make_clip(root / "novideo.mp4", video=False)
    make_clip(root / "silent.mp4", silent=True)
    make_clip(root / "short.mp4", seconds=0.5)
    rows = [(n, lab, "", "") for n, (lab, _) in good.items()] + [
        ("empty.mp4", "Dog", "", ""),
        ("junk.mp4", "Cat", "", ""),
        ("truncated.mp4", "Dog", "", ""),
        ("noaudio.mp4", "Dog", "", ""),
        ("novideo.mp4", "Cat", "", ""),
        ("silent.mp4", "Cat", "", ""),
        ("short.mp4", "Dog", "", ""),
        ("missing.mp4", "Cat", "", ""),
        ("long.mp4", "/m/0bt9lr", "0", "10"),
    ]
    labels = root / "labels.csv"
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows([("path", "label", "start", "end"), *rows])
    return labels


EXPECTED_BAD = {
    "empty.mp4": "empty",
    "junk.mp4": "unreadable",
    "truncated.mp4": "truncated",
    "noaudio.mp4": "no_audio",
    "novideo.mp4": "no_video",
    "silent.mp4": "silent",
    "short.mp4": "too_short",
    "missing.mp4": "missing",
    "long.mp4": "too_short",
}


def test_bad_inputs_are_recorded_and_good_clips_built(db_url, tmp_path):
    labels = _bad_folder(tmp_path / "in")
    cfg = BuildConfig(
        sources=[SourceConfig(name="folder", options={"root": str(tmp_path / "in"), "labels": str(labels)})]
    )
    report = build("full", cfg, home=tmp_path / "ws", db=db_url, progress=False)
    assert report.clip_status == {
        "ok": 4,
        **{s: sum(v == s for v in EXPECTED_BAD.values()) for s in set(EXPECTED_BAD.values())},
    }
    _, rows = run_readonly(db_url, "SELECT source_ref, status, error, attempts FROM clips")
    got = {r[0]: r for r in rows}
    for ref, status in EXPECTED_BAD.items():
        assert got[ref][1] == status and got[ref][2], ref
    assert "Dog" in {r[0] for r in run_readonly(db_url, "SELECT label FROM clips WHERE source_ref='long.mp4'")[1]}
    assert sum(report.items.values()) == 4 * 6 * 2  # 4 good clips x 6 conditions x 2 prompts
    again = build("full", cfg, home=tmp_path / "ws", db=db_url, progress=False)
    assert again.new_work == 0
    retry = build("full", cfg, home=tmp_path / "ws", db=db_url, progress=False, retry_failed=True)
    assert retry.stages[0].done == len(EXPECTED_BAD) and retry.stages[1].done == 0
    _, rows = run_readonly(db_url, "SELECT count(*), count(DISTINCT id), max(attempts) FROM clips")
    assert rows[0][0] == rows[0][1] == 4 + len(EXPECTED_BAD) and rows[0][2] == 2


def test_killed_build_resumes_without_duplicates(tmp_path):
    home = tmp_path / "ws"
    cmd = [
        sys.executable,
        "-m",
        "mmabench.cli",
        "build",
        "--split",
        "full",
        "--home",
        str(home),
        "--workers",
        "1",
        "--no-progress",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    db = home / "manifest.db"
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None:  # wait until variants are being rendered
        if db.exists():
            try:
                if run_readonly(f"sqlite:///{db}", "SELECT count(*) FROM variants")[1][0][0] > 0:
                    break
            except Exception:
                pass
        time.sleep(0.05)
    assert proc.poll() is None, "the build finished before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    resumed = build("full", home=home, progress=False)
    _, rows = run_readonly(
        f"sqlite:///{db}",
        "SELECT (SELECT count(*) FROM clips), (SELECT count(*) FROM variants), (SELECT count(*) FROM items)",
    )
    assert rows == [(18, 18 * 6, 18 * 6 * 2)]  # one variant row per condition; text ones share media
    assert resumed.stages[0].done == 0 and 0 < resumed.stages[1].done < 18 * 6
    assert verify(home=home) == ([], 0)
    assert not list(home.rglob("*.part*"))


def test_verify_repairs_a_lost_variant_from_its_recipe(tmp_path):
    build("unimodal", home=tmp_path, progress=False)
    with Manifest(home=tmp_path) as m:
        v = m.variants(Condition.frames_zeroed)[0]
    f = tmp_path / "media" / v.path
    f.unlink()
    bad, _ = verify(home=tmp_path)
    assert bad == [(v.id, "missing")]
    assert verify(home=tmp_path, repair=True)[1] == 1
    assert f.is_file() and verify(home=tmp_path) == ([], 0)
    with Manifest(home=tmp_path) as m:
        assert {x.id: x.sha256 for x in m.variants(Condition.frames_zeroed)}[v.id] == v.sha256
