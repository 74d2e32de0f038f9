"""A backend-neutral dump of a manifest's content (ids, hashes, answers, prompts) to compare two builds."""

import json

from sqlalchemy import create_engine, text

QUERIES = (
    "SELECT id, sha256, label FROM clips",
    "SELECT id, sha256, path, condition FROM variants",
    "SELECT id, variant_id, prompt_modality, answer, options, prompt FROM items WHERE superseded_at IS NULL",
)


def _norm(x) -> str:
    """JSON columns come back as text from SQLite and as lists from PostgreSQL: compare their content."""
    if isinstance(x, str) and x.startswith("["):
        x = json.loads(x)
    return json.dumps(x, sort_keys=True) if isinstance(x, (list, dict)) else str(x)


def dump(url: str) -> list[list[tuple]]:
    eng = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1))
    with eng.connect() as c:
        out = [sorted(tuple(_norm(x) for x in r) for r in c.execute(text(q))) for q in QUERIES]
    eng.dispose()
    return out
