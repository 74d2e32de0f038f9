"""av_swap: in-process stream copy (what mmabench does) vs. the study's preprocessing re-encode
(libx264 veryfast CRF 18 + AAC 128k at 504x504), per variant. Prints medians; target >= 20x.

    python benchmarks/bench_swap.py [--repeats 15]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import ffmpeg
import imageio_ffmpeg

from mmabench import media
from mmabench.sources.demo import DEMO_DIR

FF = imageio_ffmpeg.get_ffmpeg_exe()


def reencode_swap(video: Path, audio: Path, dst: Path, size: int = 504) -> None:
    v = (
        ffmpeg.input(str(video))
        .video.filter("scale", size, size, force_original_aspect_ratio="increase")
        .filter("crop", size, size)
    )
    a = ffmpeg.input(str(audio)).audio
    (
        ffmpeg.output(
            v,
            a,
            str(dst),
            vcodec="libx264",
            preset="veryfast",
            crf=18,
            acodec="aac",
            audio_bitrate="128k",
            shortest=None,
            pix_fmt="yuv420p",
        )
        .overwrite_output()
        .run(cmd=FF, quiet=True)
    )


def make_study_like(src: Path, dst: Path) -> None:
    """A 10-s 640x360 clip (AudioSet-like) from real demo footage: loop + upscale, default x264 GOP."""
    (
        ffmpeg.input(str(src), stream_loop=1)
        .output(str(dst), t=10, vf="scale=640:360", vcodec="libx264", acodec="aac", audio_bitrate="128k")
        .overwrite_output()
        .run(cmd=FF, quiet=True)
    )


def timeit(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=15)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        pairs = {"demo 5 s 320x240": (DEMO_DIR / "clips/cat_1.mp4", DEMO_DIR / "clips/horse_2.mp4")}
        make_study_like(DEMO_DIR / "clips/music_1.mp4", tmp / "v10.mp4")
        make_study_like(DEMO_DIR / "clips/speech_2.mp4", tmp / "a10.mp4")
        pairs["10 s 640x360"] = (tmp / "v10.mp4", tmp / "a10.mp4")
        print(f"{'clip':<18} {'stream copy (PyAV)':>19} {'re-encode 504x504':>18} {'speed-up':>9}")
        for name, (v, a) in pairs.items():
            copy = timeit(lambda v=v, a=a: media.swap_audio(v, a, tmp / "copy.mp4"), args.repeats)
            enc = timeit(lambda v=v, a=a: reencode_swap(v, a, tmp / "enc.mp4"), max(3, args.repeats // 3))
            print(f"{name:<18} {copy * 1e3:>16.1f} ms {enc * 1e3:>15.1f} ms {enc / copy:>8.1f}x")


if __name__ == "__main__":
    main()
