"""The dataset card: YAML front matter `datasets` and the Hub read (configs, features, licence), then the
facts a user needs (counts per condition and class, how it was built, config hash, versions)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import yaml

from mmabench.db.models import BuildRow
from mmabench.export.release_db import public
from mmabench.export.rows import ExportRow
from mmabench.schema import SPLIT_CONDITIONS, Split
from mmabench.version import __version__

RELEASE = "path/to/this/folder or org/repo"  # the snippet's placeholder (tests substitute a real path)
MEDIA_NOTE = (
    "Media are files under `media/NNN/` named by a `metadata.parquet` beside them (the `videofolder` "
    "convention), so `datasets` resolves them itself: from any working directory, after the folder is moved, "
    "and on the Hub (where it downloads them); this needs `datasets` >= 3.4 (metadata.parquet and `filters` "
    "for folder datasets). The `video` column decodes with torchcodec by default; "
    "`cast_column('video', Video(decode=False))` gives the file path instead, for PyAV, decord or a model's "
    "own processor. `datasets` caches the resolved paths under the folder's name: after moving a local "
    "release, load it once with `download_mode='force_redownload'` (it re-reads only the metadata), as the "
    "snippet does. `manifest.db` is the SQL view of the same release (open it read-only; `datasette "
    "manifest.db --metadata metadata.json` serves it with mmabench's canned queries)."
)
EMBED_NOTE = (
    "Media are embedded: each row's `video` holds the mp4 bytes (`Video(decode=False)`), so the Parquet "
    "shards under `data/` are the whole release."
)


def _conditions(config: str) -> list[str]:
    return [c.value for c in SPLIT_CONDITIONS[Split(config)]]


def _data_files(config: str, embedded: bool) -> list[str]:
    return [f"data/{config}/*.parquet"] if embedded else ["media/*/metadata.parquet", "media/*/*.mp4"]


def snippet(config: str, split_name: str) -> list[str]:
    """Runnable as written once RELEASE is replaced; decodes the first frame of the first item's video."""
    return [
        "import io",
        "import os",
        "",
        "import av",
        "from datasets import Video, load_dataset",
        "",
        f'release = "{RELEASE}"',
        "# datasets caches resolved media paths by folder name: re-read a local folder (cheap) in case it moved",
        'mode = "force_redownload" if os.path.isdir(release) else None',
        f'ds = load_dataset(release, "{config}", split="{split_name}", download_mode=mode)',
        'ds = ds.cast_column("video", Video(decode=False))  # the file path, not a torchcodec decoder',
        "row = ds[0]",
        'video = row["video"]  # {"path": absolute local path, "bytes": None}, or the bytes when embedded',
        'with av.open(io.BytesIO(video["bytes"]) if video["bytes"] else video["path"]) as f:',
        "    frame = next(f.decode(video=0)).to_ndarray(format='rgb24')",
        'print(row["prompt"], row["options"], row["answer"], frame.shape)',
    ]


class _NoAliases(yaml.SafeDumper):
    def ignore_aliases(self, data):  # the Hub's YAML reader wants every config spelled out
        return True


def write_card(
    out: Path,
    build: BuildRow,
    rows: list[ExportRow],
    configs: dict[str, int],
    embedded: bool,
    split_name: str = "test",
    sizes: dict[str, int] | None = None,
) -> Path:
    from mmabench.export.features import features

    feats = features()._to_yaml_list()
    sources = sorted({r.source for r in rows})
    front = {
        "license": "other",
        "license_name": "mixed (see below)",
        "pretty_name": f"mmabench {build.name}",
        "task_categories": ["video-text-to-text", "audio-text-to-text"],
        "tags": ["multimodal", "audio-visual", "modality-conflict", "mma-bench", "mmabench"],
        "configs": [
            {
                "config_name": c,
                "data_files": [{"split": split_name, "path": _data_files(c, embedded)}],
                **({} if embedded else {"filters": [["condition", "in", _conditions(c)]]}),
                **({"default": True} if i == 0 else {}),
            }
            for i, c in enumerate(configs)
        ],
        "dataset_info": [
            {
                "config_name": c,
                "features": feats,
                "splits": [{"name": split_name, "num_bytes": (sizes or {}).get(c, 0), "num_examples": n}],
            }
            for c, n in configs.items()
        ],
        "mmabench": {
            "build": build.name,
            "config": public(build.config),
            "config_hash": build.config_hash,
            "versions": build.versions,
            "exported_with": __version__,
            "media_embedded": embedded,
        },
    }
    cond = Counter((r.condition, r.prompt_modality) for r in rows)
    classes = Counter(r.visual_class for r in rows if r.prompt_modality == "visual" and r.condition == "aligned")
    lines = [
        "---",
        yaml.dump(front, Dumper=_NoAliases, sort_keys=False, allow_unicode=True).strip(),
        "---",
        "",
        f"# mmabench release: `{build.name}`",
        "",
        "Modality-conflict benchmark items built with [mmabench](https://pypi.org/project/mmabench/) after the "
        "MMA-Bench method (arXiv 2511.22826): each video is asked what is *seen* and what is *heard*, under "
        "conditions that make sight, sound and text disagree.",
        "",
        "```python",
        *snippet(next(iter(configs)), split_name),
        "```",
        "",
        MEDIA_NOTE if not embedded else EMBED_NOTE,
        "",
        "## Configs",
        "",
        "| config | conditions | items |",
        "|---|---|---|",
    ]
    for c, n in configs.items():
        lines.append(f"| {c} | {', '.join(x.value for x in SPLIT_CONDITIONS[Split(c)])} | {n} |")
    lines += ["", "## Items per condition", "", "| condition | visual prompts | audio prompts |", "|---|---|---|"]
    for c in sorted({k for k, _ in cond}):
        lines.append(f"| {c} | {cond[(c, 'visual')]} | {cond[(c, 'audio')]} |")
    lines += ["", "## Clips per class (aligned)", "", "| class | clips |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in sorted(classes.items())]
    lines += [
        "",
        "## How it was built",
        "",
        f"- sources: {', '.join(sources)}; build config hash `{build.config_hash}`; seed {build.seed}",
        f"- tool versions: `{json.dumps(build.versions, sort_keys=True)}`",
        "- every variant is a recipe (sources, operation, parameters, versions) in `manifest.db` (SQLite copy "
        "included) and its media are re-renderable with `mmabench verify --repair`",
        "",
        "## Licences",
        "",
        "- AudioSet labels: CC BY 4.0 (Google); AudioSet ontology: CC BY-SA 4.0 (Google).",
        "- Source clips keep their own licences, recorded per clip in `manifest.db` (`clips.provenance`).",
    ]
    if "demo" in sources:
        lines.append(
            "- Demo corpus: CC0 / public domain photos and sounds, Big Buck Bunny (CC BY 3.0, Blender "
            "Foundation), freedesktop sounds (CC BY-SA 3.0, GPL-2.0+). **Plumbing data, not a benchmark.**"
        )
    if "audioset" in sources:
        lines.append("- AudioSet videos are YouTube content under their uploaders' terms; use for research only.")
    path = out / "README.md"
    path.write_text("\n".join(lines) + "\n")
    return path
