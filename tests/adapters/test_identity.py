"""The answer cache's model identity: weight bytes (or a given revision), never names and sizes."""

import os

from mmabench.adapters import hf


def _model(folder, payload: bytes):
    folder.mkdir(parents=True)
    (folder / "model-00001-of-00001.safetensors").write_bytes(payload)
    return str(folder)


def test_same_named_same_sized_checkpoints_differ_and_are_hashed_once(tmp_path, monkeypatch):
    monkeypatch.setenv("MMABENCH_CACHE", str(tmp_path / "cache"))
    base = _model(tmp_path / "a" / "Qwen2.5-Omni-7B", b"\x00" * 4096)
    merged = _model(tmp_path / "b" / "Qwen2.5-Omni-7B", b"\x01" * 4096)  # a merged LoRA: same names and sizes
    assert hf.weights_id(base) != hf.weights_id(merged)
    calls = []
    monkeypatch.setattr(hf, "sha256_file", lambda f: calls.append(f) or "x")
    first = hf.weights_id(base)  # served from the (path, size, mtime_ns) cache: no byte is read
    assert calls == [] and first == hf.weights_id(base)
    shard = tmp_path / "a" / "Qwen2.5-Omni-7B" / "model-00001-of-00001.safetensors"
    shard.write_bytes(b"\x02" * 4096)
    os.utime(shard, ns=(shard.stat().st_atime_ns, shard.stat().st_mtime_ns + 10**9))
    hf.weights_id(base)
    assert len(calls) == 1  # replaced in place: hashed again
    assert hf.weights_id(base, "v2") == "revision:v2" and len(calls) == 1
