"""Stage-1 curation on the real ontology and eval list; AudioSet ingest from a loopback server with faults."""

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.readonly import run_readonly
from mmabench.sources.audioset import AudioSetSource, read_segments
from mmabench.taxonomy.curation import Curation
from tests.httpfaults import FaultServer
from tests.mediagen import make_clip

SNAPSHOT = Path(__file__).parent / "curation_eval_snapshot.json"


@pytest.fixture(scope="module")
def cur():
    return Curation.load()


def test_curation_invariants(cur):
    onto = cur.ontology
    classes = set(cur.classes)
    for mid in classes:
        node = onto.nodes[mid]
        assert not set(node.get("restrictions", [])) & {"abstract", "blacklist"}, node["name"]
        assert not onto.ancestors(mid) & classes, f"{node['name']} has a surviving ancestor"
    name = {onto.name(m) for m in classes}
    assert {"Dog", "Cat", "Bird", "Brass instrument", "Bowed string instrument", "Glass"} <= name
    assert not {"Bark", "Meow", "Hiss", "Music genre", "Animal", "Loudspeaker", "Inside, small room"} & name
    assert cur.mapping[onto.mid("Bark")] == onto.mid("Dog")
    assert cur.mapping[onto.mid("Chink, clink")] == onto.mid("Glass")
    assert cur.mapping[onto.mid("Hiss")] is None


def test_segment_rules(cur):
    m = cur.ontology.mid
    assert cur.class_of([m("Animal"), m("Domestic animals, pets"), m("Dog"), m("Bark")]) == (m("Dog"), "")
    assert cur.class_of([m("Dog"), m("Speech")])[1] == "2 classes"
    assert cur.class_of([m("Dog"), m("Inside, small room")]) == (m("Dog"), "")  # environment label ignored
    assert cur.class_of([m("Hiss")]) == (None, "no valid class")


def test_eval_list_matches_snapshot(cur):
    bad: list = []
    segs = list(read_segments("eval", bad))
    assert len(segs) == 20371 and bad == []
    counts = cur.stats(s.labels for s in segs)
    vocab = cur.vocabulary(counts)
    got = {
        "rules_sha256": cur.rules_sha256,
        "classes": len(vocab),
        "per_class": {cur.ontology.name(m): counts[m] for m in vocab},
    }
    assert got == json.loads(SNAPSHOT.read_text())
    assert all(n >= cur.min_segments for n in got["per_class"].values())


def test_bad_csv_rows_are_reported_not_fatal(tmp_path):
    f = tmp_path / "seg.csv"
    f.write_text(
        "# comment\nYTID, start_seconds, end_seconds, positive_labels\n"
        'aaa, 0.000, 2.000, "/m/0bt9lr"\n'
        'bbb, zero, 2.000, "/m/0bt9lr"\n'
        'ccc, 3.000, 2.000, "/m/0bt9lr"\n'
        "ddd, 0.000\n"
        'eee, 0.000, 2.000, "/m/01yrx"\n'
    )
    bad: list = []
    assert [s.ytid for s in read_segments(f, bad)] == ["aaa", "eee"]
    assert [line for _, line, _ in bad] == [4, 5, 6]


def _real_rows(n_per_class: dict[str, int]) -> list[tuple[str, str]]:
    """Real YTIDs and label lists from the shipped eval list, for the wanted classes."""
    cur = Curation.load()
    want = {cur.ontology.mid(k): v for k, v in n_per_class.items()}
    out, seen = [], Counter()
    for s in read_segments("eval"):
        mid, _ = cur.class_of(s.labels)
        if mid in want and seen[mid] < want[mid]:
            seen[mid] += 1
            out.append((s.ytid, ",".join(s.labels)))
    return out


def test_ingest_30_clips_with_faults_then_resume(tmp_path, monkeypatch):
    rows = _real_rows({"Dog": 8, "Cat": 8, "Bird": 8, "Car": 8})
    seg = tmp_path / "segments.csv"
    seg.write_text(
        "# test list\nYTID, start_seconds, end_seconds, positive_labels\n"
        + "".join(f'{y}, 1.000, 3.000, "{labels}"\n' for y, labels in rows)
    )
    srv_root = tmp_path / "srv"
    for i, (ytid, _) in enumerate(rows):
        make_clip(srv_root / f"{ytid}.mp4", seconds=4, freq=200 + 20 * i)
    ids = [y for y, _ in rows]
    faults = {
        ids[0]: "404",
        ids[1]: "404",
        ids[2]: "500x1",
        ids[3]: "500x1",
        ids[4]: "429x99",
        ids[5]: "429x99",
        ids[6]: "trunc",
    }
    (srv_root / f"{ids[7]}.mp4").write_bytes(b"")  # a zero-byte file on the server
    home = tmp_path / "ws"
    monkeypatch.setenv("MMABENCH_HOME", str(home))

    def ingest(*extra):
        res = CliRunner().invoke(
            app,
            [
                "--url-template",
                srv.url_template,
                "--retries",
                "1",
                "--backoff",
                "0.01",
                "--timeout",
                "5",
                "--concurrency",
                "4",
                "ingest",
                "audioset",
                "--segments",
                str(seg),
                "--no-progress",
                *extra,
            ],
            catch_exceptions=False,
        )
        assert res.exit_code == 0, res.output
        _, st = run_readonly(f"sqlite:///{home}/manifest.db", "SELECT status, count(*) FROM clips GROUP BY 1")
        return dict(st)

    with FaultServer(srv_root, faults=faults) as srv:
        first = ingest()
    assert sum(first.values()) == 32
    assert first["unavailable"] == 2 and first["rate_limited"] == 2 and first["ok"] == 32 - 2 - 2 - 2
    assert sum(v for k, v in first.items() if k not in ("ok", "unavailable", "rate_limited")) == 2  # trunc + empty
    _, rows_ = run_readonly(
        f"sqlite:///{home}/manifest.db", f"SELECT attempts FROM clips WHERE source_ref = '{ids[2]}'"
    )
    assert rows_ == [(2,)]
    with FaultServer(srv_root, faults=faults) as srv:
        assert ingest() == first and sum(srv.hits.values()) == 0  # resume: nothing re-tried
    faults.pop(ids[4])  # the throttle lifts
    with FaultServer(srv_root, faults=faults) as srv:
        after = ingest("--retry-failed")
        assert set(srv.hits) == {ids[i] for i in (0, 1, 4, 5, 6, 7)}  # only failures are re-tried
    assert after["ok"] == first["ok"] + 1 and after["rate_limited"] == 1
    _, n = run_readonly(f"sqlite:///{home}/manifest.db", "SELECT count(*), count(DISTINCT id) FROM clips")
    assert n == [(32, 32)]
    store = home / "media"
    assert not [p for p in store.rglob("*") if p.is_file() and p.suffix != ".mp4"]
    assert len(list((store / "clips").rglob("*.mp4"))) == after["ok"]


def test_audioset_source_selects_stably(tmp_path):
    a = [s.id for s in AudioSetSource("eval", classes=["Dog", "Cat"], per_class=3).specs()]
    b = [s.id for s in AudioSetSource("eval", classes=["Cat", "Dog"], per_class=3).specs()]
    assert a == b and len(a) == 6
    specs = list(AudioSetSource("eval", classes=["Dog"], per_class=2, url_template="http://m/{ytid}.mp4").specs())
    assert all(s.label == "Dog" and s.uri == f"http://m/{s.source_ref}.mp4" and s.end - s.start == 10 for s in specs)
    with pytest.raises(ValueError, match="unknown AudioSet class"):
        list(AudioSetSource("eval", classes=["Dgo"]).specs())
