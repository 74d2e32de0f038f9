"""The AudioSet ontology (shipped as data/ontology.json, CC BY-SA 4.0): names, mids, ancestry.

Stage-1 curation rules build on this (see the AudioSet source); the builder uses it to keep donors and
wrong captions out of a clip's own lineage (a Dog clip never gets Animal audio as its "conflict").
"""

from __future__ import annotations

import json
from functools import cached_property, lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "audioset" / "ontology.json"


class Ontology:
    def __init__(self, nodes: list[dict]):
        self.nodes = {n["id"]: n for n in nodes}
        self.by_name = {n["name"].lower(): n["id"] for n in nodes}

    @classmethod
    def load(cls, path: str | Path = DATA) -> "Ontology":
        return cls(json.loads(Path(path).read_text()))

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
        seen, todo = set(), list(self.parents.get(mid, ()))
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(self.parents.get(m, ()))
        return seen

    def descendants(self, mid: str) -> set[str]:
        seen, todo = set(), list(self.nodes.get(mid, {}).get("child_ids", []))
        while todo:
            m = todo.pop()
            if m not in seen:
                seen.add(m)
                todo.extend(self.nodes.get(m, {}).get("child_ids", []))
        return seen

    def related(self, a: str | None, b: str | None) -> bool:
        """True when one class is the other, or its ancestor or descendant."""
        if not a or not b or a not in self.nodes or b not in self.nodes:
            return a is not None and a == b
        return a == b or b in self.ancestors(a) or a in self.ancestors(b)


@lru_cache(maxsize=1)
def default_ontology() -> Ontology:
    return Ontology.load()
