"""The lmms-eval task folder over a release: the YAML parses as lmms-eval's loader reads it (`!function`
tags resolved against the generated utils.py), and the hooks work on the release's own rows. lmms-eval
itself is not installed here: its loader and runner are not exercised."""

import importlib.util
import subprocess
import sys

import yaml

from mmabench.eval.scoring import parse_answer
from mmabench.export.hf import export_hf
from mmabench.export.lmms_eval import export_lmms_eval


def load_task(folder, name):
    spec = importlib.util.spec_from_file_location("utils", folder / "utils.py")
    utils = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(utils)

    class Loader(yaml.SafeLoader):
        pass

    def fn(loader, node):
        mod, _, attr = loader.construct_scalar(node).partition(".")
        assert mod == "utils"
        return getattr(utils, attr)

    Loader.add_constructor("!function", fn)
    return yaml.load((folder / f"{name}.yaml").read_text(), Loader=Loader), utils


def test_task_yaml_and_hooks_over_a_release(demo_home, tmp_path):
    import datasets

    rel = export_hf(tmp_path / "rel", home=demo_home, splits=["conflict", "unimodal"], copy_manifest=False).out
    rep = export_lmms_eval(tmp_path / "tasks", str(rel))
    assert rep["tasks"] == ["mmabench_conflict", "mmabench_unimodal"]
    task, utils = load_task(tmp_path / "tasks", "mmabench_unimodal")
    assert "import mmabench" not in (tmp_path / "tasks" / "utils.py").read_text()  # runs without mmabench
    assert task["dataset_path"] == str(rel.resolve()) and task["dataset_name"] == "unimodal"
    names = [m["metric"] for m in task["metric_list"]]
    assert (
        names[0] == "accuracy" and "accuracy_frames_zeroed_visual" in names and "accuracy_audio_removed_audio" in names
    )
    docs = task["process_docs"](
        datasets.load_dataset(
            task["dataset_path"], task["dataset_name"], split=task["test_split"], cache_dir=str(tmp_path / "hfc")
        )
    )
    assert len(docs) == 72
    points: dict[str, list] = {}
    for i, doc in enumerate(docs):
        (video,) = task["doc_to_visual"](doc)
        assert video.startswith(str(rel.resolve())) and video.endswith(".mp4")
        assert task["doc_to_text"](doc, task["lmms_eval_specific_kwargs"]["default"]) == doc["prompt"]
        assert task["doc_to_target"](doc) == doc["answer"]
        reply = f"The answer is {doc['answer']}." if i % 2 == 0 else "no idea"  # half right, half unparsed
        got = task["process_results"](doc, [reply])
        assert got["accuracy"]["correct"] == (parse_answer(reply, list(doc["options"]))[0] == doc["answer"])
        for k, v in got.items():
            points.setdefault(k, []).append(v)
    stale = {**docs[0], "video": {"path": "/gone/rel/media/" + video.rsplit("/media/", 1)[1], "bytes": None}}
    assert task["doc_to_visual"](stale) == [video]  # a path cached before the release moved still finds the file
    agg = {m["metric"]: m["aggregation"](points[m["metric"]]) for m in task["metric_list"] if m["metric"] in points}
    assert agg["accuracy"] == 50.0 and agg["unparsed"] == 50.0
    assert set(points) - {"accuracy", "abstention", "unparsed"} == {
        f"accuracy_{c}_{m}" for c in ("frames_zeroed", "audio_removed") for m in ("visual", "audio")
    }


def test_cli_refuses_an_unknown_config(demo_home, tmp_path):
    rel = export_hf(tmp_path / "rel", home=demo_home, splits=["conflict"], copy_manifest=False).out
    res = subprocess.run(
        [
            sys.executable,
            "-m",
            "mmabench.cli",
            "export",
            "lmms-eval",
            str(tmp_path / "t"),
            "--release",
            str(rel),
            "--config",
            "text",
        ],
        capture_output=True,
        text=True,
    )
    assert res.returncode == 2 and "no config text" in res.stderr and not (tmp_path / "t").exists()
