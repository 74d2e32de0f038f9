import random

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError

from mmabench.db.bulk import write_predictions
from mmabench.db.manifest import Manifest
from mmabench.db.models import PredictionRow
from tests.db import predgen


def _rows(m: Manifest) -> dict[tuple[str, str], PredictionRow]:
    with m.session() as s:
        return {(r.run_id, r.item_id): r for r in s.scalars(select(PredictionRow))}


def test_write_inserts_every_column(db_url):
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 6)
        predgen.run(m.upsert, "r1")
        rnd = random.Random(1)
        rows = [predgen.prediction("r1", i, rnd) for i in items]
        rows[0] |= dict(tokens_in=7, tokens_out=3, cached_from="r0", sent={"frames": 8, "audio": True})
        with m.session() as s, s.begin():
            write_predictions(s, rows)
        got = _rows(m)
    assert len(got) == len(items) == 12
    for want, item in zip(rows, items):
        r = got[("r1", item["id"])]
        assert {c: getattr(r, c) for c in want} == want  # booleans, NULLs and JSON come back as written
        assert (r.condition, r.prompt_modality) == (item["condition"], item["prompt_modality"])
        assert r.created_at is not None


def test_write_replaces_on_the_key_and_keeps_created_at(db_url):
    """The runner's resume semantics: an error row is replaced by the later answer, nothing duplicated."""
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 3)
        predgen.run(m.upsert, "r1")
        rnd = random.Random(2)
        first = [predgen.prediction("r1", i, rnd) | dict(error="timeout", parse_status="error") for i in items]
        with m.session() as s, s.begin():
            write_predictions(s, first)
        created = {k: r.created_at for k, r in _rows(m).items()}
        again = [predgen.prediction("r1", i, rnd) | dict(error=None, parse_status="exact", attempts=2) for i in items]
        with m.session() as s, s.begin():
            write_predictions(s, again[:4])
            write_predictions(s, again[4:])  # a second batch in one transaction sees none of the first
        got = _rows(m)
    assert len(got) == 6
    assert all(r.error is None and r.attempts == 2 for r in got.values())
    assert {k: r.created_at for k, r in got.items()} == created


def test_a_failed_batch_writes_nothing_and_the_next_one_works(db_url):
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 2)
        predgen.run(m.upsert, "r1")
        rnd = random.Random(3)
        bad = [predgen.prediction("r1", i, rnd) for i in items] + [
            predgen.prediction("r1", {"id": "nosuchitem00000", "answer": "Cat"}, rnd)
        ]
        with pytest.raises(IntegrityError):  # the foreign key refuses the unknown item, as before
            with m.session() as s, s.begin():
                write_predictions(s, bad)
        assert _rows(m) == {}
        with m.session() as s, s.begin():
            write_predictions(s, bad[:2])
        assert set(_rows(m)) == {("r1", items[0]["id"]), ("r1", items[1]["id"])}


def test_a_plain_sql_insert_gets_the_cell_from_the_trigger(db_url):
    """Writers that do not go through db/bulk.py (a user's SQL, an old script) still get the columns filled."""
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 2)
        predgen.run(m.upsert, "r1")
        with m.engine.begin() as c:
            for i in items:
                c.execute(
                    text(
                        "INSERT INTO predictions (run_id, item_id, fingerprint, parse_status, correct, abstained, "
                        "sent, attempts) VALUES ('r1', :i, 'f', 'exact', true, false, '{}', 1)"
                    ),
                    {"i": i["id"]},
                )
        got = _rows(m)
    assert {(k[1], r.condition, r.prompt_modality) for k, r in got.items()} == {
        (i["id"], i["condition"], i["prompt_modality"]) for i in items
    }
    # and what the row is scored against (0007): no parsed answer names no class; the answer is the item's
    assert {(k[1], r.answer, r.follows_video, r.follows_audio) for k, r in got.items()} == {
        (i["id"], i["answer"], False, False) for i in items
    }


def test_a_rewrite_replaces_the_answer_and_follows_flags(db_url):
    """A re-run replacing a prediction replaces what it is scored against too (the flags follow `parsed`); the
    flags name the classes of the variant's clips, read here from items_flat, not from the test's generator."""
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 2)  # variant 1 is av_swap
        with m.engine.connect() as c:
            labels = {
                r.item_id: (r.visual_class, r.audio_class)
                for r in c.execute(text("SELECT item_id, visual_class, audio_class FROM items_flat"))
            }
        predgen.run(m.upsert, "r1")
        swap = next(i for i in items if i["condition"] == "av_swap" and i["prompt_modality"] == "audio")
        video, audio = labels[swap["id"]]
        rnd = random.Random(0)
        for parsed, want in ((video, (True, video == audio)), (audio, (video == audio, True)), (None, (False, False))):
            row = predgen.prediction("r1", swap, rnd) | {"parsed": parsed, "parse_status": "exact", "error": None}
            with m.session() as s, s.begin():
                write_predictions(s, [row | predgen.scored(swap, parsed)])
            (got,) = _rows(m).values()
            assert (got.condition, got.prompt_modality) == ("av_swap", "audio")
            assert (got.answer, got.follows_video, got.follows_audio) == (swap["answer"], *want)


def test_rows_without_what_they_are_scored_against_are_refused_before_anything_is_written(db_url):
    with Manifest(db_url) as m:
        items = predgen.items(m.upsert, 1)
        predgen.run(m.upsert, "r1")
        row = predgen.prediction("r1", items[0], random.Random(0))
        del row["follows_audio"]
        with pytest.raises(ValueError, match="missing follows_audio"):
            with m.session() as s, s.begin():
                write_predictions(s, [row])
        assert _rows(m) == {}
