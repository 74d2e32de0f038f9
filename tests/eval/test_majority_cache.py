"""Run-dependent baselines are never served from another run's cache."""

from sqlalchemy import text

from mmabench.db.manifest import Manifest
from mmabench.eval.runner import evaluate


def test_majority_after_a_limited_run_answers_from_its_own_prior(demo_home):
    evaluate("majority", split="conflict", home=demo_home, limit=3)
    full = evaluate("majority", split="conflict", home=demo_home)
    assert full.cached == 0
    with Manifest(home=demo_home) as m:
        items = {i.id: i for i in m.items(split="conflict")}
        with m.session() as s:
            rows = s.execute(text("select item_id, parsed from predictions where run_id = :r"), {"r": full.run_id})
            answers = {(items[i].prompt_modality.value, p) for i, p in rows}
    assert len({mod for mod, _ in answers}) == 2 and len(answers) == 2  # one answer per modality: its own prior
