"""End to end in real headless Chromium (Debian's `chromium`, driven by Playwright; no browser download):
list -> filter to av_swap -> item page, where the variant's <video> must load, play and decode audio.
Screenshots of the list, an av_swap item, the clips page and the compare page go to $MMABENCH_SCREENSHOTS."""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest
import uvicorn

from mmabench.serve.app import create_app

CHROMIUM = os.environ.get("MMABENCH_CHROMIUM", "/usr/bin/chromium")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def live_url(served_home, served_db):
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(create_app(served_db, served_home / "media"), host="127.0.0.1", port=port, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(10)


@pytest.fixture
def browser():
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.fail(f"Chromium not found at {CHROMIUM}: apt-get install chromium (or set MMABENCH_CHROMIUM)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=CHROMIUM,
            headless=True,
            args=["--no-sandbox", "--autoplay-policy=no-user-gesture-required"],
        )
        yield b
        b.close()


def test_av_swap_item_plays_with_audio_in_chromium(live_url, browser, served_home, tmp_path):
    shots = Path(os.environ.get("MMABENCH_SCREENSHOTS") or tmp_path / "screens")
    shots.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1360, "height": 900})
    page.goto(f"{live_url}/items")
    page.select_option("select[name=condition]", "av_swap")
    page.select_option("select[name=run]", index=1)
    page.click("button[type=submit]")
    page.wait_for_url("**/items?*condition=av_swap*")
    conditions = page.locator("#items tbody td:nth-child(2)").all_inner_texts()
    assert conditions and set(conditions) == {"av_swap"}
    page.screenshot(path=str(shots / "list_av_swap.png"), full_page=False)

    page.locator("#items tbody a").first.click()
    page.wait_for_selector("video#variant")
    assert page.locator("video").count() == 3  # the variant, its video source, its audio donor
    page.wait_for_function("document.querySelector('video#variant').readyState >= 2", timeout=20_000)
    page.evaluate("v => { v.muted = true; return v.play(); }", page.locator("video#variant").element_handle())
    page.wait_for_function(
        "() => { const v = document.querySelector('video#variant');"
        " return v.currentTime > 0.5 && v.webkitAudioDecodedByteCount > 0; }",
        timeout=20_000,
    )
    facts = page.evaluate(
        "() => { const v = document.querySelector('video#variant'); v.pause();"
        " return {w: v.videoWidth, audio: v.webkitAudioDecodedByteCount, video: v.webkitVideoDecodedByteCount,"
        " tracks: v.audioTracks ? v.audioTracks.length : null}; }"
    )
    assert facts["w"] > 0 and facts["audio"] > 0 and facts["video"] > 0 and facts["tracks"] in (None, 1)
    for sel in ("video#video-source", "video#audio-donor"):
        page.wait_for_function(f"document.querySelector('{sel}').readyState >= 1", timeout=20_000)
    page.evaluate("document.querySelectorAll('video').forEach(v => { v.currentTime = 1.0; })")
    page.wait_for_function("[...document.querySelectorAll('video')].every(v => v.readyState >= 2)", timeout=20_000)
    page.screenshot(path=str(shots / "item_av_swap.png"), full_page=True)

    page.goto(f"{live_url}/clips")
    assert page.locator("#clips tbody tr").count() > 0
    page.screenshot(path=str(shots / "clips.png"), full_page=False)

    page.goto(f"{live_url}/runs")
    assert page.locator("table.study").count() == 2  # both runs, each with its study table
    page.screenshot(path=str(shots / "runs.png"), full_page=False)
    page.click("form[action='/compare'] button")
    page.wait_for_url("**/compare?*")
    assert page.locator("#pvalue").inner_text().startswith("p = ")
    page.screenshot(path=str(shots / "compare.png"), full_page=False)
    assert all(
        (shots / n).stat().st_size > 10_000
        for n in ("list_av_swap.png", "item_av_swap.png", "clips.png", "compare.png")
    )
