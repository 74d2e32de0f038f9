"""Stage-1 curation on the real ontology and eval list; AudioSet ingest from a loopback server with faults."""

import json
import random
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmabench.cli import app
from mmabench.db.readonly import run_readonly
from mmabench.sources.audioset import AudioSetSource, read_segments
from mmabench.taxonomy.curation import Curation, reason_kind
from mmabench.taxonomy.report import tally
from tests.httpfaults import FaultServer
from tests.mediagen import make_clip

SNAPSHOT = Path(__file__).parent / "curation_snapshot.json"
RULES = Path(__file__).resolve().parents[2] / "mmabench" / "data" / "curation.toml"


@pytest.fixture(scope="module")
def cur():
    return Curation.load()


def snapshot_of(cur: Curation) -> dict:
    """Counts of the shipped lists under the shipped rules: classes kept per list, and every drop reason
    (by kind; detailed except the many "several classes" pairs)."""
    out: dict = {"rules_sha256": cur.rules_sha256}
    for lst in ("eval", "balanced_train"):
        t = tally(cur, lst, (s.labels for s in read_segments(lst)))
        out[lst] = {
            "segments": t.segments,
            "classes": len(t.per_class),
            "per_class": {
                cur.base.name(m): n for m, n in sorted(t.per_class.items(), key=lambda x: cur.base.name(x[0]))
            },
            "dropped_by_kind": dict(sorted(t.kinds.items())),
            "dropped_by_reason": {
                why: n for why, n in sorted(t.reasons.items()) if reason_kind(why) != "several classes"
            },
        }
    return out


def test_shipped_lists_match_snapshot_with_reasons(cur):
    """Regenerate after a deliberate rules change: python -m tests.sources.test_audioset"""
    got = snapshot_of(cur)
    assert got == json.loads(SNAPSHOT.read_text())
    for lst in ("eval", "balanced_train"):
        g = got[lst]
        assert sum(g["per_class"].values()) + sum(g["dropped_by_kind"].values()) == g["segments"]
        assert all(n >= cur.min_segments for n in g["per_class"].values())
    assert 55 <= got["eval"]["classes"] <= 70 and 55 <= got["balanced_train"]["classes"] <= 70


def lineage_mismatch(cur: Curation, labels: list[str], cls: str) -> str:
    """Checks an assignment against the segment's own labels, independently of the resolution code: some
    label must lie under the class (or a class merged into it), and no other label above that label may lie
    on the way to a different class (Dog, Growling -> Cat fails: Dog is another class). "" when fine."""
    onto = cur.base
    group = {cls} | {m for m in onto.nodes if cur.class_mid(m) == cls}

    def elsewhere(a: str) -> bool:  # a, or something above it, is another class
        return any(cur.class_mid(x) not in (None, cls) for x in {a} | onto.ancestors(a))

    for lab in labels:
        for g in group:
            if g == lab or g in onto.ancestors(lab):
                above = [a for a in labels if a != lab and a in onto.ancestors(lab)]
                if not any(elsewhere(a) for a in above if not (g in onto.ancestors(a) or a in onto.ancestors(g))):
                    return ""
    return f"no label of {[onto.name(x) for x in labels]} lies under {onto.name(cls)} along its own lineage"


def test_200_eval_segments_are_assigned_along_their_own_lineage(cur):
    """A seeded sample of 200 kept eval segments: each class checked against the segment's labels."""
    onto = cur.ontology
    segs = list(read_segments("eval"))
    kept = [(s, c) for s, (c, _) in zip(segs, cur.judge(s.labels for s in segs)) if c]
    sample = random.Random(10).sample(kept, 200)
    surviving = set(cur.classes)
    mismatches = []
    for s, c in sample:
        why = lineage_mismatch(cur, s.labels, c)
        others = {cur.class_mid(x) for x in s.labels} & surviving - {c}
        if why or others:
            mismatches.append((s.ytid, why, sorted(onto.name(o) for o in others)))
    assert mismatches == []
    # and the check is not vacuous: the old fixed-parent mapping (Growling -> Cat) fails it
    m = onto.mid
    assert lineage_mismatch(cur, [m("Dog"), m("Growling")], m("Cat"))
    assert lineage_mismatch(cur, [m("Speech")], m("Cat"))
    assert not lineage_mismatch(cur, [m("Dog"), m("Growling")], m("Dog"))
    assert not lineage_mismatch(cur, [m("Canidae, dogs, wolves")], m("Dog"))  # merged
    assert not lineage_mismatch(cur, [m("Music"), m("Chant")], m("Singing"))  # Music names no other class


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
    rows = _real_rows({"Dog": 8, "Cat": 8, "Bird": 8, "Motor vehicle (road)": 8})
    rules = tmp_path / "rules.toml"  # a list of 8 segments per class needs a lower min_segments
    rules.write_text(RULES.read_text().replace("min_segments = 15", "min_segments = 8"))
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
                "--rules",
                str(rules),
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
    _, rows_ = run_readonly(  # a 429 given up on after --retries 1: both tries are counted
        f"sqlite:///{home}/manifest.db", f"SELECT attempts FROM clips WHERE source_ref = '{ids[4]}'"
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


def test_min_segments_applies_to_the_pool_a_source_reads(tmp_path):
    rows = _real_rows({"Dog": 8, "Cat": 16})
    seg = tmp_path / "segments.csv"
    seg.write_text("".join(f'{y}, 0.000, 10.000, "{labels}"\n' for y, labels in rows))
    src = AudioSetSource(str(seg))
    assert {s.label for s in src.specs()} == {"Cat"}  # 8 Dog segments < min_segments 15
    assert src.ineligible == Counter({"below min_segments: Dog (8)": 8})
    low = tmp_path / "rules.toml"
    low.write_text(RULES.read_text().replace("min_segments = 15", "min_segments = 8"))
    assert {s.label for s in AudioSetSource(str(seg), curation=str(low)).specs()} == {"Cat", "Dog"}
    with pytest.raises(ValueError, match="changed since the build was configured"):
        AudioSetSource(str(seg), curation=str(low), curation_sha256=Curation.load().rules_sha256)


def test_merged_class_names_select_their_class():
    specs = list(AudioSetSource("eval", classes=["Canidae, dogs, wolves"], per_class=3).specs())
    assert [s.label for s in specs] == ["Dog"] * 3


def test_rules_hash_is_build_configuration(tmp_path, monkeypatch):
    """build --source audioset records the rules' sha256; changed rules are a changed configuration."""
    rows = _real_rows({"Dog": 2, "Cat": 2})
    seg = tmp_path / "segments.csv"
    seg.write_text("".join(f'{y}, 1.000, 3.000, "{labels}"\n' for y, labels in rows))
    for i, (ytid, _) in enumerate(rows):
        make_clip(tmp_path / "srv" / f"{ytid}.mp4", seconds=4, freq=300 + 60 * i)
    r1, r2 = tmp_path / "r1.toml", tmp_path / "r2.toml"
    r1.write_text(RULES.read_text().replace("min_segments = 15", "min_segments = 2"))
    r2.write_text(r1.read_text().replace("a cupboard door is a door", "a cupboard's door is a door"))
    home = tmp_path / "ws"
    monkeypatch.setenv("MMABENCH_HOME", str(home))

    def build(rules, *extra):
        return CliRunner().invoke(
            app,
            ["--url-template", srv.url_template, "build", "--source", "audioset", "--segments", str(seg)]
            + ["--rules", str(rules), "--no-progress", *extra],
        )

    with FaultServer(tmp_path / "srv") as srv:
        first = build(r1)
        assert first.exit_code == 0, first.output
        again = build(r2)
        assert again.exit_code == 2 and "another configuration" in again.output and "Traceback" not in again.output
        assert "curation_sha256" in again.output
        assert build(r2, "--name", "other").exit_code == 0
        bad = tmp_path / "bad.toml"
        bad.write_text(RULES.read_text().replace('"Growling" = {', '# "Growling" = {'))
        res = build(bad)
        text = " ".join(res.output.split())  # rich wraps at the test terminal's width
        assert res.exit_code == 2 and "need a [shared] rule: Growling" in text and "Traceback" not in text
    _, cfgs = run_readonly(f"sqlite:///{home}/manifest.db", "SELECT name, config FROM builds ORDER BY name")
    sha = {
        name: (json.loads(c) if isinstance(c, str) else c)["sources"][0]["options"]["curation_sha256"]
        for name, c in cfgs
    }
    assert sha == {"default": Curation.load(r1).rules_sha256, "other": Curation.load(r2).rules_sha256}


if __name__ == "__main__":  # regenerate the snapshot
    SNAPSHOT.write_text(json.dumps(snapshot_of(Curation.load()), indent=1, ensure_ascii=False) + "\n")
