"""Stage-1 curation of AudioSet labels as code over a rules file (data/curation.toml).

`Curation.class_of(label_mids)` applies, per segment: strip labels that are ancestors of other labels
(Animal, Pets, Dog, Bark -> Bark), map each to its surviving class (absorbing over-fine classes into their
mid-level ancestor; dropping restricted, action-less, ambiguous ones), and keep the segment only when
exactly one class is left.
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Optional

from mmabench.taxonomy.ontology import Ontology, default_ontology

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "data" / "curation.toml"


@dataclass
class Curation:
    ontology: Ontology
    rules: dict
    rules_sha256: str

    @classmethod
    def load(cls, rules: str | Path | None = None, ontology: Ontology | None = None) -> "Curation":
        path = Path(rules or DEFAULT_RULES)
        raw = path.read_bytes()
        return cls(ontology or default_ontology(), tomllib.loads(raw.decode()), hashlib.sha256(raw).hexdigest())

    def _mids(self, names: Iterable[str], what: str) -> set[str]:
        out = set()
        for n in names:
            mid = self.ontology.mid(n)
            if mid is None:
                raise ValueError(f"curation rules: {what} names unknown class {n!r}")
            out.add(mid)
        return out

    @cached_property
    def depth(self) -> dict[str, int]:
        depth: dict[str, int] = {}

        def d(mid: str) -> int:
            if mid not in depth:
                ps = self.ontology.parents.get(mid) or set()
                depth[mid] = 0 if not ps else 1 + min(d(p) for p in ps)
            return depth[mid]

        for mid in self.ontology.nodes:
            d(mid)
        return depth

    def _primary_parent(self, mid: str) -> Optional[str]:
        ps = self.ontology.parents.get(mid) or set()
        return min(ps, key=lambda p: (self.depth[p], p)) if ps else None

    @cached_property
    def mapping(self) -> dict[str, Optional[str]]:
        """Every ontology mid -> the surviving class it counts as, or None when it is dropped."""
        r = self.rules
        keep = self._mids(r.get("keep", {}).get("names", []), "keep")
        absorb = {self.ontology.mid(a): self.ontology.mid(b) for a, b in r.get("absorb", {}).items()}
        if None in absorb or None in absorb.values():
            raise ValueError("curation rules: [absorb] names an unknown class")
        drops = r.get("drop", {})
        denied = self._mids(drops.get("no_visible_action", []), "drop.no_visible_action") | self._mids(
            drops.get("ambiguous", []), "drop.ambiguous"
        )
        subtrees = self._mids(r.get("drop_subtrees", []), "drop_subtrees")
        dropped_subtree = set(subtrees).union(*(self.ontology.descendants(m) for m in subtrees))
        restricted = {
            m
            for m, n in self.ontology.nodes.items()
            if set(n.get("restrictions", [])) & set(r.get("drop_restrictions", []))
        }
        max_depth, min_depth = int(r.get("absorb_depth", 2)), int(r.get("min_depth", 0))

        def target(mid: str) -> Optional[str]:
            if mid in denied or mid in dropped_subtree:
                return None
            path, seen = [mid], mid  # mid and its ancestors along primary parents
            while (p := self._primary_parent(seen)) is not None:
                path.append(p)
                seen = p
            kept_above = ({mid} | self.ontology.ancestors(mid)) & keep
            kept = max(kept_above, key=lambda m: (self.depth[m], m)) if kept_above else None
            if kept is not None:  # a kept class absorbs its whole subtree (all parents, not one)
                out = kept
            elif mid in absorb:
                out = absorb[mid]
            else:  # the ancestor at absorb_depth (or mid itself if shallower)
                out = next((m for m in path if self.depth[m] <= max_depth), None)
                if out is not None and out in absorb:
                    out = absorb[out]
            if out is None or out in restricted or out in denied or out in dropped_subtree:
                return None
            if out not in keep and self.depth[out] < min_depth:
                return None
            return out

        first = {mid: target(mid) for mid in self.ontology.nodes}
        # A generic class that is an ancestor of another surviving class cannot name a segment's source
        # (a bare "Motor vehicle (road)" could be the Car or the Truck class): drop it.
        survivors = {m for m in first.values() if m}
        generic = ({a for m in survivors for a in self.ontology.ancestors(m)} & survivors) - keep
        return {mid: (None if t in generic else t) for mid, t in first.items()}

    @cached_property
    def classes(self) -> list[str]:
        return sorted({m for m in self.mapping.values() if m}, key=self.ontology.name)

    def class_of(self, label_mids: Iterable[str]) -> tuple[Optional[str], str]:
        """(class mid, "") for an eligible segment, else (None, reason)."""
        labels = {m for m in label_mids if m in self.ontology.nodes}
        if not labels:
            return None, "no known label"
        ancestors = set().union(*(self.ontology.ancestors(m) for m in labels))
        leaves = labels - ancestors
        classes = {self.mapping[m] for m in leaves} - {None}
        if not classes:
            return None, "no valid class"
        if len(classes) > 1:
            return None, f"{len(classes)} classes"
        return classes.pop(), ""

    @property
    def min_segments(self) -> int:
        return int(self.rules.get("min_segments", 1))

    def stats(self, segments: Iterable[Iterable[str]]) -> Counter:
        """Eligible segments per class (all classes, before the min_segments cut)."""
        return Counter(c for c, _ in map(self.class_of, segments) if c)

    def vocabulary(self, counts: Counter) -> list[str]:
        """Classes of a segment list that have at least `min_segments` eligible segments."""
        return sorted((c for c, n in counts.items() if n >= self.min_segments), key=self.ontology.name)
