"""GPU taggers end to end vs. the model alone, on one GPU host (issue #15: target >= 70% of forward).

    python benchmarks/bench_gpu_tag.py [--copies 32] [--workers 14] [--nvdec-threads 4 8] [--quick] [--out DIR]

Corpus: the 18 demo clips re-encoded as AudioSet-like 10-s 640x360 H.264 (GOP 125) + AAC 44.1 kHz stereo,
listed `--copies` times under distinct cache keys (576 clips by default; decode cost is per file).
Models are random-init at full size (EfficientNet-Lite0, open_clip ViT-B-32, AST-base via
scripts/random_checkpoints.py): the figures are throughput, their scores are noise.

For each tagger and decode path, in one process, interleaved: `forward` = tagger.forward over the batches
the pipeline forms, inputs prepared beforehand by that same path (NVDEC: CUDA tensors; CPU: numpy; hf-audio:
waveforms, so its GPU log-mel front end is inside "forward"); `end to end` = `tag_files` into a fresh SQLite
manifest (decode workers, batching, the model, the upserts). Cold = the first end-to-end run (pool start,
cudnn autotune); warm = the median of the later ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import multiprocessing
import os
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from harness import Measure, emit, machine  # noqa: E402


def encode_like_audioset(src: str, dst: str) -> str:
    """10 s of `src` looped, scaled to 640x360, x264 GOP 125, AAC 44.1 kHz stereo."""
    import av
    import numpy as np

    with av.open(src) as c:
        frames = [f.reformat(width=640, height=360, format="yuv420p") for f in c.decode(video=0)]
    with av.open(src) as c:
        pcm = np.concatenate([f.to_ndarray().reshape(f.to_ndarray().shape[0], -1) for f in c.decode(audio=0)], axis=1)
        rate = c.streams.audio[0].rate
    with av.open(dst, "w", format="mp4") as out:
        v = out.add_stream("libx264", rate=25, options={"g": "125", "preset": "veryfast", "crf": "23"})
        v.width, v.height, v.pix_fmt = 640, 360, "yuv420p"
        a = out.add_stream("aac", rate=44100, layout="stereo")
        for i in range(250):
            f = frames[i % len(frames)]
            f.pts = None
            for p in v.encode(f):
                out.mux(p)
        for p in v.encode(None):
            out.mux(p)
        res = av.AudioResampler(format="fltp", layout="stereo", rate=44100)
        mono = pcm[:1] if pcm.shape[0] else pcm
        need = rate * 10
        loops = np.tile(mono, (1, need // mono.shape[1] + 1))[:, :need].astype(np.float32)
        frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(loops), format="fltp", layout="mono")
        frame.sample_rate = rate
        for rf in res.resample(frame) + res.resample(None):
            for p in a.encode(rf):
                out.mux(p)
        for p in a.encode(None):
            out.mux(p)
    return dst


def gpu_facts() -> dict:
    import torch

    facts = {"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name(0)}
    try:
        facts["nvidia_smi"] = subprocess.run(
            ["nvidia-smi", "--query-gpu=name,driver_version,memory.total,clocks.max.sm", "--format=csv,noheader"],
            capture_output=True,
            text=True,
            timeout=20,
        ).stdout.strip()
    except Exception as e:  # noqa: BLE001
        facts["nvidia_smi"] = repr(e)
    from mmabench.media.nvdec import nvdec_problem

    facts["nvdec"] = nvdec_problem() or "available"
    return facts


def batches_of(tagger, prepared: list) -> list[list]:
    out, cur, units = [], [], 0
    for x in prepared:
        cur.append(x)
        units += tagger.units(x) if x is not None else 1
        if units >= tagger.batch_size:
            out.append(cur)
            cur, units = [], 0
    return out + ([cur] if cur else [])


def forward_seconds(tagger, batches) -> float:
    import torch

    torch.cuda.synchronize()
    t = time.perf_counter()
    for b in batches:
        tagger.forward(b)
    torch.cuda.synchronize()
    return time.perf_counter() - t


def measure(name, tagger, files, unique, workers, decode, rounds, what) -> list[Measure]:
    from mmabench.db.manifest import Manifest
    from mmabench.tagging.runner import _process_pool, _run_prep, tag_files

    # inputs prepared by the same path the pipeline uses (threads for NVDEC, spawned processes for the CPU)
    if getattr(tagger.prep, "in_process", False):
        with ThreadPoolExecutor(8) as ex:
            uniq = list(ex.map(tagger.prep, [str(p) for p in unique]))
    else:
        with _process_pool(tagger.prep, workers) as ex:
            uniq = list(ex.map(_run_prep, [str(p) for p in unique]))
    prepared = [uniq[i % len(uniq)] for i in range(len(files))]
    batches = batches_of(tagger, prepared)
    forward_seconds(tagger, batches)  # warm-up: cudnn autotune for every batch shape
    units = sum(tagger.units(x) if x is not None else 1 for x in prepared)
    pure, e2e, first = [], [], None
    home = Path(tempfile.mkdtemp())
    for r in range(rounds):
        order = ("pure", "e2e") if r % 2 == 0 else ("e2e", "pure")
        for k in order:
            if k == "pure":
                pure.append(forward_seconds(tagger, batches))
            else:
                with Manifest(f"sqlite:///{home}/m-{name}-{r}.db", home) as m:
                    rep = tag_files(m, tagger, files, workers=workers, decode=decode)
                if rep.failed:
                    raise RuntimeError(f"{len(rep.failed)} files failed: {list(rep.failed.values())[:2]}")
                e2e.append(rep.seconds)
                first = first if first is not None else rep.seconds
    warm = statistics.median(e2e[1:] or e2e)
    fwd = statistics.median(pure)
    detail = {
        "units": units,
        "clips": len(files),
        "workers": workers,
        "decode": decode,
        "batch_size": tagger.batch_size,
        "model_id": tagger.model_id,
        "forward_s": pure,
        "e2e_s": e2e,
    }
    unit = "frames/s" if what == "frames" else "clips/s"
    return [
        Measure(
            "gpu_tag",
            f"{name}: end to end / forward",
            100 * fwd / warm,
            "%",
            ">= 70",
            f"forward alone {units / fwd:,.0f} {unit}",
            cold=100 * fwd / first,
            warm=100 * fwd / warm,
            detail=detail,
        ),
        Measure("gpu_tag", f"{name}: end to end", units / warm, unit, "", "", units / first, units / warm, detail),
        Measure("gpu_tag", f"{name}: end to end clips/s", len(files) / warm, "clips/s", "", "", None, None, {}),
    ]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=32)
    ap.add_argument("--workers", type=int, default=max(2, (os.cpu_count() or 2) - 2))
    ap.add_argument("--nvdec-threads", type=int, nargs="+", default=[4, 8])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--taggers", nargs="+", default=["imagenet", "clip", "hf-audio"])
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args()
    if args.quick:
        args.copies, args.rounds = 4, 2
    before = machine()
    import torch

    if not torch.cuda.is_available():
        print("bench_gpu_tag: no CUDA GPU here; nothing measured", file=sys.stderr)
        sys.exit(1)
    facts = gpu_facts()
    print(json.dumps(facts), flush=True)
    from mmabench.sources.demo import DEMO_DIR

    tmp = Path(tempfile.mkdtemp())
    t = time.perf_counter()
    srcs = sorted((DEMO_DIR / "clips").glob("*.mp4"))
    spawn = multiprocessing.get_context("spawn")  # never fork a process holding CUDA state
    with ProcessPoolExecutor(min(len(srcs), os.cpu_count() or 2), mp_context=spawn) as ex:
        unique = [Path(p) for p in ex.map(encode_like_audioset, map(str, srcs), [str(tmp / s.name) for s in srcs])]
    files = {
        hashlib.sha256(f"{p.name}/{r}".encode()).hexdigest(): p for r in range(args.copies) for p in unique
    }  # distinct cache keys: every copy goes through the model
    print(f"corpus: {len(unique)} clips 10 s 640x360 in {time.perf_counter() - t:.1f} s, {len(files)} listed")
    sys.argv = ["x", str(tmp / "ckpt")]
    from scripts.random_checkpoints import main as random_ckpts

    random_ckpts(tmp / "ckpt")
    from mmabench.taggers.clip import ClipTagger
    from mmabench.taggers.hf_audio import HFAudioTagger
    from mmabench.taggers.imagenet import ImagenetTagger

    make = {
        "imagenet": lambda dec: ImagenetTagger(weights=str(tmp / "ckpt/efficientnet-lite0-random.pth"), decoder=dec),
        "clip": lambda dec: ClipTagger(pretrained="random", decoder=dec),
        "hf-audio": lambda fe: HFAudioTagger(checkpoint=str(tmp / "ckpt/ast-random"), frontend=fe),
    }
    measures: list[Measure] = []
    errors = {}
    for name in args.taggers:
        paths = ["cpu"] + (["nvdec"] if name != "hf-audio" else ["torch"])
        if name == "hf-audio":
            paths = ["cpu", "torch"]  # the extractor's CPU fbank in workers vs. the batched GPU front end
        for path in paths:
            configs = [(args.workers, "process")]
            if path == "nvdec":
                if facts["nvdec"] != "available":
                    errors[f"{name}/nvdec"] = facts["nvdec"]
                    continue
                configs = [(n, "thread") for n in args.nvdec_threads]
            try:
                tagger = make[name](path)
            except Exception as e:  # noqa: BLE001
                errors[f"{name}/{path}"] = f"{type(e).__name__}: {e}"
                traceback.print_exc()
                continue
            for workers, decode in configs:
                label = (
                    f"{name} [{path} decode, {workers} {decode}s]"
                    if name != "hf-audio"
                    else (f"{name} [{path} front end, {workers} {decode}es]")
                )
                try:
                    got = measure(
                        label,
                        tagger,
                        files,
                        unique,
                        workers,
                        decode,
                        args.rounds,
                        tagger.modality == "visual" and "frames" or "clips",
                    )
                except Exception as e:  # noqa: BLE001
                    errors[label] = f"{type(e).__name__}: {e}"
                    traceback.print_exc()
                    continue
                measures += got
                print(
                    f"{label}: {got[0].value:.0f}% of forward; {got[1].value:,.0f} {got[1].unit}; "
                    f"{got[2].value:,.0f} clips/s; forward alone {got[0].baseline}",
                    flush=True,
                )
            del tagger
            torch.cuda.empty_cache()
    emit(measures, before)
    if errors:
        print("errors: " + json.dumps(errors, indent=1))
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "gpu_tag.json").write_text(
            json.dumps(
                {"facts": facts, "machine": machine(), "errors": errors, "measures": [m.as_dict() for m in measures]},
                indent=1,
            )
        )


if __name__ == "__main__":
    main()
