"""A folder source's `start,end` section is cut exactly at ingest, and how it was cut is recorded."""

import csv

from mmabench.config import BuildConfig, SourceConfig
from mmabench.db.manifest import Manifest
from mmabench.pipeline.build import ingest
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
