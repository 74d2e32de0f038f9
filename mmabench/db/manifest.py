"""The manifest: one engine per database URL, migrated on open, with bulk upserts and typed reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable, Iterator, Optional, Sequence

from sqlalchemy import Engine, Table, create_engine, event, select
from sqlalchemy.orm import Session

from mmabench.config import db_url, home_dir
from mmabench.db.migrate import MIGRATIONS, migrate
from mmabench.db.models import BuildRow, ClipRow, ItemRow, VariantRow
from mmabench.schema import Clip, ClipStatus, Condition, Item, Modality, Split, Variant, conditions_for

__all__ = ["MIGRATIONS", "Manifest", "make_engine", "migrate", "upsert"]
UPSERT_CHUNK = 5000


def make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 60})

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn, _):  # WAL: readers never block the builder; FKs on as in PostgreSQL
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA synchronous=NORMAL")
            cur.close()

        return engine
    return create_engine(url, pool_pre_ping=True)


def upsert(session: Session, table: Table, rows: Sequence[dict[str, Any]], update: Iterable[str] = ()) -> None:
    """INSERT … ON CONFLICT (pk) DO NOTHING / DO UPDATE, in chunks; same code on SQLite and PostgreSQL."""
    if not rows:
        return
    dialect = session.get_bind().dialect.name
    if dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert
    elif dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert
    else:
        raise NotImplementedError(f"upserts for {dialect!r} are not implemented (use SQLite or PostgreSQL)")
    pk = [c.name for c in table.primary_key.columns]
    stmt = insert(table)
    update = list(update)
    if update:
        stmt = stmt.on_conflict_do_update(index_elements=pk, set_={c: stmt.excluded[c] for c in update})
    else:
        stmt = stmt.on_conflict_do_nothing(index_elements=pk)
    # executemany with one compiled statement (SQLAlchemy batches it as multi-row VALUES under the hood);
    # compiling a fresh 500-row VALUES clause per chunk cost more than the inserts themselves
    for i in range(0, len(rows), UPSERT_CHUNK):
        session.execute(stmt, list(rows[i : i + UPSERT_CHUNK]))


class Manifest:
    """`Manifest()` opens the workspace's SQLite file; `Manifest("postgresql://…")` any SQLAlchemy URL."""

    def __init__(self, url: str | None = None, home: str | Path | None = None, *, create: bool = True):
        self.home = home_dir(home)
        self.url = db_url(url, home)
        self.engine = make_engine(self.url)
        if create:
            try:
                migrate(self.engine)
            except BaseException:
                self.engine.dispose()
                raise

    @property
    def media_root(self) -> Path:
        return self.home / "media"

    def session(self) -> Session:
        return Session(self.engine, expire_on_commit=False)

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> "Manifest":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # --- writes ---------------------------------------------------------------------------------------
    def upsert(self, model, rows: Sequence[dict[str, Any]], update: Iterable[str] = ()) -> None:
        with self.session() as s, s.begin():
            upsert(s, model.__table__, rows, update)

    # --- typed reads ----------------------------------------------------------------------------------
    def clips(self, status: ClipStatus | str | None = None, ids: Optional[Iterable[str]] = None) -> list[Clip]:
        q = select(ClipRow)
        if status is not None:
            q = q.where(ClipRow.status == ClipStatus(status).value)
        if ids is not None:
            q = q.where(ClipRow.id.in_(list(ids)))
        with self.session() as s:
            return [_clip(r) for r in s.scalars(q.order_by(ClipRow.id))]

    def variants(self, condition: Condition | str | None = None) -> list[Variant]:
        q = select(VariantRow)
        if condition is not None:
            q = q.where(VariantRow.condition == Condition(condition).value)
        with self.session() as s:
            return [_variant(r) for r in s.scalars(q.order_by(VariantRow.id))]

    def items(
        self, split: Split | str = Split.full, build: str | None = None, modality: Modality | str | None = None
    ) -> Iterator[Item]:
        conds = [c.value for c in conditions_for(split)]
        q = select(ItemRow).where(ItemRow.superseded_at.is_(None))  # current items only
        # train items live in train builds only; the test splits are sets of conditions
        train = Split(split) is Split.train
        q = (
            q.where(ItemRow.split == "train")
            if train
            else q.where(ItemRow.condition.in_(conds), ItemRow.split != "train")
        )
        if build is not None:
            q = q.where(ItemRow.build == build)
        if modality is not None:
            q = q.where(ItemRow.prompt_modality == Modality(modality).value)
        with self.session() as s:
            for r in s.scalars(q.order_by(ItemRow.id)):
                yield _item(r)

    def require_items(self, build: str, split: Split | str = Split.full) -> None:
        """Raise LookupError (naming the builds that do have items) when `build` has no items of `split`."""
        conds = [c.value for c in conditions_for(split)]
        with self.session() as s:
            q = select(ItemRow.id).where(ItemRow.build == build, ItemRow.condition.in_(conds)).limit(1)
            if s.scalar(q) is not None:
                return
            names = list(s.scalars(select(ItemRow.build).distinct().order_by(ItemRow.build)))
        have = ", ".join(names) if names else "none (run `mmabench build` first)"
        raise LookupError(f"build {build!r} has no {Split(split).value} items; builds with items here: {have}")

    def build_row(self, name: str) -> Optional[BuildRow]:
        with self.session() as s:
            return s.get(BuildRow, name)


def _fields(row, names) -> dict[str, Any]:
    return {n: getattr(row, n) for n in names}


def _clip(r: ClipRow) -> Clip:
    return Clip(**_fields(r, Clip.model_fields))


def _variant(r: VariantRow) -> Variant:
    return Variant(
        id=r.id,
        condition=Condition(r.condition),
        op=r.op,
        op_version=r.op_version,
        video_clip_id=r.video_clip_id,
        audio_clip_id=r.audio_clip_id,
        params=r.recipe.get("params", {}),
        path=r.path,
        sha256=r.sha256,
        bytes=r.bytes,
        tool_versions=r.tool_versions or {},
    )


def _item(r: ItemRow) -> Item:
    return Item(**_fields(r, Item.model_fields))
