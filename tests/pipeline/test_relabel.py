"""`relabel` after a rules change, on clip rows as AudioSet ingest records them (source "audioset", the
segment's own labels and list in provenance), on SQLite and PostgreSQL."""

import hashlib
import re

from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.manifest import Manifest
from mmabench.db.models import ClipRow
from mmabench.pipeline.relabel import relabel
from mmabench.sources.audioset import read_segments
from mmabench.taxonomy.curation import DEFAULT_RULES, Curation

SHIPPED = Curation.load()
ONTO = SHIPPED.ontology


def _segment(ytid: str):
    return next(s for s in read_segments("eval") if s.ytid == ytid)


def _row(seg, label: str, source: str = "audioset") -> dict:
    return dict(
        id=hashlib.sha256(f"{source}/{seg.ytid}".encode()).hexdigest()[:16],
        source=source,
        source_ref=seg.ytid,
        start=seg.start,
        end=seg.end,
        label=label,
        label_mid=ONTO.mid(label),
        status="ok",
        path=f"clips/{seg.ytid}.mp4",
        provenance={"segments": seg.file, "line": seg.line, "labels": seg.labels, "curation_sha256": "old"},
    )


def _clips(db_url, home) -> dict[str, ClipRow]:
    with Manifest(db_url, home) as m, m.session() as s:
        return {r.source_ref: r for r in s.query(ClipRow)}


def test_relabel_moves_and_drops_by_the_current_rules_and_records_it(db_url, tmp_path):
    home = tmp_path / "ws"
    growl = _segment("0Wkk9iNzA9c")  # Dog, Growling, ...: the old single-parent mapping said Cat
    bounce = next(s for s in read_segments("eval") if SHIPPED.class_of(s.labels)[0] == ONTO.mid("Basketball bounce"))
    dog = next(
        s for s in read_segments("eval") if SHIPPED.class_of(s.labels)[0] == ONTO.mid("Dog") and s.ytid != growl.ytid
    )
    with Manifest(db_url, home) as m:
        m.upsert(
            ClipRow,
            [_row(growl, "Cat"), _row(bounce, "Basketball bounce"), _row(dog, "Dog")]
            + [_row(dog, "Dog", "folder") | {"source_ref": "x.mp4"}],
        )
    # a rules change: eval has 16 eligible Basketball bounce segments, fewer than the new minimum of 20
    rules = tmp_path / "rules.toml"
    text = DEFAULT_RULES.read_text()
    assert "\nmin_segments = 15\n" in text
    rules.write_text(text.replace("\nmin_segments = 15\n", "\nmin_segments = 20\n"))

    dry = relabel(rules, home=home, db=db_url, dry_run=True)
    assert (dry.clips, dry.unchanged, len(dry.changes)) == (3, 1, 2)
    assert {c.source_ref: (c.old, c.new, c.reason) for c in dry.changes} == {
        growl.ytid: ("Cat", "Dog", ""),
        bounce.ytid: ("Basketball bounce", None, "below min_segments: Basketball bounce (16)"),
    }
    assert {r.label for r in _clips(db_url, home).values()} == {"Cat", "Basketball bounce", "Dog"}  # nothing written

    done = relabel(rules, home=home, db=db_url)
    assert [(c.old, c.new) for c in sorted(done.changes, key=lambda c: c.old)] == [
        ("Basketball bounce", None),
        ("Cat", "Dog"),
    ]
    rows = _clips(db_url, home)
    moved, gone, same = rows[growl.ytid], rows[bounce.ytid], rows[dog.ytid]
    assert (moved.label, moved.label_mid, moved.status) == ("Dog", ONTO.mid("Dog"), "ok")
    sha = Curation.load(rules).rules_sha256
    assert moved.provenance["relabels"][0] | {"at": None} == {
        "from": "Cat",
        "to": "Dog",
        "reason": None,
        "curation_sha256": sha,
        "at": None,
    }
    assert moved.provenance["curation_sha256"] == sha and moved.provenance["labels"] == growl.labels
    assert gone.status == "dropped" and gone.error.endswith("below min_segments: Basketball bounce (16)")
    assert gone.provenance["relabels"][0]["to"] is None and gone.label == "Basketball bounce"
    assert "relabels" not in same.provenance
    again = relabel(rules, home=home, db=db_url)  # idempotent: nothing left to move
    assert (again.clips, again.changes) == (2, [])


def test_relabel_cli_summary_and_dry_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMABENCH_HOME", raising=False)
    monkeypatch.delenv("MMABENCH_DB", raising=False)
    runner = CliRunner()
    empty = runner.invoke(app, ["relabel"])
    assert empty.exit_code == 1 and "no ingested AudioSet clips" in empty.output
    growl = _segment("0Wkk9iNzA9c")
    with Manifest(home=tmp_path / "mmabench_data") as m:
        m.upsert(ClipRow, [_row(growl, "Cat")])
    dry = runner.invoke(app, ["relabel", "--dry-run"])
    assert dry.exit_code == 0 and "1 AudioSet clips: 0 unchanged, 1 relabelled, 0 dropped (dry run" in dry.output
    assert re.search(r"Cat\s*│\s*Dog\s*│\s*1", dry.output)
    assert runner.invoke(app, ["relabel"]).exit_code == 0
    assert "1 unchanged, 0 relabelled" in runner.invoke(app, ["relabel"]).output
