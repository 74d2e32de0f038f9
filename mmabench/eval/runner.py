"""`evaluate()`: run a model adapter over manifest items, crash-safe and cached.

- A run's id is derived from (adapter, model, options, build, split, limit, template, package, seed), so
  re-running the same command resumes it: only items without a good prediction are requested.
- Each request has a fingerprint (adapter, model, options, prompt, options list, media hash, package
  version). A deterministic request already answered in any run is served from that answer, not re-sent.
- Predictions are committed as they arrive (all answers received in one wake-up per transaction, so a
  kill loses only requests still in flight); empty or failed responses are
  stored as errors and requested again on resume, never reused as answers.
"""

from __future__ import annotations

import contextlib
import hashlib
import queue
import random
import re
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Optional

from sqlalchemy import func, select
from sqlalchemy.orm import aliased

from mmabench.adapters import Adapter, PermanentError, Request, TransientError, adapters
from mmabench.db.bulk import follows, write_predictions
from mmabench.db.manifest import Manifest, upsert
from mmabench.db.models import ClipRow, PredictionRow, RunRow, VariantRow
from mmabench.eval.scoring import is_abstention, parse_answer
from mmabench.logs import get_logger
from mmabench.media.store import store_for
from mmabench.schema import Item, Split, derive_id
from mmabench.schema.ids import canonical_json
from mmabench.schema.redact import scrub_text
from mmabench.version import __version__

log = get_logger(__name__)
Dispatch = Callable[[list[Request], int, float], Iterator[list[tuple[Item, dict]]]]


@dataclass
class RunReport:
    run_id: str
    planned: int = 0
    called: int = 0
    cached: int = 0
    errors: int = 0
    error_samples: list[str] = field(default_factory=list)
    seconds: float = 0.0


def fingerprint(adapter: Adapter, item: Item, media_sha256: Optional[str], options: Optional[dict] = None) -> str:
    """options: `adapter.options()`, when the caller has it already (a run computes it once, not per item)."""
    payload = {
        "adapter": adapter.name,
        "model": adapter.model,
        "options": adapter.options() if options is None else options,
        "prompt": item.prompt,
        "choices": item.options,
        "media": media_sha256,
        "mmabench": __version__,
    }
    return hashlib.sha256(canonical_json(payload).encode()).hexdigest()


def make_adapter(name: str, model: str = "", **options: Any) -> Adapter:
    return adapters.get(name)(model=model, **options)


_NETWORKISH = re.compile(r"timeout|timed out|connect|disconnect|protocol|reset|temporar|unavailable", re.I)


def _call(adapter: Adapter, req: Request, retries: int, backoff: float) -> dict:
    attempt, delay, t0 = 0, backoff, time.perf_counter()
    while True:
        attempt += 1
        try:
            r = adapter.generate(req)
            if not r.text.strip():
                raise TransientError("empty response")
            return {
                "response": r.text,
                "sent": r.sent,
                "tokens_in": r.tokens_in,
                "tokens_out": r.tokens_out,
                "attempts": attempt,
                "latency_ms": 1000 * (time.perf_counter() - t0),
                "error": None,
            }
        except TransientError as e:
            if attempt > retries:
                return {"error": str(e), "attempts": attempt, "latency_ms": 1000 * (time.perf_counter() - t0)}
            # the type only: a message may echo a key back
            log.info("retry %d after %s", attempt, type(e).__name__, extra={"attempt": attempt})
            time.sleep(delay * (1 + 0.25 * random.random()))
            delay *= 2
        except PermanentError as e:
            return {"error": str(e), "attempts": attempt, "latency_ms": 1000 * (time.perf_counter() - t0)}
        except Exception as e:  # an adapter bug or an unmapped client error: record it, never crash the run
            msg = f"{type(e).__name__}: {e}"
            if attempt > retries or not _NETWORKISH.search(msg):
                return {"error": msg, "attempts": attempt, "latency_ms": 1000 * (time.perf_counter() - t0)}
            time.sleep(delay * (1 + 0.25 * random.random()))
            delay *= 2


def _scrubbed(out: dict, secrets: list[str]) -> dict:
    """Server error bodies may echo the key that was sent (401s do): scrub before anything stores them."""
    for k in ("error", "response"):
        if out.get(k):
            out[k] = scrub_text(out[k], secrets)
    return out


def evaluate(
    adapter: Adapter | str,
    manifest: Optional[Manifest] = None,
    *,
    split: Split | str = Split.conflict,
    build: str = "default",
    limit: Optional[int] = None,
    concurrency: int = 4,
    retries: int = 3,
    backoff: float = 1.0,
    seed: int = 0,
    progress=None,
    home=None,
    db=None,
    media_url: Optional[str] = None,
    dispatch: Optional[Dispatch] = None,
) -> RunReport:
    """dispatch: run the requests elsewhere instead of this process's threads (eval/ray_eval.py): it gets the
    requests with the retry policy and yields lists of (item, result) as they finish."""
    t0 = time.perf_counter()
    adapter = make_adapter(adapter) if isinstance(adapter, str) else adapter
    own = manifest is None
    m = manifest or Manifest(db, home)
    try:
        store = store_for(media_url, m.home)
        items = list(m.items(split=split, build=build))
        if limit:
            items = items[:limit]
        adapter.prepare(items)
        run_id = derive_id(
            "run",
            {
                "adapter": adapter.name,
                "model": adapter.model,
                "options": adapter.options(),
                "build": build,
                "split": Split(split).value,
                "limit": limit,
                "seed": seed,
                "mmabench": __version__,
                "template": sorted({i.template_version for i in items}),
            },
        )
        report = RunReport(run_id)
        with m.session() as s, s.begin():
            upsert(
                s,
                RunRow.__table__,
                [
                    dict(
                        id=run_id,
                        model=adapter.model,
                        adapter=adapter.name,
                        options=adapter.options(),
                        build=build,
                        split=Split(split).value,
                        item_limit=limit,
                        template_version=max((i.template_version for i in items), default=1),
                        package_version=__version__,
                        seed=seed,
                        status="running",
                        counts={},
                        timings={},
                    )
                ],
            )
            # each variant's media, and its (video clip's, audio clip's) class: a prediction is stored with
            # whether it names them
            video, audio = aliased(ClipRow), aliased(ClipRow)
            variants = s.execute(
                select(VariantRow.id, VariantRow.path, VariantRow.sha256, video.label, audio.label)
                .outerjoin(video, video.id == VariantRow.video_clip_id)
                .outerjoin(audio, audio.id == VariantRow.audio_clip_id)
            ).all()
            media = {vid: (path, sha) for vid, path, sha, _, _ in variants}
            labels = {vid: (v, a) for vid, _, _, v, a in variants}
            done = {
                r.item_id
                for r in s.execute(
                    select(PredictionRow.item_id).where(PredictionRow.run_id == run_id, PredictionRow.error.is_(None))
                )
            }
        todo = [i for i in items if i.id not in done]
        report.planned = len(todo)
        opts = adapter.options()
        fps = {i.id: fingerprint(adapter, i, media[i.variant_id][1], opts) for i in todo}
        cache: dict[str, Any] = {}
        if adapter.deterministic and fps:
            with m.session() as s:
                for chunk in range(0, len(fps), 500):
                    keys = list(fps.values())[chunk : chunk + 500]
                    for r in s.scalars(
                        select(PredictionRow).where(PredictionRow.fingerprint.in_(keys), PredictionRow.error.is_(None))
                    ):
                        cache.setdefault(r.fingerprint, r)

        def row(item: Item, out: dict, cached_from: Optional[str] = None) -> dict:
            parsed, status = (None, "error") if out.get("error") else parse_answer(out["response"], item.options)
            return dict(
                run_id=run_id,
                item_id=item.id,
                fingerprint=fps[item.id],
                response=out.get("response"),
                parsed=parsed,
                parse_status=status,
                correct=None if out.get("error") else parsed == item.answer,
                abstained=None if out.get("error") else is_abstention(parsed),
                latency_ms=out.get("latency_ms"),
                tokens_in=out.get("tokens_in"),
                tokens_out=out.get("tokens_out"),
                sent=out.get("sent") or {},
                cached_from=cached_from,
                error=out.get("error"),
                attempts=out.get("attempts", 0),
                # what it is scored against, written with it (db/bulk.py)
                condition=item.condition.value,
                prompt_modality=item.prompt_modality.value,
                answer=item.answer,
                follows_video=follows(parsed, labels[item.variant_id][0]),
                follows_audio=follows(parsed, labels[item.variant_id][1]),
            )

        pending: list[dict] = []
        last = time.monotonic()

        def flush(force=False):
            nonlocal pending, last
            if pending and (force or len(pending) >= 64 or time.monotonic() - last > 0.25):
                with m.session() as s, s.begin():
                    write_predictions(s, pending)  # upsert on (run, item); COPY on PostgreSQL
                pending, last = [], time.monotonic()

        calls = []
        for item in todo:
            hit = cache.get(fps[item.id])
            if hit is not None:
                report.cached += 1
                pending.append(
                    row(
                        item,
                        {
                            "response": hit.response,
                            "sent": hit.sent,
                            "tokens_in": hit.tokens_in,
                            "tokens_out": hit.tokens_out,
                            "attempts": 0,
                            "latency_ms": 0.0,
                        },
                        cached_from=hit.run_id,
                    )
                )
            else:
                calls.append(item)
        calls.sort(key=lambda i: (i.variant_id, i.id))  # items of one file together: decode once, cache hits
        flush(force=True)
        task = progress.add_task(f"eval {adapter.name}", total=len(todo), completed=report.cached) if progress else None

        secrets = adapter.secrets()

        def as_request(item: Item) -> Request | tuple[Item, dict]:
            """The request, or (item, error outcome) when the store cannot give the media."""
            path, sha = media[item.variant_id]
            try:  # the store's file, or a remote store's cache copy checked against the manifest's hash
                local = store.local_path(path, sha) if path else None
            except Exception as e:
                return item, {"error": scrub_text(f"media: {type(e).__name__}: {e}"), "attempts": 0, "latency_ms": 0.0}
            return Request(item, local, sha)

        def request(req: Request | tuple[Item, dict]) -> tuple[Item, dict]:
            if isinstance(req, tuple):  # media unavailable: recorded as this prediction's error
                return req
            return req.item, _scrubbed(_call(adapter, req, retries, backoff), secrets)

        def take(item: Item, out: dict) -> None:
            report.called += 1
            if out.get("error"):
                report.errors += 1
                if len(report.error_samples) < 5:
                    report.error_samples.append(out["error"])
            pending.append(row(item, out))
            if task is not None:
                progress.advance(task)

        reqs = [as_request(i) for i in calls]
        if dispatch is not None:  # requests run elsewhere (a Ray actor pool): same rows, same commits
            for unavailable in (r for r in reqs if isinstance(r, tuple)):
                take(*unavailable)
            remote = [r for r in reqs if isinstance(r, Request)]
            for finished_batch in dispatch(remote, retries, backoff):
                for item, out in finished_batch:
                    take(item, _scrubbed(out, secrets))
                flush(force=True)
            reqs = []
        # media is prepared in the adapter's workers `lead` requests ahead of the one sent (a bounded look-ahead:
        # prepared payloads wait in memory), so a request finds its payload ready instead of decoding it
        lead = 4 * max(1, concurrency) + 16
        adapter.start(m.home / "cache" / "media", concurrency)
        with contextlib.ExitStack() as started, ThreadPoolExecutor(max(1, concurrency)) as pool:
            started.callback(adapter.finish)  # however the requests end, after the last one
            for req in reqs[:lead]:
                if isinstance(req, Request):
                    adapter.ahead(req)
            it = iter(enumerate(reqs))
            first = [next(it) for _ in range(min(len(reqs), concurrency * 2))]
            # finished requests queue themselves: a wake-up takes what is there, O(1) per answer, where `wait()`
            # on the whole running set installed and removed a waiter on every request each wake-up
            finished: queue.SimpleQueue[Future] = queue.SimpleQueue()

            def submit(req: Request | tuple[Item, dict]) -> None:
                pool.submit(request, req).add_done_callback(finished.put)

            for _, req in first:
                submit(req)
            running = len(first)
            while running:
                try:
                    batch = [finished.get(timeout=0.25)]
                except queue.Empty:
                    continue
                while not finished.empty():
                    batch.append(finished.get())
                for f in batch:
                    running -= 1
                    take(*f.result())
                    nxt = next(it, None)
                    if nxt is not None:
                        submit(nxt[1])
                        running += 1
                        if nxt[0] + lead < len(reqs) and isinstance(reqs[nxt[0] + lead], Request):
                            adapter.ahead(reqs[nxt[0] + lead])
                # commit whatever arrived in this wake-up: a slow model commits every answer at once (a kill
                # loses only requests in flight); an instant one naturally batches many per transaction
                flush(force=True)
        flush(force=True)
        report.seconds = time.perf_counter() - t0
        with m.session() as s, s.begin():
            run = s.get(RunRow, run_id)
            n_ok = s.scalar(  # a Core count: 1.3 ms to compile in a fresh process, the ORM .count() 7 ms
                select(func.count())
                .select_from(PredictionRow)
                .where(PredictionRow.run_id == run_id, PredictionRow.error.is_(None))
            )
            run.status = "finished" if n_ok == len(items) else "incomplete"
            run.counts = {
                "items": len(items),
                "answered": n_ok,
                "called": report.called,
                "cached": report.cached,
                "errors": report.errors,
            }
            run.timings = {**(run.timings or {}), "last_seconds": round(report.seconds, 3)}
            run.updated_at = datetime.now(timezone.utc)
        return report
    finally:
        if own:
            m.close()
