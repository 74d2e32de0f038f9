"""Stage-1 curation of AudioSet labels as code over a rules file (data/curation.toml, benchmark.md §2).

Every ontology node gets a decision from the rules: a class (kept, at the absorb depth, or merged into a
class), a drop (with its rule and reason), or none (a pass-through node: too generic, too fine, restricted).
A label's class is the first decision on its way up; a label with several parents may meet several
(Growling: Dog, Cat, Roaring cats). Per segment:
1. labels that meet only drops or nothing (Animal, Music, Inside small room) are set aside;
2. labels that are ancestors of other remaining labels are stripped (Animal, Pets, Dog, Bark -> Bark);
3. each remaining label climbs only the paths the segment itself supports, those through a label it also
   carries (a `Dog, Growling` segment climbs through Dog), or all its paths when it carries none;
   several classes on those paths drop the segment: "ambiguous lineage: Growling -> Cat|Dog|…";
4. the segment is kept when exactly one class is left. Every other outcome has a reason.
Classes that share a descendant must be merged, or the shared label must carry an explicit [shared] rule
(split by lineage, or exclude the segment): so no two surviving classes are related (Ontology.related).
"""

from __future__ import annotations

import hashlib
import tomllib
from collections import Counter
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Iterable, Optional

from mmabench.taxonomy.ontology import Ontology, raw_ontology

DEFAULT_RULES = Path(__file__).resolve().parents[1] / "data" / "curation.toml"
REASON_KINDS = ("no known label", "excluded label", "no valid class", "ambiguous lineage", "several classes")


@dataclass(frozen=True)
class Decision:
    kind: str  # "class" or "drop"
    mid: str  # the class a node counts as; for a drop, the dropped node itself
    rule: str  # keep, depth, merge, shared, or the name of a [[drop]] group
    why: str
    segment: bool = False  # a drop that removes every segment carrying the label (not only the label)
    competes: bool = False  # a dropped class: on an unsupported path it makes a label ambiguous (Bleat)


@dataclass(frozen=True)
class Chain:
    decision: str  # the first node with a decision on the way up ("" when none)
    path: tuple[str, ...]  # the label, then its ancestors up to and including the decision node (or the root)


def reason_kind(reason: str) -> str:
    """The kind of a drop reason ("ambiguous lineage: Growling -> Cat|Dog" -> "ambiguous lineage")."""
    return reason.split(":", 1)[0]


class CurationError(ValueError):
    pass


class Curation:
    def __init__(self, base: Ontology, rules: dict, rules_sha256: str) -> None:
        self.base, self.rules, self.rules_sha256 = base, rules, rules_sha256
        if int(rules.get("version", 1)) != 2:
            raise CurationError("curation rules: `version = 2` expected (see mmabench/data/curation.toml)")
        self.decisions: dict[str, Decision] = {}
        self.shared: dict[str, tuple[str, str]] = {}  # label mid -> ("lineage" | "exclude", why)
        self.generic: set[str] = set()  # candidates dropped because another class lies below them
        try:
            self._build()
        except (KeyError, TypeError, AttributeError) as e:
            raise CurationError(f"curation rules: malformed entry ({type(e).__name__}: {e})") from e
        self.ontology = base.curated(
            {m: d.mid for m, d in self.decisions.items() if d.kind == "class" and d.mid != m}, self.shared
        )

    @classmethod
    def load(cls, rules: str | Path | None = None, ontology: Ontology | None = None) -> "Curation":
        path = Path(rules or DEFAULT_RULES)
        try:
            raw = path.read_bytes()
            parsed = tomllib.loads(raw.decode())
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as e:
            raise CurationError(f"curation rules {path}: {e}") from e
        return cls(ontology or raw_ontology(), parsed, hashlib.sha256(raw).hexdigest())

    # --- the rules -> one decision per node ---------------------------------------------------------------

    def _mid(self, name: str, what: str) -> str:
        mid = self.base.mid(name)
        if mid is None:
            raise CurationError(f"curation rules: {what} names unknown class {name!r}")
        return mid

    def _depths(self, cut: set[str]) -> dict[str, int]:
        """Shortest distance from a root, over paths that do not pass a node in `cut` (absent: no such path)."""
        depth: dict[str, float] = {}

        def d(mid: str) -> float:
            if mid not in depth:
                depth[mid] = float("inf")  # the ontology is a DAG; this only guards a malformed file
                ps = self.base.parents.get(mid) or set()
                depth[mid] = 0 if not ps else 1 + min((d(p) for p in ps if p not in cut), default=float("inf"))
            return depth[mid]

        for mid in self.base.nodes:
            d(mid)
        return {m: int(v) for m, v in depth.items() if v != float("inf")}

    def _build(self) -> None:
        r, o = self.rules, self.base
        keep = {self._mid(n, "[keep]") for n in r.get("keep", {}).get("names", [])}
        restricted = {
            m for m, n in o.nodes.items() if set(n.get("restrictions", [])) & set(r.get("drop_restrictions", []))
        }
        if keep & restricted:
            raise CurationError(f"curation rules: [keep] names restricted classes {self._names(keep & restricted)}")
        drops: dict[str, Decision] = {}
        for group in r.get("drop", []):
            rule, why, mode = group["rule"], group["why"], group.get("mode", "label")
            for name in group["names"]:
                m = self._mid(name, f"[[drop]] {rule}")
                if m in drops:
                    raise CurationError(f"curation rules: {name!r} is dropped twice ({drops[m].rule}, {rule})")
                drops[m] = Decision("drop", m, rule, why, segment=mode == "segment")
        merges = {
            self._mid(src, "[merge]"): (self._mid(spec["into"], f"[merge] {src!r}"), spec["why"])
            for src, spec in r.get("merge", {}).items()
        }
        for name, spec in r.get("shared", {}).items():
            m = self._mid(name, "[shared]")
            if spec["by"] not in ("lineage", "exclude"):
                raise CurationError(f"curation rules: [shared] {name!r}: by = 'lineage' or 'exclude'")
            self.shared[m] = (spec["by"], spec["why"])
            if spec["by"] == "exclude":
                drops[m] = Decision("drop", m, "shared", spec["why"], segment=True)
        if clash := (set(drops) & set(merges)) | (keep & (set(drops) | set(merges))):
            raise CurationError(f"curation rules: {self._names(clash)} both kept/merged/dropped")
        # Candidates: kept classes, and nodes at the absorb depth (counted on paths that pass no drop: Hiss is
        # depth 3 under Cat, not depth 2 under Onomatopoeia) with no kept class above them.
        depth, live = int(r.get("absorb_depth", 2)), self._depths(set(drops))
        cands = {m for m in o.nodes if m in keep or (live.get(m) == depth and not o.ancestors(m) & keep)}
        cands -= restricted
        for m, d in drops.items():  # a dropped class competes with classes on a label's other paths
            drops[m] = Decision(d.kind, d.mid, d.rule, d.why, d.segment, competes=m in cands)
        cands -= set(drops) | set(merges)
        # A candidate above another class is too generic to name a segment's source (a bare Shout, above
        # Children shouting which goes to Crowd, could be either) and passes through, unless kept or merged into.
        into = {dst for dst, _ in merges.values()}
        below = cands | {m for m in merges if merges[m][0] not in o.ancestors(m)}
        self.generic = {m for m in cands - keep - into if any(m in o.ancestors(x) for x in below)}
        cands -= self.generic
        self.decisions = dict(drops)
        for m in cands:
            self.decisions[m] = Decision("class", m, "keep" if m in keep else "depth", "")
        for src, (dst, why) in merges.items():
            seen = {src}
            while dst in merges and dst not in seen:  # merges chain: a -> b -> c
                seen.add(dst)
                dst = merges[dst][0]
            if dst not in cands:
                raise CurationError(f"curation rules: [merge] {o.name(src)!r} into {o.name(dst)!r}: not a class")
            self.decisions[src] = Decision("class", dst, "merge", why)
        self._check_shared()

    def _check_shared(self) -> None:
        """No class below another, every label below two classes has a [shared] rule, and every [shared] rule
        is needed."""
        o, group = self.base, {m: d.mid for m, d in self.decisions.items() if d.kind == "class"}
        nested = sorted(
            f"{o.name(x)} below {o.name(m)}"
            for m in group
            for x in o.descendants(m)
            if group.get(x, group[m]) != group[m]
        )
        if nested:
            raise CurationError(f"curation rules: classes lie below other classes (merge or drop): {'; '.join(nested)}")
        under: dict[str, set[str]] = {}
        for m, cls in group.items():
            for x in o.descendants(m):
                if x not in group:
                    under.setdefault(x, set()).add(cls)
        need = {x for x, cs in under.items() if len(cs) > 1 and x not in self.shared}
        if need:
            detail = "; ".join(f"{o.name(x)} ({' | '.join(self._names(under[x]))})" for x in need)
            raise CurationError(f"curation rules: labels under several classes need a [shared] rule: {detail}")
        stale = {x for x in self.shared if len(under.get(x, ())) < 2}
        if stale:
            raise CurationError(f"curation rules: [shared] {self._names(stale)} lie under one class or none")

    def _names(self, mids: Iterable[str]) -> list[str]:
        return sorted(self.base.name(m) for m in mids)

    @cached_property
    def classes(self) -> list[str]:
        """Surviving classes (before the min_segments cut of a segment list), sorted by name."""
        return sorted({d.mid for d in self.decisions.values() if d.kind == "class"}, key=self.base.name)

    def class_mid(self, mid: str) -> Optional[str]:
        """The class a node counts as by itself (a class or a merged one), else None."""
        d = self.decisions.get(mid)
        return d.mid if d and d.kind == "class" else None

    # --- per segment --------------------------------------------------------------------------------------

    @cached_property
    def _chain_memo(self) -> dict[str, list[Chain]]:
        return {}

    def chains(self, mid: str) -> list[Chain]:
        """Every way up from `mid`, each ending at its first decision (or at a root)."""
        memo = self._chain_memo
        if mid not in memo:
            if mid in self.decisions or not self.base.parents.get(mid):
                memo[mid] = [Chain(mid if mid in self.decisions else "", (mid,))]
            else:
                memo[mid] = [
                    Chain(c.decision, (mid, *c.path)) for p in sorted(self.base.parents[mid]) for c in self.chains(p)
                ]
        return memo[mid]

    def _excludes(self, label: str) -> bool:
        """Every way up from the label ends at a drop that removes the whole segment (Television)."""
        ends = [self.decisions[c.decision] for c in self.chains(label) if c.decision]
        return bool(ends) and all(d.kind == "drop" and d.segment for d in ends)

    def _resolve(self, label: str, carried: set[str]) -> tuple[str, str]:
        """("class", mid) | ("ambiguous", detail) | ("none", drop rules or "generic") for one label."""
        chains = self.chains(label)
        supported = [c for c in chains if c.decision and carried & set(c.path[1:])]
        if supported:  # the segment names the path: its drops count as much as its classes
            picked = {c.decision for c in supported}
        else:
            picked = {
                c.decision
                for c in chains
                if c.decision and (self.decisions[c.decision].kind == "class" or self.decisions[c.decision].competes)
            }
        outcomes = {self.decisions[d] for d in picked}
        classes = {d.mid for d in outcomes if d.kind == "class"}
        drops = {d for d in outcomes if d.kind == "drop"}
        if len(classes) == 1 and not drops:
            return "class", classes.pop()
        if classes:
            alts = self._names(classes) + [f"{self.base.name(d.mid)} (dropped)" for d in drops]
            return "ambiguous", f"{self.base.name(label)} -> {'|'.join(sorted(alts))}"
        dropped = {self.decisions[c.decision] for c in chains if c.decision}
        rules = {d.rule for d in drops} or {d.rule for d in dropped if d.kind == "drop"} or {"generic"}
        return "none", "|".join(sorted(rules))

    def class_of(self, label_mids: Iterable[str]) -> tuple[Optional[str], str]:
        """(class mid, "") for an eligible segment, else (None, "<kind>: <detail>")."""
        labels = {m for m in label_mids if m in self.base.nodes}
        if not labels:
            return None, "no known label"
        excluded = sorted(self.base.name(m) for m in labels if self._excludes(m))
        if excluded:
            return None, f"excluded label: {', '.join(excluded)}"
        res = {m: self._resolve(m, labels - {m}) for m in labels}
        active = {m for m, (kind, _) in res.items() if kind != "none"}
        above = set().union(*(self.base.ancestors(m) for m in active)) if active else set()
        leaves = active - above
        ambiguous = sorted(res[m][1] for m in leaves if res[m][0] == "ambiguous")
        if ambiguous:
            return None, f"ambiguous lineage: {'; '.join(ambiguous)}"
        classes = {res[m][1] for m in leaves}
        if not classes:
            rules = sorted({rule for _, d in res.values() for rule in d.split("|")})
            return None, f"no valid class: {', '.join(rules)}"
        if len(classes) > 1:
            return None, f"several classes: {'|'.join(self._names(classes))}"
        return classes.pop(), ""

    # --- segment lists --------------------------------------------------------------------------------------

    @property
    def min_segments(self) -> int:
        return int(self.rules.get("min_segments", 1))

    def stats(self, segments: Iterable[Iterable[str]]) -> Counter:
        """Eligible segments per class (all classes, before the min_segments cut)."""
        return Counter(c for c, _ in map(self.class_of, segments) if c)

    def vocabulary(self, counts: Counter) -> list[str]:
        """Classes of a segment list that have at least `min_segments` eligible segments."""
        return sorted((c for c, n in counts.items() if n >= self.min_segments), key=self.base.name)

    def judge(self, segments: Iterable[Iterable[str]]) -> list[tuple[Optional[str], str]]:
        """(class, "") or (None, reason) per segment of one list, min_segments applied: a class with too few
        eligible segments in the list drops them with "below min_segments: <class> (n)"."""
        out = [self.class_of(s) for s in segments]
        counts = Counter(c for c, _ in out if c)
        vocab = set(self.vocabulary(counts))
        return [
            (c, why) if c is None or c in vocab else (None, f"below min_segments: {self.base.name(c)} ({counts[c]})")
            for c, why in out
        ]
