"""A folder source's `start,end` section is cut exactly at ingest, and how it was cut is recorded."""

import csv

import pytest

from mmabench.config import BuildConfig, SourceConfig
from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import ingest
from mmabench.sources.folder import LabelsError
from tests.mediagen import make_clip


def test_folder_section_is_exact_and_recorded(db_url, tmp_path):
    make_clip(tmp_path / "in" / "long.mp4", seconds=10, fps=10, gop=25)  # keyframes at 0, 2.5, 5, 7.5 s
    labels = tmp_path / "in" / "labels.csv"
    with open(labels, "w", newline="") as f:
        csv.writer(f).writerows(
            [("path", "label", "start", "end"), ("long.mp4", "Dog", 4, 6), ("long.mp4", "Dog", 5, 7)]
        )
    src = SourceConfig(name="folder", options={"root": str(tmp_path / "in"), "labels": str(labels)})
    rep = ingest(BuildConfig(sources=[src]), home=tmp_path / "ws", db=db_url, progress=False)
    assert rep.clip_status == {"ok": 2}
    with Manifest(db_url, tmp_path / "ws") as m:
        clips = {c.start: c for c in m.clips()}
    assert abs(clips[4.0].duration - 2.0) <= 0.1 and abs(clips[5.0].duration - 2.0) <= 0.1
    assert clips[4.0].provenance["cut"]["video"] == "reencode" and clips[4.0].provenance["cut"]["crf"] == 18
    assert clips[5.0].provenance["cut"] == {"start": 5.0, "end": 7.0, "video": "copy"}


def _ingest(tmp_path, db_url, labels_text: str, name: str = "labels.csv", **options):
    labels = tmp_path / "in" / name
    labels.parent.mkdir(parents=True, exist_ok=True)
    labels.write_text(labels_text, encoding="utf-8")
    src = SourceConfig(name="folder", options={"root": str(tmp_path / "in"), "labels": str(labels)} | options)
    return ingest(BuildConfig(sources=[src]), home=tmp_path / "ws", db=db_url, progress=False)


def _reasons(rep) -> dict[int, str]:
    return {line: reason for _, line, reason in rep.bad_rows}


def test_bad_labels_and_sections_are_refused_per_row_and_the_rest_ingests(db_url, tmp_path):
    """On PostgreSQL a 201-character or NUL label used to abort the build with a DataError traceback."""
    for n in "abcdef":
        make_clip(tmp_path / "in" / f"{n}.mp4", seconds=3)
    rep = _ingest(
        tmp_path,
        db_url,
        "path,label,start,end\n"
        f"a.mp4,{'x' * 201},,\n"
        "b.mp4,Do\x00g,,\n"
        "c.mp4,Dogz,,\n"
        "d.mp4,Dog,2,1\n"
        "e.mp4,Cat,,\n"
        "f.mp4,/m/0bt9lr,,\n",
    )
    reasons = _reasons(rep)
    assert "longer than 200" in reasons[2] and "control characters" in reasons[3]
    assert "unknown class 'Dogz'" in reasons[4] and reasons[5] == "start after end"
    assert rep.clip_status == {"ok": 2}
    with Manifest(db_url, tmp_path / "ws") as m:
        assert sorted(c.label for c in m.clips()) == ["Cat", "Dog"]


def test_new_classes_are_kept_when_allowed(tmp_path):
    make_clip(tmp_path / "in" / "a.mp4")
    rep = _ingest(tmp_path, None, "path,label\na.mp4,My drone\n", allow_new_classes=True)
    assert rep.clip_status == {"ok": 1} and not rep.bad_rows


def test_excel_bom_csv_reads_every_row(tmp_path):
    make_clip(tmp_path / "in" / "a.mp4")
    labels = tmp_path / "in" / "labels.csv"
    labels.write_bytes("path,label\na.mp4,Dog\n".encode("utf-8-sig"))
    src = SourceConfig(name="folder", options={"root": str(tmp_path / "in"), "labels": str(labels)})
    rep = ingest(BuildConfig(sources=[src]), home=tmp_path / "ws", progress=False)
    assert rep.clip_status == {"ok": 1} and not rep.bad_rows


def test_json_object_is_a_one_line_error(tmp_path):
    with pytest.raises(LabelsError, match="list of"):
        _ingest(tmp_path, None, '{"path": "a.mp4", "label": "Dog"}', name="labels.json")


def test_conflicting_duplicates_are_both_reported_and_exact_repeats_kept_once(tmp_path):
    make_clip(tmp_path / "in" / "a.mp4")
    make_clip(tmp_path / "in" / "b.mp4")
    rep = _ingest(tmp_path, None, "path,label\na.mp4,Dog\na.mp4,Cat\nb.mp4,Cat\nb.mp4,Cat\n")
    reasons = _reasons(rep)
    assert set(reasons) == {2, 3} and all("conflicting labels" in r for r in reasons.values())
    assert rep.clip_status == {"ok": 1}


def test_paths_out_of_the_folder_are_refused(tmp_path):
    make_clip(tmp_path / "outside.mp4")
    make_clip(tmp_path / "in" / "ok.mp4")
    (tmp_path / "in" / "link.mp4").symlink_to(tmp_path / "outside.mp4")
    (tmp_path / "in" / "zero.mp4").symlink_to("/dev/zero")
    (tmp_path / "in" / "sub").mkdir()
    (tmp_path / "in" / "sub" / "inside.mp4").symlink_to(tmp_path / "in" / "ok.mp4")
    rows = ["../outside.mp4", str(tmp_path / "outside.mp4"), "link.mp4", "zero.mp4", "sub", "sub/inside.mp4"]
    rep = _ingest(tmp_path, None, "path,label\n" + "".join(f"{r},Dog\n" for r in rows))
    reasons = _reasons(rep)
    assert all("outside the folder" in reasons[n] for n in (2, 3, 4, 5))
    assert "not a regular file" in reasons[6]
    assert rep.clip_status == {"ok": 1}  # a symlink that stays inside is fine


def test_a_replaced_file_or_changed_label_is_re_ingested(db_url, tmp_path):
    make_clip(tmp_path / "in" / "a.mp4", freq=300)
    make_clip(tmp_path / "in" / "b.mp4", freq=500)
    _ingest(tmp_path, db_url, "path,label\na.mp4,Dog\nb.mp4,Cat\n")
    with Manifest(db_url, tmp_path / "ws") as m:
        before = {c.source_ref: c for c in m.clips()}
    make_clip(tmp_path / "in" / "a.mp4", freq=700, seconds=3)  # same name, other content
    rep = _ingest(tmp_path, db_url, "path,label\na.mp4,Dog\nb.mp4,Bird\n")
    assert rep.stages[0].done == 2
    with Manifest(db_url, tmp_path / "ws") as m:
        after = {c.source_ref: c for c in m.clips()}
    assert after["a.mp4"].sha256 != before["a.mp4"].sha256 and after["b.mp4"].label == "Bird"
    again = _ingest(tmp_path, db_url, "path,label\na.mp4,Dog\nb.mp4,Bird\n")
    assert again.stages[0].done == 0  # and nothing more once it is in


def test_scratch_of_a_killed_run_is_swept_but_a_live_ones_is_kept(tmp_path):
    import subprocess

    dead = subprocess.Popen(["true"])
    dead.wait()
    scratch = tmp_path / "ws" / "media" / ".scratch"
    (scratch / f"tmp{dead.pid}-abc" / "ytdlp").mkdir(parents=True)
    (scratch / f"tmp{dead.pid}-abc" / "ytdlp" / "x.part").write_bytes(b"x")
    (scratch / "tmp1-live").mkdir()  # pid 1 is alive
    make_clip(tmp_path / "in" / "a.mp4")
    _ingest(tmp_path, None, "path,label\na.mp4,Dog\n")
    assert sorted(p.name for p in scratch.iterdir()) == ["tmp1-live"]


def test_a_relabelled_or_replaced_clip_reaches_the_build(tmp_path):
    """Same names, other label / other bytes: the build answers with the new label and re-renders the media."""
    from mmabench.pipeline.build import build

    for n, f in zip("abcd", (300, 500, 700, 900)):
        make_clip(tmp_path / "in" / f"{n}.mp4", freq=f)
    labels = tmp_path / "in" / "labels.csv"
    labels.write_text("path,label\na.mp4,Dog\nb.mp4,Cat\nc.mp4,Dog\nd.mp4,Cat\n")
    src = SourceConfig(name="folder", options={"root": str(tmp_path / "in"), "labels": str(labels)})
    cfg = BuildConfig(sources=[src])
    build("conflict", cfg, home=tmp_path / "ws", progress=False)
    with Manifest(None, tmp_path / "ws") as m:
        a = next(c for c in m.clips() if c.source_ref == "a.mp4")
        aligned = {v.video_clip_id: v for v in m.variants("aligned")}[a.id]
        answers = {i.id: i.answer for i in m.items() if i.variant_id == aligned.id and i.prompt_modality == "visual"}
    assert list(answers.values()) == ["Dog"]
    labels.write_text("path,label\na.mp4,Cat\nb.mp4,Cat\nc.mp4,Dog\nd.mp4,Dog\n")  # same class list
    make_clip(tmp_path / "in" / "a.mp4", freq=1100)
    rep = build("conflict", cfg, home=tmp_path / "ws", progress=False)
    assert rep.new_work > 0
    with Manifest(None, tmp_path / "ws") as m:
        now = {v.id: v for v in m.variants("aligned")}[aligned.id]
        answers = {i.id: i.answer for i in m.items() if i.variant_id == aligned.id and i.prompt_modality == "visual"}
    assert list(answers.values()) == ["Cat"] and now.sha256 != aligned.sha256
