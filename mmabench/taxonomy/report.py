"""The curation report: what the rules keep, drop and merge, and why each segment of a list was dropped.

Pure tallies over label lists (reading the CSVs is the AudioSet source's job); `mmabench ontology --stats
--compare` prints them and writes them as CSV and Markdown.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from mmabench.taxonomy.curation import REASON_KINDS, Curation, reason_kind

STUDY_STAGE1_CLASSES = 61  # benchmark.md §2: classes after the study's stage 1 (its final set: 49)


@dataclass
class ListTally:
    name: str
    segments: int = 0
    per_class: Counter = field(default_factory=Counter)  # class mid -> kept segments (min_segments applied)
    reasons: Counter = field(default_factory=Counter)  # full drop reason -> segments
    carrying: Counter = field(default_factory=Counter)  # label mid -> segments that carry it

    @property
    def kinds(self) -> Counter:
        out: Counter = Counter({k: 0 for k in REASON_KINDS + ("below min_segments",)})
        for why, n in self.reasons.items():
            out[reason_kind(why)] += n
        return out


def tally(cur: Curation, name: str, label_lists: Iterable[list[str]]) -> ListTally:
    segs = [list(ls) for ls in label_lists]
    t = ListTally(name, len(segs))
    for labels, (mid, why) in zip(segs, cur.judge(segs)):
        t.carrying.update(set(labels))
        if mid:
            t.per_class[mid] += 1
        else:
            t.reasons[why] += 1
    return t


def class_rows(cur: Curation, tallies: list[ListTally]) -> list[dict]:
    """One row per surviving class of the rules: its rule, what merged into it, kept segments per list."""
    merged: dict[str, list[str]] = {}
    for m, d in cur.decisions.items():
        if d.kind == "class" and d.mid != m:
            merged.setdefault(d.mid, []).append(cur.base.name(m))
    rows = []
    for m in cur.classes:
        row: dict[str, object] = {"class": cur.base.name(m), "mid": m, "rule": cur.decisions[m].rule}
        row["absorbs"] = "; ".join(sorted(merged.get(m, [])))
        row |= {t.name: t.per_class[m] for t in tallies}
        rows.append(row)
    return sorted(rows, key=lambda r: (-sum(int(str(r[t.name])) for t in tallies), str(r["class"])))


def rule_rows(cur: Curation, tallies: list[ListTally]) -> list[dict]:
    """Every node a rule drops, merges or splits by lineage, and every class a list loses to min_segments,
    with the rule, its reason and the segments of each list that carry the label."""
    rows: list[dict[str, object]] = []
    for m, d in cur.decisions.items():
        if d.kind == "class" and d.mid == m:
            continue
        if d.kind == "class":
            what, rule = f"merged into {cur.base.name(d.mid)}", "merge"
        elif d.rule == "shared":
            what, rule = "segment excluded", "shared"
        else:
            what, rule = "segment excluded" if d.segment else "dropped", d.rule
        rows.append({"label": cur.base.name(m), "outcome": what, "rule": rule, "why": d.why})
    for m, (by, why) in cur.shared.items():
        if by == "lineage":
            rows.append({"label": cur.base.name(m), "outcome": "split by lineage", "rule": "shared", "why": why})
    for m in cur.generic:
        rows.append(
            {"label": cur.base.name(m), "outcome": "passed through", "rule": "generic", "why": "above other classes"}
        )
    for t in tallies:
        for why in t.reasons:
            if reason_kind(why) == "below min_segments":
                name = why.split(": ", 1)[1].rsplit(" (", 1)[0]
                rows.append(
                    {
                        "label": name,
                        "outcome": f"left out of {t.name}",
                        "rule": "min_segments",
                        "why": f"{t.reasons[why]} eligible segments < {cur.min_segments}",
                    }
                )
    for r in rows:
        mid = cur.base.mid(str(r["label"])) or ""
        r |= {t.name: t.carrying[mid] for t in tallies}
    return sorted(rows, key=lambda r: (str(r["rule"]), str(r["label"])))


def reason_rows(tallies: list[ListTally], top: int = 15) -> list[dict]:
    """Segments per reason kind, then the commonest detailed reasons, per list."""
    rows: list[dict[str, object]] = []
    for kind in REASON_KINDS + ("below min_segments",):
        rows.append({"reason": kind, "detail": ""} | {t.name: t.kinds[kind] for t in tallies})
    details: Counter = Counter()
    for t in tallies:
        details.update(t.reasons)
    for why, _ in details.most_common(top):
        rows.append({"reason": reason_kind(why), "detail": why} | {t.name: t.reasons[why] for t in tallies})
    return rows


def write(out: Path, tables: dict[str, list[dict]], summary: list[str]) -> list[Path]:
    """Each table as <name>.csv, and all of them in curation.md."""
    out.mkdir(parents=True, exist_ok=True)
    paths, md = [], ["# AudioSet stage-1 curation", "", *summary, ""]
    for name, rows in tables.items():
        cols = list(rows[0]) if rows else []
        p = out / f"{name}.csv"
        with open(p, "w", newline="") as f:
            w = csv.DictWriter(f, fieldnames=cols)
            w.writeheader()
            w.writerows(rows)
        paths.append(p)
        md += [f"## {name}", "", "| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
        md += ["| " + " | ".join(str(r[c]).replace("|", "\\|") for c in cols) + " |" for r in rows] + [""]
    p = out / "curation.md"
    p.write_text("\n".join(md))
    return [*paths, p]
