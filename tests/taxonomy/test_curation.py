"""Stage-1 curation on the shipped ontology and rules: per-segment lineage (cases written by hand from
benchmark.md §2 and issue 10), rule validation, and relatedness of the surviving classes."""

from pathlib import Path

import pytest

from mmabench.taxonomy.curation import Curation, CurationError, reason_kind
from mmabench.taxonomy.ontology import raw_ontology

RULES = Path(__file__).resolve().parents[2] / "mmabench" / "data" / "curation.toml"


@pytest.fixture(scope="module")
def cur():
    return Curation.load()


# (segment labels, expected class or None, expected reason) — written by hand, not computed by the code.
LINEAGE = [
    (["Dog", "Growling"], "Dog", ""),
    (["Cat", "Growling"], "Cat", ""),
    (["Roaring cats (lions, tigers)", "Growling"], "Roaring cats (lions, tigers)", ""),
    (["Growling"], None, "ambiguous lineage: Growling -> Cat|Dog|Roaring cats (lions, tigers)"),
    (["Animal", "Growling"], None, "ambiguous lineage: Growling -> Cat|Dog|Roaring cats (lions, tigers)"),
    (
        ["Domestic animals, pets", "Growling"],
        None,
        "ambiguous lineage: Growling -> Cat|Dog|Roaring cats (lions, tigers)",
    ),
    (["Animal", "Domestic animals, pets", "Dog", "Bark"], "Dog", ""),
    (["Bark"], "Dog", ""),
    (["Canidae, dogs, wolves", "Howl"], "Dog", ""),  # merged into Dog
    (["Howl"], "Dog", ""),  # under Dog and Canidae: one class after the merge
    (["Cat", "Hiss"], "Cat", ""),
    (["Snake", "Hiss"], "Snake", ""),
    (["Hiss"], None, "ambiguous lineage: Hiss -> Cat|Snake|Steam (dropped)"),
    (["Steam", "Hiss"], None, "no valid class: no visible source"),
    (["Bell", "Cowbell"], "Bell", ""),
    (["Cattle, bovinae", "Cowbell"], "Cattle, bovinae", ""),
    (["Music", "Musical instrument", "Percussion", "Cowbell"], "Percussion", ""),
    (["Cowbell"], None, "ambiguous lineage: Cowbell -> Bell|Cattle, bovinae|Percussion"),
    (["Bleat"], None, "no valid class: not one source"),
    (["Siren", "Police car (siren)"], "Siren", ""),
    (["Emergency vehicle", "Police car (siren)"], "Motor vehicle (road)", ""),
    (["Chirp, tweet"], "Bird", ""),  # its Onomatopoeia parent names no source
    (["Duck", "Quack"], "Bird", ""),  # Fowl merged into Bird
    (["Fire", "Crackle"], "Fire", ""),  # an onomatopoeia child does not hide its source parent
    (["Car", "Vehicle horn, car horn, honking"], "Motor vehicle (road)", ""),
    (["Dog", "Inside, small room"], "Dog", ""),  # an environment names no class
    (["Dog", "Speech"], None, "several classes: Dog|Speech"),
    (["Dog", "Cat", "Growling"], None, "ambiguous lineage: Growling -> Cat|Dog"),
    (["Speech", "Television"], None, "excluded label: Television"),  # the speaker is a loudspeaker
    (["Speech", "Narration, monologue"], None, "excluded label: Narration, monologue"),
    (["Fart"], None, "no valid class: action-less body sound"),
    (["Speech", "Fart"], "Speech", ""),  # a dropped label is ignored, as in the study
    (["Hiss", "Music genre"], None, "ambiguous lineage: Hiss -> Cat|Snake|Steam (dropped)"),
    (["Heart murmur"], None, "no valid class: no visible source"),  # blacklisted, under a dropped parent
    (["Animal"], None, "no valid class: generic"),
    (["Music"], None, "no valid class: generic"),
    (["Fusillade"], "Explosion", ""),  # blacklisted leaf passes through to its kept class
]


@pytest.mark.parametrize("labels,cls,reason", LINEAGE, ids=["+".join(c[0]) for c in LINEAGE])
def test_segment_lineage(cur, labels, cls, reason):
    mid = cur.base.mid
    assert all(mid(n) for n in labels), labels
    got, why = cur.class_of([mid(n) for n in labels])
    assert (cur.base.name(got) if got else None, why) == (cls, reason)


def test_unknown_and_empty_labels(cur):
    assert cur.class_of(["/m/not-a-mid"]) == (None, "no known label")
    assert cur.class_of([]) == (None, "no known label")
    assert reason_kind("ambiguous lineage: Growling -> Cat|Dog") == "ambiguous lineage"


def test_surviving_classes_are_sources_and_never_related(cur):
    onto, names = cur.ontology, {cur.base.name(m) for m in cur.classes}
    assert {"Dog", "Cat", "Bird", "Brass instrument", "Bowed string instrument", "Glass", "Speech"} <= names
    gone = {"Canidae, dogs, wolves", "Fowl", "Alarm clock", "Smoke detector, smoke alarm", "Fire alarm", "Engine"}
    gone |= {"Fart", "Sniff", "Hiccup", "Breathing", "Sigh", "Groan", "Gargling", "Air conditioning", "Buzzer"}
    gone |= {"Bark", "Hiss", "Growling", "Music genre", "Animal", "Sheep", "Goat", "Car", "Truck"}
    assert not gone & names
    for m in cur.classes:
        assert not set(onto.nodes[m].get("restrictions", [])) & {"abstract", "blacklist"}
    pairs = [(a, b) for i, a in enumerate(cur.classes) for b in cur.classes[i + 1 :] if onto.related(a, b)]
    assert pairs == []


def test_shared_descendants_never_both_survive_without_a_rule(cur):
    """In the raw ontology, two surviving classes share a descendant only through a label the rules split
    by the segment's lineage (Growling, Hiss, Cowbell, Bicycle bell, the emergency sirens)."""
    raw, classes = raw_ontology(), cur.classes
    split = {cur.base.name(m) for m, (by, _) in cur.shared.items() if by == "lineage"}
    for i, a in enumerate(classes):
        for b in classes[i + 1 :]:
            common = {cur.base.name(x) for x in raw.descendants(a) & raw.descendants(b)}
            assert common <= split, (cur.base.name(a), cur.base.name(b), common - split)
    assert {"Growling", "Hiss", "Cowbell"} <= split


def test_related_covers_ancestry_shared_descendants_and_merges(cur):
    o, m = cur.ontology, cur.ontology.mid
    assert o.related(m("Dog"), m("Bark")) and o.related(m("Animal"), m("Dog"))  # ancestry
    assert o.related(m("Dog"), m("Canidae, dogs, wolves"))  # merged (they also share Howl)
    assert o.related(m("Fowl"), m("Bird")) and o.related(m("Duck"), m("Bird"))  # merged, no common descendant
    assert o.related(m("Goat"), m("Sheep"))  # both dropped, but share Bleat
    assert o.related(m("Power tool"), m("Engine"))  # share Dental drill (dropped, not split)
    assert o.related(m("Dog"), m("Growling")) and o.related(m("Cat"), m("Growling"))
    assert not o.related(m("Dog"), m("Cat")) and not o.related(m("Cat"), m("Snake"))  # split by lineage
    assert not o.related(m("Dog"), m("Speech")) and not o.related(None, m("Dog"))
    raw = raw_ontology()  # the published graph, no rules: Dog and Cat share Growling
    assert raw.related(m("Dog"), m("Cat")) and not raw.related(m("Fowl"), m("Bird"))


def _rules(tmp_path, old: str, new: str) -> Path:
    text = RULES.read_text()
    assert old in text
    p = tmp_path / "rules.toml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_rules_that_leave_classes_sharing_a_label_are_refused(tmp_path):
    p = _rules(tmp_path, '"Growling" = { by = "lineage"', '"Growlingx" = { by = "lineage"')
    with pytest.raises(CurationError, match="unknown class 'Growlingx'"):
        Curation.load(p)
    p = _rules(tmp_path, '"Growling" = { by = "lineage"', '# "Growling" = { by = "lineage"')
    with pytest.raises(CurationError, match=r"need a \[shared\] rule: Growling \(Cat \| Dog \| Roaring cats"):
        Curation.load(p)
    p = _rules(tmp_path, '"Canidae, dogs, wolves" = {', '# "Canidae, dogs, wolves" = {')
    with pytest.raises(CurationError, match=r"Howl \(Canidae, dogs, wolves \| Dog\)"):
        Curation.load(p)
    p = _rules(tmp_path, "[shared]\n", '[shared]\n"Bark" = { by = "lineage", why = "x" }\n')
    with pytest.raises(CurationError, match="lie under one class or none"):
        Curation.load(p)
    p = _rules(tmp_path, 'rule = "not one source"\n', "")
    with pytest.raises(CurationError, match="malformed entry.*rule"):
        Curation.load(p)
    p = _rules(tmp_path, "version = 2", "version = 1")
    with pytest.raises(CurationError, match="version = 2"):
        Curation.load(p)
    p = _rules(tmp_path, "[merge]\n", '[merge]\n"Shout" = { into = "Laughter", why = "x" }\n')
    with pytest.raises(CurationError, match="below other classes.*Children shouting below Shout"):
        Curation.load(p)
    p = _rules(tmp_path, "[merge]\n", '[merge]\n"Dog" = { into = "Bark", why = "x" }\n')
    with pytest.raises(CurationError, match="into 'Bark': not a class"):
        Curation.load(p)


def test_rules_hash_and_a_rules_change_moves_segments(tmp_path):
    base = Curation.load()
    p = _rules(tmp_path, '"Fowl" = { into = "Bird"', '# "Fowl" = { into = "Bird"')
    alt = Curation.load(p)
    assert alt.rules_sha256 != base.rules_sha256 and len(alt.rules_sha256) == 64
    quack = [alt.base.mid("Duck"), alt.base.mid("Quack")]
    assert alt.base.name(alt.class_of(quack)[0]) == "Fowl" and base.base.name(base.class_of(quack)[0]) == "Bird"
    assert not alt.ontology.related(alt.base.mid("Fowl"), alt.base.mid("Bird"))
