"""Evaluation on Ray: the model adapter runs in a pool of actors, the driver keeps the run, cache and commits.

`RayAdapter` stands in for the adapter in `evaluate()`: its identity (name, model, options: what keys the run
and the answer cache) comes from the actors, so a run on Ray has the same run id and fingerprints as the
same run in one process, and `evaluate` commits the same rows with the same crash-safe semantics (answers
committed as they arrive; a resume requests only what has no good answer). The requests go to the actors
through `dispatch`:

- a local `hf` model: one model per actor (`gpus_per_actor=1` on GPU nodes, so one per GPU), loaded once;
  two calls at a time per actor so the next file is decoded while the model generates (the adapter
  serialises generation itself).
- API adapters: `concurrency` requests in flight per actor, all actors paced by one named token-bucket actor
  (`rate` requests/s across the cluster, retries included), so more actors never mean more than the
  provider allows.

An actor whose process dies is restarted and its calls re-sent; answers are upserted on (run, item), so a
re-sent request cannot duplicate a prediction. Media paths travel (a shared filesystem), never decoded media.
"""

from __future__ import annotations

import os
import uuid
from typing import Any, Iterator, Optional, Sequence

from mmabench.adapters import Adapter, Request, Response, adapters
from mmabench.cluster import ActorPool, chunks, init, paced, token_bucket
from mmabench.eval.runner import _call, _scrubbed, make_adapter
from mmabench.schema import Item


class _Paced(Adapter):
    """The actor's adapter behind the cluster-wide rate limit: every attempt (retries too) takes a slot."""

    def __init__(self, inner: Adapter, wait):
        self.inner, self.wait = inner, wait

    def generate(self, request: Request) -> Response:
        self.wait()
        return self.inner.generate(request)


class AdapterActor:
    def __init__(self, name: str, model: str, options: dict, bucket=None):
        self.adapter = make_adapter(name, model, **options)
        self.paced = _Paced(self.adapter, paced(bucket))
        self.secrets = self.adapter.secrets()

    def identity(self) -> dict[str, Any]:
        a = self.adapter
        own_prepare = type(a).prepare is not Adapter.prepare
        return dict(name=a.name, model=a.model, options=a.options(), deterministic=a.deterministic, prepare=own_prepare)

    def prepare(self, items: Sequence[Item]) -> None:
        self.adapter.prepare(items)

    def pid(self) -> int:
        return os.getpid()

    def call(self, work: tuple[list[Request], int, float]) -> list[tuple[str, dict]]:
        """(item id, result row fields) per request; errors are results (stored, retried on resume)."""
        reqs, retries, backoff = work
        return [(r.item.id, _scrubbed(_call(self.paced, r, retries, backoff), self.secrets)) for r in reqs]


class RayAdapter(Adapter):
    """The driver's view of an adapter that runs in Ray actors; pass `dispatch` to `evaluate()`."""

    def __init__(
        self,
        name: str,
        model: str = "",
        options: Optional[dict] = None,
        *,
        actors: int = 1,
        gpus_per_actor: float = 0.0,
        cpus_per_actor: float = 1.0,
        concurrency: int = 4,
        rate: float = 0.0,
        address: Optional[str] = None,
    ):
        adapters.get(name)  # an unknown name fails here, in one line, before any actor starts
        init(address)
        local_model = name == "hf"
        self.per_call = 2 if local_model else 1  # a file's two prompts together: decoded once
        width = 2 if local_model else max(1, concurrency)
        self.pool = ActorPool(
            AdapterActor,
            (name, model, dict(options or {}), token_bucket(f"mmabench-rate-{name}", rate)),
            actors=actors,
            num_gpus=gpus_per_actor,
            num_cpus=cpus_per_actor,
            max_concurrency=width,
            in_flight=width + 1,
            name=f"mmabench-eval-{name}-{uuid.uuid4().hex[:6]}",
        )
        ids = self.pool.call_all("identity")
        self.name, self.model, self._options = ids[0]["name"], ids[0]["model"], ids[0]["options"]
        self.deterministic, self._prepare = ids[0]["deterministic"], ids[0]["prepare"]
        self.capabilities = adapters.get(name).capabilities

    def options(self) -> dict[str, Any]:
        return self._options

    def secrets(self) -> list[str]:
        return []  # the actors scrub results before they leave (the keys are read from their environment)

    def prepare(self, items: Sequence[Item]) -> None:
        if self._prepare:  # e.g. the majority prior: every actor answers from the same items
            self.pool.call_all("prepare", self.pool.ray.put(list(items)))

    def dispatch(self, requests: list[Request], retries: int, backoff: float) -> Iterator[list[tuple[Item, dict]]]:
        by_id = {r.item.id: r.item for r in requests}
        work = ((c, retries, backoff) for c in chunks(requests, self.per_call))
        for done in self.pool.map_unordered("call", work):
            yield [(by_id[i], out) for i, out in done]

    def generate(self, request: Request) -> Response:
        raise NotImplementedError("a RayAdapter answers through dispatch(), in its actors")

    def close(self) -> None:
        self.pool.close()
