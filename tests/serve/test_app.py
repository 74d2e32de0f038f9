"""The viewer's pages and media over a real demo build, through Starlette's test client."""

from __future__ import annotations

import hashlib
import re
import sqlite3

import pytest
from markupsafe import escape as _escape
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from starlette.testclient import TestClient

from mmabench.eval.compare import mcnemar_exact
from mmabench.serve.app import create_app
from mmabench.serve.items import split_prompt


def html_escape(s: str) -> str:  # what Jinja2's autoescape writes (&#34; for a double quote)
    return str(_escape(s))


ITEM_LINK = re.compile(r'href="/items/(\w{16})"')


@pytest.fixture(scope="module")
def client(served_home, served_db):
    with TestClient(create_app(served_db, served_home / "media")) as c:
        yield c


def sql(home, q, *args):
    with sqlite3.connect(home / "manifest.db") as con:
        return con.execute(q, args).fetchall()


def run_ids(home):
    return dict(sql(home, "SELECT adapter, id FROM runs"))


def ids_on(page_html):
    return ITEM_LINK.findall(page_html.split('id="items"', 1)[1])


def test_filters_narrow_the_list_and_stay_in_the_url(client, served_home):
    r = client.get("/items", params={"condition": "av_swap", "modality": "audio", "class": "Cat"})
    assert r.status_code == 200
    want = {
        i
        for (i,) in sql(
            served_home,
            "SELECT item_id FROM items_flat WHERE condition='av_swap' AND prompt_modality='audio' "
            "AND (visual_class='Cat' OR audio_class='Cat')",
        )
    }
    assert 0 < len(want) < 50 and set(ids_on(r.text)) == want
    assert 'value="av_swap" selected' in r.text and 'value="Cat" selected' in r.text


@pytest.mark.parametrize("outcome", ["correct", "incorrect"])
def test_run_and_outcome_filter(client, served_home, outcome):
    run = run_ids(served_home)["random"]
    r = client.get("/items", params={"run": run, "outcome": outcome, "condition": "aligned"})
    cond = "correct = 1" if outcome == "correct" else "correct = 0 AND abstained = 0"
    want = {
        i
        for (i,) in sql(
            served_home, f"SELECT item_id FROM predictions_flat WHERE run_id=? AND condition='aligned' AND {cond}", run
        )
    }
    assert want and set(ids_on(r.text)) == want


def test_outcome_without_a_run_is_a_clear_400(client):
    r = client.get("/items", params={"outcome": "correct"})
    assert r.status_code == 400 and "needs a run" in r.text


def test_keyset_pages_follow_each_other_without_overlap(client, served_home):
    everything = [i for (i,) in sql(served_home, "SELECT id FROM items ORDER BY id")]
    assert len(everything) > 100  # three pages of 50 at least
    seen, url, pages = [], "/items", []
    while url:
        html = client.get(url).text
        ids = ids_on(html)
        pages.append((url, ids))
        seen += ids
        m = re.search(r'href="([^"]+)" rel="next"', html)
        url = m.group(1).replace("&amp;", "&") if m else None
    assert seen == everything  # in order, nothing twice, nothing missed
    assert pages[1][1][0] > pages[0][1][-1] and "after=" in pages[1][0] and "offset" not in pages[1][0]
    back = re.search(r'href="([^"]+)" rel="prev"', client.get(pages[2][0]).text).group(1).replace("&amp;", "&")
    assert ids_on(client.get(back).text) == pages[1][1]


def test_filtered_pages_walk_with_the_run(client, served_home):
    run = run_ids(served_home)["majority"]
    first = client.get("/items", params={"run": run, "outcome": "incorrect"}).text
    nxt = re.search(r'href="([^"]+)" rel="next"', first).group(1).replace("&amp;", "&")
    assert f"run={run}" in nxt and "outcome=incorrect" in nxt
    a, b = ids_on(first), ids_on(client.get(nxt).text)
    assert len(a) == 50 and b and not set(a) & set(b) and b[0] > a[-1]


def test_item_page_shows_av_swap_sources_prompt_and_every_answer(client, served_home):
    item_id, vpath, vclip, aclip, prompt = sql(
        served_home,
        "SELECT f.item_id, f.media_path, vc.path, ac.path, f.prompt FROM items_flat f "
        "JOIN clips vc ON vc.id = f.video_clip_id JOIN clips ac ON ac.id = f.audio_clip_id "
        "WHERE f.condition='av_swap' ORDER BY f.item_id LIMIT 1",
    )[0]
    html = client.get(f"/items/{item_id}").text
    assert f'src="/media/{vpath}"' in html and f'src="/media/{vclip}"' in html and f'src="/media/{aclip}"' in html
    assert "audio donor" in html and "video source" in html
    assert html_escape(prompt) in html
    for run, response in sql(served_home, "SELECT run_id, response FROM predictions WHERE item_id=?", item_id):
        assert run in html and f">{response}</pre>" in html
    assert "frames: 0" in html  # predictions.sent, rendered
    assert client.get("/items/nope").status_code == 404


def test_long_context_prompt_is_folded_but_complete(client, served_home):
    item_id, prompt = sql(served_home, "SELECT id, prompt FROM items WHERE condition='long_context' LIMIT 1")[0]
    context, question = split_prompt(prompt)
    assert context + question == prompt and len(context) > 5000 and question.startswith("Which class")
    html = client.get(f"/items/{item_id}").text
    assert "<details><summary>long context" in html and context.strip()[:200] in html


def test_range_request_returns_exactly_the_bytes_asked(client, served_home):
    (path,) = sql(served_home, "SELECT media_path FROM items_flat WHERE condition='av_swap' LIMIT 1")[0]
    data = (served_home / "media" / path).read_bytes()
    r = client.get(f"/media/{path}", headers={"Range": "bytes=1000-4999"})
    assert r.status_code == 206 and r.content == data[1000:5000]
    assert r.headers["content-range"] == f"bytes 1000-4999/{len(data)}" and r.headers["content-length"] == "4000"
    tail = client.get(f"/media/{path}", headers={"Range": "bytes=-300"})
    assert tail.status_code == 206 and tail.content == data[-300:]
    full = client.get(f"/media/{path}")
    assert full.status_code == 200 and full.content == data and full.headers["accept-ranges"] == "bytes"
    assert full.headers["content-type"] == "video/mp4"
    assert client.get(f"/media/{path}", headers={"Range": f"bytes={len(data) + 10}-"}).status_code == 416


def test_only_files_inside_the_media_store_are_served(served_home, served_db, tmp_path):
    media = tmp_path / "media"
    (media / "ok").mkdir(parents=True)
    (media / "ok" / "a.txt").write_text("inside")
    (tmp_path / "secret.txt").write_text("SECRET-42")
    (media / "ok" / "link.txt").symlink_to(tmp_path / "secret.txt")
    (media / "ok" / "inner.txt").symlink_to(media / "ok" / "a.txt")
    c = TestClient(create_app(served_db, media))
    assert c.get("/media/ok/a.txt").text == "inside"
    assert c.get("/media/ok/inner.txt").text == "inside"  # a link that stays inside is fine
    for bad in (
        "ok/link.txt",
        "%2e%2e/secret.txt",
        "ok/%2e%2e/%2e%2e/secret.txt",
        "..%2fsecret.txt",
        "%2fetc%2fpasswd",
    ):
        r = c.get(f"/media/{bad}")
        assert r.status_code in (403, 404) and "SECRET-42" not in r.text, bad
    assert c.get("/media/ok/link.txt").status_code == 403
    assert c.get("/media/ok/missing.mp4").status_code == 404


def test_nothing_is_written_to_the_manifest(served_home, served_db):
    db = served_home / "manifest.db"
    before = (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns)
    app = create_app(served_db, served_home / "media")
    with TestClient(app) as c:
        run = run_ids(served_home)["random"]
        for url in ("/items", f"/items?run={run}&outcome=correct", "/runs", "/compare", "/clips"):
            assert c.get(url).status_code == 200
        item = ids_on(c.get("/items").text)[0]
        assert c.get(f"/items/{item}").status_code == 200
    with pytest.raises(OperationalError, match="readonly|read-only"):
        with app.state.engine.begin() as con:
            con.execute(text("DELETE FROM predictions"))
    assert (hashlib.sha256(db.read_bytes()).hexdigest(), db.stat().st_mtime_ns) == before


def test_token_is_required_when_given(served_home, served_db):
    (path,) = sql(served_home, "SELECT media_path FROM items_flat LIMIT 1")[0]
    c = TestClient(create_app(served_db, served_home / "media", token="s3cret"))
    assert c.get("/items").status_code == 401 and c.get(f"/media/{path}").status_code == 401
    assert c.get("/items", params={"token": "wrong"}).status_code == 401
    assert c.get("/items", headers={"Authorization": "Bearer s3cret"}).status_code == 200
    r = c.get("/items", params={"token": "s3cret"})
    assert r.status_code == 200 and "mmabench_token" in r.headers["set-cookie"]
    assert c.get(f"/media/{path}").status_code == 200  # the cookie the page got carries the token


def test_runs_page_is_the_study_table(client, served_home):
    runs = run_ids(served_home)
    html = client.get("/runs", params={"run": runs["majority"]}).text
    (n_visual_swap,) = sql(
        served_home,
        "SELECT count(*) FROM predictions_flat WHERE run_id=? AND condition='av_swap' AND prompt_modality='visual'",
        runs["majority"],
    )[0]
    (acc,) = sql(
        served_home,
        "SELECT 100.0 * avg(correct) FROM predictions_flat WHERE run_id=? AND condition='av_swap' "
        "AND prompt_modality='visual'",
        runs["majority"],
    )[0]
    row = re.search(
        r"<tr><td>av_swap</td><td>visual</td><td class=\"num\">(\d+)</td><td class=\"num\"><b>([\d.]+)", html
    )
    assert row and int(row.group(1)) == n_visual_swap and float(row.group(2)) == round(acc, 1)
    assert runs["random"] not in html.split('class="study"', 1)[1]  # only the chosen run's table


def test_compare_counts_disagreements_and_mcnemar(client, served_home):
    runs = run_ids(served_home)
    a, b = runs["random"], runs["majority"]
    html = client.get("/compare", params={"a": a, "b": b}).text
    pairs = sql(
        served_home,
        "SELECT pa.correct, pb.correct, pa.parsed != pb.parsed FROM predictions pa JOIN predictions pb "
        "ON pb.item_id = pa.item_id AND pb.run_id = ? WHERE pa.run_id = ?",
        b,
        a,
    )
    a_only = sum(1 for x, y, _ in pairs if x and not y)
    b_only = sum(1 for x, y, _ in pairs if y and not x)
    assert f"<b>{a_only}</b>" in html and f"<b>{b_only}</b>" in html
    assert f"disagree ({sum(d for *_, d in pairs)})" in html
    assert f"p = {mcnemar_exact(a_only, b_only):.4g}" in html


def test_clips_page_shows_decisions_with_reasons_per_check(client, served_home):
    html = client.get("/clips").text
    kept, rejected = (sql(served_home, "SELECT count(*) FROM decisions WHERE kept = ?", k)[0][0] for k in (1, 0))
    assert kept and rejected and f"{kept} kept" in html and f"{rejected} rejected" in html
    (reason,) = sql(served_home, "SELECT reason FROM decisions WHERE kept = 0 LIMIT 1")[0]
    assert html_escape(reason) in html
    assert "visible_muted" in html and "FAIL" in html and "imagenet" in html and "yamnet" in html
    assert "not done" in html and "same input as audible_black" in html  # unverifiable Speech; unimodal yamnet
    only_kept = client.get("/clips", params={"decision": "kept"}).text
    assert only_kept.count('class="ok">kept</span>') == kept and "rejected</span>:" not in only_kept
