"""Derived identity and derived randomness (docs/design.md "Identity makes everything easy").

Ids are hashes of canonical JSON, so two machines building the same thing get the same ids. Every random
choice draws from an RNG seeded by (build seed, the id it is for, the purpose): adding clips never
reshuffles the choices already made for others.
"""

from __future__ import annotations

import hashlib
import json
import random
from typing import Any, Iterable, TypeVar

T = TypeVar("T")
ID_HEX = 16  # 64 bits: collisions are negligible far beyond AudioSet's 2M segments


def canonical_json(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def derive_id(kind: str, payload: Any) -> str:
    return hashlib.sha256(f"{kind}\0{canonical_json(payload)}".encode()).hexdigest()[:ID_HEX]


def rng_for(seed: int, for_id: str, purpose: str) -> random.Random:
    digest = hashlib.sha256(f"{seed}\0{for_id}\0{purpose}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def rendezvous(seed: int, for_id: str, purpose: str, candidates: Iterable[T], key=str) -> T | None:
    """Uniform, seeded choice that is stable under additions (highest-random-weight hashing).

    Each candidate gets a score from (seed, id, purpose, candidate); the minimum wins. Adding a candidate
    changes a choice only when the newcomer itself wins, which is the least any uniform choice must change.
    """
    best, best_score = None, None
    for c in candidates:
        score = hashlib.sha256(f"{seed}\0{for_id}\0{purpose}\0{key(c)}".encode()).digest()
        if best_score is None or score < best_score:
            best, best_score = c, score
    return best
