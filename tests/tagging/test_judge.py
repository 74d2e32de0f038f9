"""The MLLM judge against the loopback OpenAI-compatible peer: four questions per clip on the muted, black
and full clip, yes/no parsed, answers cached so a re-run asks nothing."""

import pytest

from mmabench.pipeline.build import build
from mmabench.tagging.filter import FilterConfig, run_filter
from mmabench.tagging.judge import parse_yes_no
from tests.llmpeer import LLMPeer


@pytest.mark.parametrize(
    "text,want",
    [("Yes.", True), ("no", False), ("No, there is none.", False), ("I think yes", True), ("maybe", None)],
)
def test_parse_yes_no(text, want):
    assert parse_yes_no(text) is want


def test_judge_asks_four_questions_and_caches_the_answers(tmp_path):
    build("conflict", home=tmp_path, progress=False)
    answer = lambda prompt, opts: "yes" if "visible" in prompt else "no"  # noqa: E731  seen, never heard
    with LLMPeer(answer=answer) as peer:
        cfg = FilterConfig(
            judge="openai-compat:Qwen/Qwen2.5-Omni-7B", judge_options={"base_url": peer.url + "/v1", "frames": 2}
        )
        first = run_filter(cfg, home=tmp_path)
        assert len(peer.calls) == 18 * 4
        visible = [c for c in peer.calls if c["prompt"].startswith("Is there a")]
        audible = [c for c in peer.calls if c["prompt"].startswith("Can you hear a")]
        assert len(visible) == len(audible) == 36
        # the muted copy carries no sound: half the "visible" questions came without audible audio
        assert sum(max(c["audio_peak"], default=0.0) == 0.0 for c in visible) == 18
        assert sum(max(c["audio_peak"], default=0.0) > 0.05 for c in audible) >= 18  # black frames keep the sound
        again = run_filter(cfg, home=tmp_path)
        assert len(peer.calls) == 18 * 4  # the second run made 0 calls
    assert all(not d.kept for d in first) and {d.reason for d in first} == {
        "not audible (judge openai-compat:Qwen/Qwen2.5-Omni-7B: no, with black frames)"
    }
    cat = next(d for d in again if d.clip.source_ref == "clips/cat_1.mp4")
    assert cat.checks["visible_muted"] == {
        "done": True,
        "by": "judge openai-compat:Qwen/Qwen2.5-Omni-7B",
        "answer": True,
        "pass": True,
    }
    assert cat.checks["audible_full"]["answer"] is False and "unverifiable" not in cat.checks
    assert [d.reason for d in again] == [d.reason for d in first]
    # where the server lives is not part of the filter's identity; the model is
    assert cfg.hash() == cfg.model_copy(update={"judge_options": {"frames": 2, "base_url": "http://x"}}).hash()
    assert cfg.hash() != cfg.model_copy(update={"judge": "openai-compat:other"}).hash()
