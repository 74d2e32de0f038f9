"""`build()`: sources -> ingest -> synthesize -> itemize into the manifest; idempotent and resumable."""

from __future__ import annotations

import difflib
import os
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Optional

from sqlalchemy import func, select, update

from mmabench import media
from mmabench.config import BuildConfig
from mmabench.db.manifest import Manifest, upsert
from mmabench.db.models import BuildRow, ClipRow, ItemRow, VariantRow
from mmabench.media.store import MediaStore, store_for
from mmabench.pipeline.executors import Executor, make_executor
from mmabench.pipeline.pools import check_pools
from mmabench.pipeline.stages import Stage, StageReport, fault_point, make_progress, run_stage
from mmabench.registry import sources as source_registry
from mmabench.schema import Clip, ClipSpec, ClipStatus, Condition, Item, Split, Variant, conditions_for
from mmabench.schema.redact import scrub_text
from mmabench.sources.download import DownloadFailed, YtDlpFetcher, require_ytdlp
from mmabench.synth.conflicts import media_variant, ops, plan_variants, variant_relpath
from mmabench.synth.items import itemize
from mmabench.taxonomy.ontology import default_ontology
from mmabench.version import __version__


class BuildConfigMismatch(RuntimeError):
    pass


class UnknownClasses(LookupError):
    pass


def _check_classes(cfg: BuildConfig, specs: list[ClipSpec], sources: list) -> None:
    """A --class that no source offers is a typo, not an empty build: refuse it before anything is stored."""
    unknown = [c for c in cfg.classes or [] if c not in {s.label for s in specs}]
    if unknown:
        offered = {spec.label for src in sources for spec in src.specs()}
        hints = [
            f"{c!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(c, offered, n=1)) else repr(c)
            for c in unknown
        ]
        raise UnknownClasses(
            f"no clip of class {', '.join(hints)} in the sources ({len(offered)} classes offered); nothing was built"
        )


@dataclass
class BuildReport:
    name: str
    split: str
    stages: list[StageReport] = field(default_factory=list)
    clip_status: dict[str, int] = field(default_factory=dict)
    clip_errors: list[tuple[str, str, str]] = field(default_factory=list)  # (source_ref, status, error)
    clip_classes: dict[str, dict[str, int]] = field(default_factory=dict)  # label -> status -> n
    items: dict[tuple[str, str], int] = field(default_factory=dict)  # (condition, modality) -> n
    render_errors: list[tuple[str, str]] = field(default_factory=list)
    bad_rows: list[tuple[str, int, str]] = field(default_factory=list)  # (file, line, reason)
    filtered: dict[str, str] = field(default_factory=dict)  # source_ref -> filter reason
    removed_items: int = 0
    seconds: float = 0.0

    @property
    def new_work(self) -> int:
        return sum(s.done for s in self.stages) + self.removed_items


def make_sources(cfg: BuildConfig) -> list:
    return [source_registry.get(sc.name)(**sc.options, **sc.runtime) for sc in cfg.sources]


def collect_specs(cfg: BuildConfig, sources: Optional[list] = None) -> list[ClipSpec]:
    specs: dict[str, ClipSpec] = {}
    for src in sources if sources is not None else make_sources(cfg):
        for spec in src.specs():
            if cfg.normalize:
                spec = spec.model_copy(update={"normalize": cfg.normalize})
            if cfg.classes is None or spec.label in cfg.classes:
                specs.setdefault(spec.id, spec)
    chosen = sorted(specs.values(), key=lambda s: s.id)
    if cfg.per_class:  # first N per class in id order: stable when sources grow
        counts: Counter[str] = Counter()
        kept = []
        for s in chosen:
            if counts[s.label] < cfg.per_class:
                kept.append(s)
                counts[s.label] += 1
        chosen = kept
    return chosen


# --- ingest -----------------------------------------------------------------------------------------------

Fetch = Callable[[ClipSpec, Path], "object"]


def ingest_one(
    spec: ClipSpec, store: MediaStore, cfg: BuildConfig, prior_attempts: int = 0, fetch: Optional[Fetch] = None
) -> Clip:
    """Fetch (if the source downloads), validate, then remux or normalise into the media store.

    Downloads and the remuxed file land in a private scratch folder, never in the store; the store only ever
    receives a complete file (`store.put`: a rename for a local folder, a verified upload otherwise), so a
    failure or a kill leaves nothing half-written there."""
    base = dict(
        id=spec.id,
        source=spec.source,
        source_ref=spec.source_ref,
        label=spec.label,
        label_mid=spec.label_mid,
        start=spec.start,
        end=spec.end,
        provenance=spec.provenance,
    )
    rel = f"clips/{spec.id[:2]}/{spec.id}.mp4"
    attempts = prior_attempts + 1
    try:
        with tempfile.TemporaryDirectory(dir=store.scratch(), prefix=media.scratch_prefix()) as work:
            local, start, end, want = spec.uri, spec.start, spec.end, spec.end
            if fetch is not None:
                got = fetch(spec, Path(work))
                attempts = prior_attempts + got.attempts
                local, start, end = str(got.path), None, None  # the section is already cut
                want = (spec.end - spec.start) if spec.start is not None and spec.end is not None else None
            if local is None:
                raise media.MediaError(ClipStatus.missing, "source gave no location for this clip")
            source_sha = media.sha256_file(local) if fetch is None and os.path.isfile(local) else None
            info = media.validate(
                local, want_duration=want, min_duration=cfg.min_duration, silence_dbfs=cfg.silence_dbfs
            )
            dst = Path(work) / "out" / Path(rel).name  # the writers' atomic temp-then-rename, in scratch
            cut: dict = {}
            if spec.normalize:
                media.normalize(local, dst, size=spec.normalize, start=start, end=end)
            else:
                cut = media.remux(local, dst, start, end)  # exact section; how it was cut goes in provenance
            if spec.normalize or start is not None or end is not None:
                info = media.probe(dst)
            size = dst.stat().st_size
            sha = store.put(dst, rel)
        prov = spec.provenance | (
            {"normalize": media.NORMALIZE_RECIPE | {"size": spec.normalize}} if spec.normalize else {}
        )
        if fetch is None:  # a local file: its content identifies the source for the train/test pool guard
            prov = prov | {"source_sha256": source_sha}
        prov |= cut
        return Clip(
            **(base | {"provenance": prov}),
            status=ClipStatus.ok,
            path=rel,
            sha256=sha,
            bytes=size,
            duration=round(info.duration, 3),
            fps=info.fps,
            width=info.width,
            height=info.height,
            video_codec=info.video_codec,
            audio_codec=info.audio_codec,
            sample_rate=info.sample_rate,
            attempts=attempts,
        )
    except media.MediaError as e:  # a download given up on counts every try it made
        attempts = prior_attempts + e.attempts if isinstance(e, DownloadFailed) else attempts
        return Clip(**base, status=e.status, error=str(e), attempts=attempts)
    except Exception as e:  # keep going; the reason is recorded on the clip (a store URL without credentials)
        return Clip(**base, status=ClipStatus.error, error=scrub_text(f"{type(e).__name__}: {e}"), attempts=attempts)


CLIP_UPDATE = [c for c in ClipRow.__table__.columns.keys() if c not in ("id", "created_at")]


def ingest_stage(
    m: Manifest,
    specs: list[ClipSpec],
    cfg: BuildConfig,
    retry_failed: bool,
    fetchers: Optional[dict[str, Fetch]] = None,
    workers: Optional[int] = None,
    store: Optional[MediaStore] = None,
) -> Stage:
    fetchers = fetchers or {}
    store = store if store is not None else store_for(None, m.home)

    def plan():
        with m.session() as s:
            cols = (ClipRow.id, ClipRow.status, ClipRow.path, ClipRow.attempts, ClipRow.label, ClipRow.provenance)
            known = {r.id: r for r in s.execute(select(*cols))}
        sizes = store.sizes(r.path for r in known.values() if r.status == ClipStatus.ok.value and r.path)
        units = []
        for spec in specs:
            row = known.get(spec.id)
            if row is None:
                units.append((spec, 0))
            elif row.status == ClipStatus.ok.value and sizes.get(row.path) is None:
                units.append((spec, row.attempts or 1))  # media are derived: rebuild a lost file
            elif row.status == ClipStatus.ok.value and _changed(spec, row, spec.source in fetchers):
                units.append((spec, row.attempts or 1))
                _drop_renders(m, store, spec.id)  # its variants are re-rendered from the new clip
            elif row.status != ClipStatus.ok.value and retry_failed:
                units.append((spec, row.attempts or 1))
        return units

    def commit(results):
        m.upsert(ClipRow, [c.model_dump(mode="json") for c in results], update=CLIP_UPDATE)

    # the run function captures the store, not the manifest: executors may pickle it
    return Stage(
        "ingest",
        plan,
        lambda u: ingest_one(u[0], store, cfg, u[1], fetchers.get(u[0].source)),
        commit,
        failed=lambda c: c.status is not ClipStatus.ok,
        workers=workers,
    )


def _changed(spec: ClipSpec, row, fetched: bool) -> bool:
    """The same clip id (source, name, section) with another label, or a local file replaced by other bytes."""
    if row.label != spec.label:
        return True
    was = (row.provenance or {}).get("source_sha256")
    return (
        not fetched
        and was is not None
        and spec.uri is not None
        and os.path.isfile(spec.uri)
        and (media.sha256_file(spec.uri) != was)
    )


def _drop_renders(m: Manifest, store: MediaStore, clip_id: str) -> None:
    with m.session() as s:
        q = select(VariantRow.path).where((VariantRow.video_clip_id == clip_id) | (VariantRow.audio_clip_id == clip_id))
        for (path,) in s.execute(q):
            if path:
                store.remove(path)


def fetchers_of(sources: list) -> dict[str, Fetch]:
    return {s.name: s.fetch for s in sources if hasattr(s, "fetch")}


def check_extras(sources: list) -> None:
    """Before any work: a download source without yt-dlp would record every clip as failed."""
    if any(isinstance(getattr(s, "fetcher", None), YtDlpFetcher) for s in sources):
        require_ytdlp()


def share_rate_limit(sources: list, runner: Executor) -> None:
    """All downloads of a run draw from one limit at the strictest configured rate: the executor's (threads
    of this process, or one bucket for every worker of a Ray job) instead of one per process."""
    fetchers = [f for s in sources if isinstance(f := getattr(s, "fetcher", None), YtDlpFetcher)]
    rates = [f.options.rate for f in fetchers if f.options.rate > 0]
    if rates:
        limit = runner.rate_limit(min(rates))
        for f in fetchers:
            f.limiter = limit


# --- synthesize -------------------------------------------------------------------------------------------


ClipKeys = dict[str, tuple[str, Optional[str]]]  # clip id -> (store key, sha256)


def render_variant(v: Variant, clips: ClipKeys, store: MediaStore) -> tuple[Variant, Optional[str]]:
    """Render a recipe's media into scratch, then `store.put` it (idempotent: same recipe -> same key)."""
    try:
        mv = media_variant(v)
        key = variant_relpath(v)
        info: dict = {}
        size = None if mv is v else store.size(key)
        if not size:  # an emptied shared file is never reused
            # black video / silence are encoded once per geometry into the tracks cache beside the store's scratch
            src = {
                "video": store.local_path(*clips[mv.video_clip_id]),
                "tracks": store.scratch().parent / media.TRACKS_DIR,
            }
            if mv.audio_clip_id:
                src["audio"] = store.local_path(*clips[mv.audio_clip_id])
            with tempfile.TemporaryDirectory(dir=store.scratch(), prefix=media.scratch_prefix()) as work:
                dst = Path(work) / Path(key).name
                info = ops.get(mv.op).render(mv, src, dst) or {}
                size = dst.stat().st_size
                sha = store.put(dst, key)
        else:
            sha = store.sha256(key)
        params = dict(v.params)
        if info:
            params["rendered"] = info
        return v.model_copy(
            update=dict(
                path=key,
                sha256=sha,
                bytes=size,
                params=params,
                tool_versions={"mmabench": __version__, **media.tool_versions()},
            )
        ), None
    except Exception as e:
        return v, f"{type(e).__name__}: {e}"


def _variant_row(v: Variant) -> dict:
    recipe = v.recipe
    return dict(
        id=v.id,
        condition=v.condition.value,
        op=v.op,
        op_version=v.op_version,
        video_clip_id=v.video_clip_id,
        audio_clip_id=v.audio_clip_id,
        recipe=recipe,
        tool_versions=v.tool_versions,
        path=v.path,
        sha256=v.sha256,
        bytes=v.bytes,
    )


def synth_stage(
    m: Manifest,
    recipes: list[Variant],
    clips: dict[str, Clip],
    report: BuildReport,
    store: Optional[MediaStore] = None,
) -> Stage:
    store = store if store is not None else store_for(None, m.home)
    keys: ClipKeys = {cid: (str(c.path), c.sha256) for cid, c in clips.items()}

    def plan():
        with m.session() as s:
            have = {r.id: r for r in s.execute(select(VariantRow.id, VariantRow.path, VariantRow.bytes))}
        sizes = store.sizes({variant_relpath(v) for v in recipes if v.id in have})
        todo = []
        for v in recipes:
            row = have.get(v.id)
            if row is None or sizes[variant_relpath(v)] != row.bytes:
                todo.append(v)
                if row is not None:  # disagrees with the manifest: gone, so no other render reuses it
                    store.remove(variant_relpath(v))
        return todo

    def commit(results):
        for v, err in results:
            if err:
                report.render_errors.append((v.id, err))
        m.upsert(
            VariantRow,
            [_variant_row(v) for v, err in results if not err],
            update=["recipe", "tool_versions", "path", "sha256", "bytes"],
        )

    # the store, not the manifest, is captured: executors may pickle the run function
    return Stage(
        "synthesize", plan, lambda v: render_variant(v, keys, store), commit, failed=lambda r: r[1] is not None
    )


# --- itemize ----------------------------------------------------------------------------------------------


def item_stage(
    m: Manifest, wanted: list[Item], conditions: list[Condition], name: str, report: BuildReport, pending: dict
) -> Stage:
    """Plans the item set; writes nothing. `apply_items` then swaps it in with the config, in one transaction."""
    new: list[Item] = []
    ours = {c.value for c in conditions}

    def plan():
        with m.session() as s:
            q = select(ItemRow.id, ItemRow.condition, ItemRow.answer).where(
                ItemRow.build == name, ItemRow.superseded_at.is_(None)
            )
            rows = [r for r in s.execute(q) if pending["config"] or r.condition in ours]
        answers = {i.id: i.answer for i in wanted}
        # a relabelled clip whose class list is unchanged keeps its items' ids: their answer is rewritten
        current = {r.id for r in rows if answers.get(r.id, r.answer) == r.answer}
        # a class came in (--retry-failed) or the config changed (--force-config): then items of the other
        # splits were made with the old config too, and go with it
        pending["stale"] = current - {i.id for i in wanted}
        report.removed_items = len(pending["stale"])
        return [i for i in wanted if i.id not in current]  # new, or superseded earlier and made again

    pending["new"] = new
    return Stage("itemize", plan, lambda i: i, new.extend, remote=False)


def apply_items(m: Manifest, name: str, pending: dict) -> None:
    """All or nothing: the build's new configuration, its superseded items marked, its new items written.
    Superseded items stay (predictions reference them); `Manifest.items()` reads only current ones."""
    if not (pending.get("config") or pending.get("stale") or pending.get("new")):
        return
    now = datetime.now(timezone.utc)
    with m.session() as s, s.begin():
        values = dict(pending.get("config") or {})
        if values.pop("new", False):
            # insert-or-nothing: racing first builds of one name all succeed, with one row
            upsert(s, BuildRow.__table__, [dict(name=name, timings={}, **values)])
        elif values:
            row = s.get(BuildRow, name)
            for k, v in values.items():
                setattr(row, k, v)
            row.updated_at = now
        stale = sorted(pending.get("stale") or ())
        for i in range(0, len(stale), 1000):
            s.execute(update(ItemRow).where(ItemRow.id.in_(stale[i : i + 1000])).values(superseded_at=now))
        rows = [i.model_dump(mode="json") | {"superseded_at": None} for i in pending.get("new") or ()]
        upsert(s, ItemRow.__table__, rows, update=["superseded_at", "answer"])


def _summarize_clips(report: BuildReport, clips: list[Clip], spec_ids: set[str]) -> None:
    for c in clips:
        if c.id in spec_ids:
            report.clip_status[c.status.value] = report.clip_status.get(c.status.value, 0) + 1
            per = report.clip_classes.setdefault(c.label, {})
            per[c.status.value] = per.get(c.status.value, 0) + 1
            if c.status is not ClipStatus.ok:
                report.clip_errors.append((c.source_ref, c.status.value, c.error or ""))


def ingest(
    cfg: BuildConfig,
    *,
    home=None,
    db=None,
    workers: Optional[int] = None,
    retry_failed: bool = False,
    progress: bool = True,
    console=None,
    executor: str = "local",
    ray_address: Optional[str] = None,
    media_url: Optional[str] = None,
) -> BuildReport:
    """Only the ingest stage: fetch / validate / store clips (e.g. download AudioSet ahead of builds)."""
    t0 = time.perf_counter()
    report = BuildReport(cfg.name, "ingest")
    sources = make_sources(cfg)
    check_extras(sources)
    store = store_for(media_url, home)  # before the manifest: a store that cannot open leaves nothing behind
    with Manifest(db, home) as m:
        store.sweep()  # a killed run's temp files and scratch folders
        specs = collect_specs(cfg, sources)
        report.bad_rows = [row for s in sources for row in getattr(s, "bad_rows", [])]
        runner = make_executor(executor, workers, ray_address)
        share_rate_limit(sources, runner)
        with make_progress(progress, console) as bar:
            report.stages.append(
                run_stage(ingest_stage(m, specs, cfg, retry_failed, fetchers_of(sources), store=store), runner, bar)
            )
        _summarize_clips(report, m.clips(), {s.id for s in specs})
    report.seconds = time.perf_counter() - t0
    return report


# --- the build --------------------------------------------------------------------------------------------


def config_changes(old: dict, new: BuildConfig) -> dict[str, tuple]:
    """Field -> (stored, new), on the raw stored dict so a renamed or removed field still reads."""
    now = new.model_dump(mode="json")
    return {
        k: (old.get(k), now.get(k)) for k in sorted(set(old) | set(now)) if k != "name" and old.get(k) != now.get(k)
    }


def _register_build(m: Manifest, cfg: BuildConfig, force_config: bool) -> Optional[dict]:
    """Refuses a changed configuration unless forced. A new or changed one is returned, to be written with the
    item set it makes (`apply_items`), so a failed or killed (re-)run leaves the old configuration and the old
    items, consistent, and a refused one leaves no row behind."""
    versions = {"mmabench": __version__, **media.tool_versions()}
    values = dict(config=cfg.model_dump(mode="json"), config_hash=cfg.content_hash(), seed=cfg.seed, versions=versions)
    with m.session() as s:
        row = s.get(BuildRow, cfg.name)
        if row is None:
            return values | {"new": True}
        if row.config_hash == values["config_hash"]:
            return None
        changes = ", ".join(f"{k}: {a!r} -> {b!r}" for k, (a, b) in config_changes(row.config, cfg).items())
        if not force_config:
            raise BuildConfigMismatch(
                f"build {cfg.name!r} in this manifest was made with another configuration ({changes}). "
                f"Start a new build with --name NEW (or another --home), or pass --force-config to re-make "
                f"{cfg.name!r} with the new configuration."
            )
        return values


def build(
    split: Split | str = Split.conflict,
    config: Optional[BuildConfig] = None,
    *,
    home=None,
    db=None,
    workers: Optional[int] = None,
    force_config: bool = False,
    retry_failed: bool = False,
    progress: bool = True,
    console=None,
    ingest_workers: Optional[int] = None,
    executor: str = "local",
    ray_address: Optional[str] = None,
    media_url: Optional[str] = None,
) -> BuildReport:
    """Build `split` of a named build: ingest, (filter), synthesize, itemize. `executor="ray"` runs the
    per-unit work on a Ray cluster (`ray_address`, or a local Ray); the manifest is the same either way.
    `media_url` (or MMABENCH_MEDIA_URL): where media are stored, a folder or an fsspec URL (default
    <home>/media); the manifest holds keys relative to it, so it is the same for any store."""
    t0 = time.perf_counter()
    split = Split(split)
    # a build is a test build or a train build, for good: mixing them under one name is a config change
    cfg = (config or BuildConfig()).model_copy(update={"train": split is Split.train})
    conditions = list(conditions_for(split))
    report = BuildReport(cfg.name, split.value)
    sources = make_sources(cfg)
    check_extras(sources)
    specs = collect_specs(cfg, sources)
    _check_classes(cfg, specs, sources)
    runner = make_executor(executor, workers, ray_address)
    share_rate_limit(sources, runner)
    store = store_for(media_url, home)  # before the manifest: a store that cannot open leaves nothing behind
    with Manifest(db, home) as m:
        pending: dict = {"config": _register_build(m, cfg, force_config)}
        store.sweep()  # what a killed build was writing; its rows were never committed
        report.bad_rows = [row for s in sources for row in getattr(s, "bad_rows", [])]
        with make_progress(progress, console) as bar:
            report.stages.append(
                run_stage(
                    ingest_stage(m, specs, cfg, retry_failed, fetchers_of(sources), ingest_workers, store=store),
                    runner,
                    bar,
                )
            )
            spec_ids = {s.id for s in specs}
            all_clips = m.clips(ids=None)
            built = {c.id: c for c in all_clips if c.id in spec_ids and c.status is ClipStatus.ok}
            if cfg.filter is not None:  # stage 2: only clips whose label is seen and heard go on
                from mmabench.tagging.filter import FilterConfig, run_filter

                decisions = run_filter(
                    FilterConfig(**cfg.filter), db=m.url, home=m.home, clip_ids=set(built), media_url=media_url
                )
                report.filtered = {d.clip.source_ref: d.reason for d in decisions if not d.kept}
                built = {cid: c for cid, c in built.items() if cid not in {d.clip.id for d in decisions if not d.kept}}
            check_pools(m, cfg.name, cfg.train, built.values())
            recipes = plan_variants(
                built.values(),
                conditions,
                seed=cfg.seed,
                # the rules the clips were labelled with decide what counts as related (custom merges too)
                ontology=next((s.curation.ontology for s in sources if hasattr(s, "curation")), default_ontology()),
                long_context_letters=cfg.long_context_letters,
                audio_removed_mode=cfg.audio_removed_mode,
            )
            report.stages.append(run_stage(synth_stage(m, recipes, built, report, store), runner, bar))
            failed = {v for v, _ in report.render_errors}
            vocabulary = sorted({c.label for c in built.values()})
            labels = {cid: c.label for cid, c in built.items()}
            wanted = [
                i
                for v in recipes
                if v.id not in failed
                for i in itemize(
                    v,
                    labels,
                    vocabulary,
                    build=cfg.name,
                    seed=cfg.seed,
                    shuffle=cfg.shuffle_options,
                    template_version=cfg.template_version,
                    split=Split.train if cfg.train else None,
                )
            ]
            report.stages.append(run_stage(item_stage(m, wanted, conditions, cfg.name, report, pending), runner, bar))
            fault_point("apply", 0)
            apply_items(m, cfg.name, pending)
        _summarize_clips(report, all_clips, spec_ids)
        with m.session() as s, s.begin():
            q = (
                select(ItemRow.condition, ItemRow.prompt_modality, func.count())
                .where(ItemRow.build == cfg.name, ItemRow.superseded_at.is_(None))
                .group_by(ItemRow.condition, ItemRow.prompt_modality)
            )
            report.items = {(c, mod): n for c, mod, n in s.execute(q)}
            row = s.get(BuildRow, cfg.name)
            report.seconds = time.perf_counter() - t0
            if report.new_work or pending["config"]:  # a no-op re-run changes no row
                row.timings = {
                    **(row.timings or {}),
                    split.value: {st.name: round(st.seconds, 3) for st in report.stages}
                    | {"total": round(report.seconds, 3)},
                }
                row.updated_at = datetime.now(timezone.utc)
    return report
