"""Baselines and API adapters end to end on the demo manifest; crash-safety, caching and media proof."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from mmabench.adapters import Adapter, Response, adapters
from mmabench.db.manifest import Manifest
from mmabench.db.readonly import run_readonly
from mmabench.eval.report import load_scores
from mmabench.eval.runner import evaluate, make_adapter
from tests.llmpeer import LLMPeer
from tests.mediagen import packets


class VisualOracle(Adapter):
    """Test double that always answers the *visual* class (reads it from the manifest): what a model that
    ignores the soundtrack would do."""

    name = "visual-oracle"

    def generate(self, request):
        _, rows = run_readonly(
            self.opts["db"], f"SELECT visual_class FROM items_flat WHERE item_id = '{request.item.id}'"
        )
        return Response(rows[0][0])


class Abstainer(Adapter):
    name = "abstainer"

    def generate(self, request):
        return Response("None of the above")


def _sql(home, q):
    return run_readonly(f"sqlite:///{home}/manifest.db", q)[1]


def _cells(home, run_id):
    with Manifest(home=home) as m:
        return {(c.condition, c.modality): c for c in load_scores(m, [run_id])[0].cells}


def test_known_answers(demo_home):
    db = f"sqlite:///{demo_home}/manifest.db"
    r = evaluate(VisualOracle(db=db), split="full", home=demo_home, concurrency=2)
    cells = _cells(demo_home, r.run_id)
    assert cells[("av_swap", "visual")].accuracy == 100.0 and cells[("av_swap", "audio")].accuracy == 0.0
    assert cells[("av_swap", "audio")].follows_video == 100.0 and cells[("av_swap", "audio")].follows_audio == 0.0
    assert cells[("aligned", "audio")].accuracy == 100.0
    a = evaluate(Abstainer(), split="full", home=demo_home)
    cells = _cells(demo_home, a.run_id)
    assert all(c.abstention == 100.0 and c.accuracy == 0.0 for c in cells.values())


def test_each_prediction_is_stored_with_its_item_and_clip_classes(demo_home):
    """The runner writes each row's cell, answer and follows flags itself (db/bulk.py joins nothing): they must be
    what items_flat (items, variants, clips) says, for every row of a run that names video classes and of one
    that answers at random."""
    db = f"sqlite:///{demo_home}/manifest.db"
    runs = [evaluate(VisualOracle(db=db), split="full", home=demo_home).run_id]
    runs.append(evaluate("random", split="full", home=demo_home).run_id)
    rows = _sql(
        demo_home,
        "SELECT p.run_id, p.parsed, p.condition, p.prompt_modality, p.answer, p.follows_video, p.follows_audio, "
        "f.condition, f.prompt_modality, f.answer, f.visual_class, f.audio_class "
        "FROM predictions p JOIN items_flat f ON f.item_id = p.item_id",
    )
    assert {r[0] for r in rows} == set(runs) and len(rows) == 2 * 216
    for _run, parsed, cond, mod, answer, fv, fa, *want in rows:
        want_cond, want_mod, want_answer, video, audio = want
        assert (cond, mod, answer) == (want_cond, want_mod, want_answer)
        assert (bool(fv), bool(fa)) == (parsed == video, parsed == audio)
    flags = {(bool(r[5]), bool(r[6])) for r in rows if r[2] == "av_swap"}
    assert (True, False) in flags and (False, False) in flags  # both outcomes occur: the check can fail


def test_baselines_are_deterministic_resumable_and_cached(demo_home):
    first = evaluate("random", split="full", home=demo_home)
    assert first.called == 216 and first.errors == 0
    again = evaluate("random", split="full", home=demo_home)
    assert again.planned == 0 and again.called == 0  # resume: nothing left
    rows = _sql(demo_home, "SELECT count(*), count(DISTINCT item_id), sum(parse_status = 'exact') FROM predictions")
    assert rows == [(216, 216, 216)]
    maj = evaluate("majority", split="conflict", home=demo_home)
    assert _sql(
        demo_home,
        f"SELECT i.prompt_modality, count(DISTINCT parsed) FROM predictions p JOIN items i "
        f"ON i.id = p.item_id WHERE run_id = '{maj.run_id}' GROUP BY 1 ORDER BY 1",
    ) == [("audio", 1), ("visual", 1)]  # one answer (the prior) per modality
    # a second run over the same requests (other limit => other run id) is served from the cache
    sub = evaluate("random", split="full", home=demo_home, limit=50)
    assert sub.cached == 50 and sub.called == 0


def test_openai_compat_sends_the_right_media(demo_home):
    with LLMPeer() as peer:
        r = evaluate(
            make_adapter("openai-compat", "omni", base_url=peer.url + "/v1", frames=4),
            split="full",
            home=demo_home,
            concurrency=4,
        )
    assert r.errors == 0 and len(peer.calls) == 216
    rows = _sql(demo_home, f"SELECT condition, sent FROM predictions_flat WHERE run_id = '{r.run_id}'")
    by = {}
    for cond, sent in rows:
        by.setdefault(cond, []).append(json.loads(sent) if isinstance(sent, str) else sent)
    for cond in ("aligned", "av_swap", "caption", "long_context", "frames_zeroed"):
        assert all(s["frames"] == 4 and s["audio"] and not s["audio"]["silent"] for s in by[cond]), cond
    assert all(s["audio"]["silent"] and s["audio"]["seconds"] > 4 for s in by["audio_removed"])
    # the server side agrees: every request carried 4 images and one audio part; silence only for audio_removed
    assert all(c["images"] == 4 and len(c["audio_peak"]) == 1 for c in peer.calls)
    assert sum(c["audio_peak"][0] == 0.0 for c in peer.calls) == 36


def test_each_stream_is_decoded_once_ahead_of_its_requests_and_read_back_on_the_next_run(demo_home):
    """216 items over 72 files at concurrency 16: each distinct video and audio stream decoded once (variants
    stream-copy theirs from the clips and from shared black/silent tracks; it was 146 file decodes), in worker
    processes; a second run under another model name (the answer cache cannot serve it) reads all 72 back."""
    paths = [
        demo_home / "media" / p
        for (p,) in _sql(
            demo_home,
            "SELECT DISTINCT v.path FROM items i JOIN variants v ON v.id = i.variant_id WHERE v.path != ''",
        )
    ]
    streams = {k: {tuple(packets(p, k)) for p in paths} for k in ("video", "audio")}
    with LLMPeer(latency=0.02) as peer:
        counts, made = [], []
        for model in ("omni-a", "omni-b"):
            adapter = make_adapter("openai-compat", model, base_url=peer.url + "/v1")
            r = evaluate(adapter, split="full", home=demo_home, concurrency=16)
            assert r.called == 216 and r.errors == 0
            counts.append(dict(adapter.media_counts))
            made.append(dict(adapter.media_made))
    assert len(paths) == 72 and (len(streams["video"]), len(streams["audio"])) == (20, 20)
    # cold: a file whose streams another file had decoded is "shared" (which file is first depends on timing)
    assert set(counts[0]) <= {"decoded", "shared"} and sum(counts[0].values()) == 72 and counts[1] == {"disk": 72}
    assert made == [{"frames": 20, "audio": 20}, {}]
    assert len(list((demo_home / "cache" / "media").rglob("*.payload"))) == 40
    assert len(list((demo_home / "cache" / "media").rglob("*.streams"))) == 72
    assert all(c["images"] == 8 and len(c["audio_peak"]) == 1 for c in peer.calls)


def test_audio_dropped_variant_sends_no_audio_and_text_only_sends_nothing(tmp_path):
    from mmabench.config import BuildConfig
    from mmabench.pipeline.build import build

    build("unimodal", BuildConfig(audio_removed_mode="drop"), home=tmp_path, progress=False)
    with LLMPeer() as peer:
        r = evaluate(make_adapter("openai-compat", "omni", base_url=peer.url + "/v1"), split="unimodal", home=tmp_path)
        t = evaluate(make_adapter("text-only", "omni", base_url=peer.url + "/v1"), split="unimodal", home=tmp_path)
    assert r.errors == 0 and t.errors == 0
    removed = [c for c in peer.calls[:72] if not c["audio_peak"]]
    assert len(removed) == 36 and all(c["images"] == 8 for c in removed)
    assert all(c["images"] == 0 and c["audio_peak"] == [] for c in peer.calls[72:])


def test_retries_on_429_500_empty_and_timeouts(demo_home):
    faults = ["429", "500", "empty", "429"]
    with LLMPeer(faults=faults) as peer:
        r = evaluate(
            make_adapter("openai-compat", "omni", base_url=peer.url + "/v1", timeout=2.0),
            split="conflict",
            home=demo_home,
            limit=6,
            concurrency=1,
            retries=5,
            backoff=0.01,
        )
    assert r.errors == 0 and r.called == 6
    rows = _sql(demo_home, f"SELECT attempts FROM predictions WHERE run_id = '{r.run_id}' ORDER BY created_at")
    assert sum(a for (a,) in rows) == 6 + 4
    with LLMPeer(faults=["slow", "slow"]) as peer:
        t = evaluate(
            make_adapter("openai-compat", "omni2", base_url=peer.url + "/v1", timeout=0.5),
            split="conflict",
            home=demo_home,
            limit=2,
            concurrency=1,
            retries=0,
            backoff=0.01,
        )
    assert t.errors == 2 and all("Timeout" in e for e in t.error_samples)
    assert _sql(demo_home, f"SELECT count(*) FROM predictions WHERE run_id = '{t.run_id}' AND error IS NOT NULL") == [
        (2,)
    ]
    with LLMPeer() as peer:  # errors are retried on resume, never served from the cache
        again = evaluate(
            make_adapter("openai-compat", "omni2", base_url=peer.url + "/v1", timeout=0.5),
            split="conflict",
            home=demo_home,
            limit=2,
            concurrency=1,
        )
        assert again.called == 2 and again.errors == 0 and len(peer.calls) == 2


def test_kill_mid_run_then_resume_repeats_no_answered_call(demo_home, tmp_path):
    with LLMPeer(latency=0.05) as peer:
        cmd = [
            sys.executable,
            "-m",
            "mmabench.cli",
            "eval",
            "--model",
            "openai-compat:omni",
            "--split",
            "conflict",
            "--base-url",
            peer.url + "/v1",
            "--concurrency",
            "1",
            "--home",
            str(demo_home),
            "--no-progress",
        ]
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.time() + 60
        while time.time() < deadline and len(peer.calls) < 20:
            time.sleep(0.02)
        assert proc.poll() is None, "the run ended before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        time.sleep(0.2)  # the request in flight at the kill is logged by the peer after its 50-ms latency
        before_kill_calls = len(peer.calls)
        (committed,) = _sql(demo_home, "SELECT count(*) FROM predictions")[0]
        assert 0 < committed < 72
        res = subprocess.run(cmd, capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    resumed_calls = len(peer.calls) - before_kill_calls
    assert resumed_calls == 72 - committed  # nothing already answered is asked again
    assert len(peer.calls) <= 72 + 1  # at most the one request in flight at the kill
    assert _sql(demo_home, "SELECT count(*), count(DISTINCT item_id) FROM predictions") == [(72, 72)]


def test_gemini_sends_the_mp4_with_its_audio(demo_home, monkeypatch):
    monkeypatch.setenv("GEMINI_API_KEY", "test-key-not-logged")
    with LLMPeer() as peer:
        r = evaluate(
            make_adapter("gemini", "gemini-2.5-flash", base_url=peer.url), split="conflict", home=demo_home, limit=8
        )
    assert r.errors == 0 and all(c["videos"] == ["video/mp4"] for c in peer.calls)
    shas = _sql(
        demo_home,
        f"SELECT f.media_sha256 FROM predictions p JOIN items_flat f ON f.item_id = p.item_id "
        f"WHERE p.run_id = '{r.run_id}'",
    )
    assert sorted(c["video_sha"][0] for c in peer.calls) == sorted(s for (s,) in shas)
    assert "test-key-not-logged" not in json.dumps(_sql(demo_home, "SELECT options FROM runs"))


def test_unknown_adapter_has_a_did_you_mean():
    with pytest.raises(LookupError, match="Did you mean 'openai-compat'"):
        adapters.get("openai-compt")
