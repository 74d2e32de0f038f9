"""Model replicas (decode="replicas"): spawned processes that each load the tagger, decode and run the model;
the caller commits. Same scores as the one-model pipeline, bad files reported, a re-run calls no model, and
auto uses replicas once they run (or for a corpus large enough to pay for starting them)."""

import os
import signal
import time
from concurrent.futures.process import BrokenProcessPool

import pytest

from mmabench.db.manifest import Manifest
from mmabench.tagging import replicas
from mmabench.tagging.runner import REPLICA_MIN_FILES, cached_scores, decode_mode, load_taggers, start_models, tag_files
from tests.tagging.test_runner import demo_files


@pytest.fixture(scope="module")
def yamnet():
    t = load_taggers(["yamnet"], {"yamnet": {"batch_size": 4}})[0]
    yield t
    replicas.close_pools()


def test_replicas_score_as_the_pipeline_report_bad_files_and_cache(tmp_path, yamnet):
    files = demo_files(6)
    bad = tmp_path / "junk.mp4"
    bad.write_bytes(b"\x00" * 100)
    files["e" * 64] = bad
    with Manifest(f"sqlite:///{tmp_path}/t.db", tmp_path) as m:
        tag_files(m, yamnet, files, workers=2, decode="thread")
        threads = cached_scores(m, yamnet, list(files))
    with Manifest(f"sqlite:///{tmp_path}/r.db", tmp_path) as m:
        rep = tag_files(m, yamnet, files, workers=2, decode="replicas")
        assert (rep.tagged, rep.model_calls, list(rep.failed)) == (6, 6, ["e" * 64])
        assert "junk.mp4" in rep.failed["e" * 64] and rep.batches >= 2  # chunks of at most batch_size files
        got = cached_scores(m, yamnet, list(files))
        again = tag_files(m, yamnet, files, workers=2, decode="replicas")
        assert (again.planned, again.model_calls, list(again.failed)) == (1, 0, ["e" * 64])
    assert got.keys() == threads.keys() and len(got) == 6
    for sha in got:
        assert max(abs(got[sha][k] - threads[sha][k]) for k in threads[sha]) < 1e-3
    pool = replicas.pool_for(yamnet, 2)
    pids = set(pool.map(replicas._ready, range(4)))
    assert os.getpid() not in pids and len(pids) == 2  # the models ran in two other processes


def test_auto_uses_replicas_when_running_or_worth_starting(yamnet):
    replicas.close_pools()
    assert decode_mode(yamnet, 2, "auto", 10) == "thread"  # too few files to pay for starting processes
    assert decode_mode(yamnet, 2, "auto", REPLICA_MIN_FILES) == "replicas"
    assert decode_mode(yamnet, 1, "auto", REPLICA_MIN_FILES) == "thread"  # one worker: nothing to split
    assert start_models(yamnet, 2) == 2 and replicas.running(yamnet, 2)
    assert decode_mode(yamnet, 2, "auto", 10) == "replicas"  # already loaded: free to use
    assert decode_mode(yamnet, 2, "thread", 10) == "thread"
    with pytest.raises(ValueError, match="decode must be"):
        decode_mode(yamnet, 2, "fibers", 10)


def test_taggers_without_a_recipe_or_that_do_not_gain_stay_in_process(yamnet):
    imagenet = load_taggers(["imagenet"], {"imagenet": {"device": "cpu"}})[0]
    assert decode_mode(imagenet, 2, "auto", 10**6) == "thread"  # its onnxruntime threads use both cores
    bare = type(yamnet).__new__(type(yamnet))
    bare.__dict__.update(yamnet.__dict__, spec=None)  # built directly, not by load_taggers
    assert decode_mode(bare, 2, "replicas", 10**6) == "thread"


def test_a_killed_replica_fails_the_run_and_the_next_run_starts_fresh_ones(tmp_path, yamnet):
    files = demo_files(4)
    replicas.pool_for(yamnet, 2)
    os.kill(replicas.pids()[0], signal.SIGKILL)
    time.sleep(0.5)  # the pool notices its dead worker
    with Manifest(f"sqlite:///{tmp_path}/k.db", tmp_path) as m:
        with pytest.raises(BrokenProcessPool):
            tag_files(m, yamnet, files, workers=2, decode="replicas")
        assert not replicas.running(yamnet, 2)
        rep = tag_files(m, yamnet, files, workers=2, decode="replicas")
        assert rep.failed == {} and len(cached_scores(m, yamnet, list(files))) == 4
