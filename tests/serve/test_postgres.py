"""The viewer over a PostgreSQL manifest: same pages, and every transaction is READ ONLY."""

from __future__ import annotations

import re

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from starlette.testclient import TestClient

from mmabench.eval.runner import evaluate
from mmabench.pipeline.build import build
from mmabench.serve.app import create_app


@pytest.mark.postgres
def test_postgres_manifest_is_served_read_only(pg_url, tmp_path):
    build("conflict", home=tmp_path, db=pg_url, progress=False)
    run = evaluate("random", split="conflict", home=tmp_path, db=pg_url).run_id
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(plain) as con:
        av_swap = {r[0] for r in con.execute("SELECT item_id FROM items_flat WHERE condition = 'av_swap'")}
        item, path = con.execute("SELECT item_id, media_path FROM items_flat ORDER BY item_id LIMIT 1").fetchone()
        before = con.execute("SELECT count(*) FROM predictions").fetchone()[0]
    app = create_app(pg_url, tmp_path / "media")
    with TestClient(app) as c:
        html = c.get("/items", params={"condition": "av_swap", "run": run}).text
        shown = set(re.findall(r'href="/items/(\w{16})"', html.split('id="items"', 1)[1]))
        assert shown == av_swap
        page = c.get(f"/items/{item}")
        assert page.status_code == 200 and run in page.text
        data = (tmp_path / "media" / path).read_bytes()
        r = c.get(f"/media/{path}", headers={"Range": "bytes=10-109"})
        assert r.status_code == 206 and r.content == data[10:110]
        for url in ("/runs", "/compare", "/clips"):
            assert c.get(url).status_code == 200, url
    with pytest.raises(DBAPIError, match="read-only transaction"):
        with app.state.engine.begin() as con:
            con.execute(text("DELETE FROM predictions"))
    app.state.engine.dispose()
    with psycopg.connect(plain) as con:
        assert con.execute("SELECT count(*) FROM predictions").fetchone()[0] == before
