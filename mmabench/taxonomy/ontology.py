"""The AudioSet ontology (shipped as data/ontology.json, CC BY-SA 4.0): names, mids, ancestry, relatedness.

Stage-1 curation rules build on this (taxonomy.curation); the builder uses `related` to keep donors and
wrong captions out of a clip's own lineage (a Dog clip never gets Animal audio as its "conflict").
"""

from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Iterable, Mapping, Optional

DATA = Path(__file__).resolve().parents[1] / "data" / "audioset" / "ontology.json"


class Ontology:
    """The ontology graph; `merged` and `unshared` come from curation rules (see `curated`)."""

    def __init__(
        self, nodes: list[dict], merged: Optional[Mapping[str, str]] = None, unshared: Iterable[str] = ()
    ) -> None:
        self.nodes = {n["id"]: n for n in nodes}
        self.by_name = {n["name"].lower(): n["id"] for n in nodes}
        self.merged: dict[str, str] = dict(merged or {})  # mid -> the class it was merged into
        self.unshared: frozenset[str] = frozenset(unshared)  # labels the rules resolve per segment or exclude
        self._down_cache: dict[str, set[str]] = {}
        self._up_cache: dict[str, frozenset[str]] = {}

    @classmethod
    def load(cls, path: str | Path = DATA) -> "Ontology":
        return cls(json.loads(Path(path).read_text()))

    def curated(self, merged: Mapping[str, str], unshared: Iterable[str]) -> "Ontology":
        """The same graph with a curation's merges and its per-segment (split or excluded) labels, which
        `related` needs: merged classes are one class, and a label the segment's own lineage assigns to one
        class (Growling: Dog or Cat) does not make its parents share a descendant."""
        return Ontology(list(self.nodes.values()), merged, unshared)

    @cached_property
    def parents(self) -> dict[str, set[str]]:
        parents: dict[str, set[str]] = {mid: set() for mid in self.nodes}
        for mid, node in self.nodes.items():
            for child in node.get("child_ids", []):
                parents.setdefault(child, set()).add(mid)
        return parents

    def mid(self, name_or_mid: str) -> str | None:
        if name_or_mid in self.nodes:
            return name_or_mid
        return self.by_name.get(name_or_mid.lower())

    def name(self, mid: str) -> str:
        return self.nodes[mid]["name"]

    def ancestors(self, mid: str) -> set[str]:
        if mid not in self._up_cache:  # cached: relatedness asks for the same few classes many times
            seen: set[str] = set()
            todo = list(self.parents.get(mid, ()))
            while todo:
                m = todo.pop()
                if m not in seen:
                    seen.add(m)
                    todo.extend(self.parents.get(m, ()))
            self._up_cache[mid] = frozenset(seen)
        return set(self._up_cache[mid])

    def descendants(self, mid: str, skip: frozenset[str] = frozenset()) -> set[str]:
        seen: set[str] = set()
        todo = list(self.nodes.get(mid, {}).get("child_ids", []))
        while todo:
            m = todo.pop()
            if m not in seen and m not in skip:
                seen.add(m)
                todo.extend(self.nodes.get(m, {}).get("child_ids", []))
        return seen

    @cached_property
    def _groups(self) -> dict[str, set[str]]:
        groups: dict[str, set[str]] = {}
        for src, dst in self.merged.items():
            groups.setdefault(dst, {dst}).add(src)
        return {m: g for dst, g in groups.items() for m in g}

    def _down(self, mid: str) -> set[str]:
        """The class with its merged classes, and all their descendants but the unshared labels."""
        if mid not in self._down_cache:
            out: set[str] = set()
            for m in self._groups.get(mid, {mid}):
                out |= {m} | self.descendants(m, self.unshared)
            self._down_cache[mid] = out
        return self._down_cache[mid]

    def related(self, a: str | None, b: str | None) -> bool:
        """True when a and b are one class, merged classes, one an ancestor of the other, or when they share
        a descendant (Howl under Dog and Canidae); labels the rules split by lineage are not shared."""
        if not a or not b or a not in self.nodes or b not in self.nodes:
            return a is not None and a == b
        ga, gb = self._groups.get(a, {a}), self._groups.get(b, {b})
        if ga & gb or any(x in self.ancestors(y) or y in self.ancestors(x) for x in ga for y in gb):
            return True
        return bool(self._down(a) & self._down(b))


@lru_cache(maxsize=1)
def raw_ontology() -> Ontology:
    """The shipped ontology as published, without any curation."""
    return Ontology.load()


@lru_cache(maxsize=1)
def default_ontology() -> Ontology:
    """The shipped ontology curated by the shipped rules (data/curation.toml): what the builder relates."""
    from mmabench.taxonomy.curation import Curation

    return Curation.load().ontology
