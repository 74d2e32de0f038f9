"""Honest baselines that need no LLM: what chance and the answer prior score on the same items."""

from __future__ import annotations

from collections import Counter
from typing import Sequence

from mmabench.adapters.base import Adapter, Request, Response
from mmabench.schema import Item, rng_for


class RandomAdapter(Adapter):
    """Uniform over the item's options (None of the above included), seeded per item."""

    name = "random"

    def __init__(self, model: str = "", seed: int = 0, **options):
        super().__init__(model or "random", seed=seed, **options)

    def generate(self, request: Request) -> Response:
        rng = rng_for(self.opts["seed"], request.item.id, "random-baseline")
        return Response(rng.choice(request.item.options), sent={"frames": 0, "audio": None, "media": "none"})


class MajorityAdapter(Adapter):
    """Always the most frequent ground-truth answer per prompted modality among the evaluated items
    (the answer prior); ties broken by name."""

    name = "majority"
    deterministic = False  # its answer is the prior of the run's own items: never served from another run

    def prepare(self, items: Sequence[Item]) -> None:
        by_mod: dict[str, Counter] = {}
        for it in items:
            by_mod.setdefault(it.prompt_modality.value, Counter())[it.answer] += 1
        self.prior = {m: sorted(c.items(), key=lambda kv: (-kv[1], kv[0]))[0][0] for m, c in by_mod.items()}

    def generate(self, request: Request) -> Response:
        return Response(
            self.prior[request.item.prompt_modality.value], sent={"frames": 0, "audio": None, "media": "none"}
        )
