"""Users' own clips: a folder plus a labels file (CSV with a header, or JSON list) of
`path, label[, start, end]`, where label is a class name or an AudioSet mid (/m/…)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Iterator

from mmabench.schema import ClipSpec
from mmabench.taxonomy.ontology import default_ontology


class LabelsError(ValueError):
    pass


def _float(v) -> float | None:
    return None if v in (None, "") else float(v)


class FolderSource:
    name = "folder"

    def __init__(self, root: str | Path, labels: str | Path):
        self.root, self.labels = Path(root).resolve(), Path(labels)
        self.bad_rows: list[tuple[str, int, str]] = []  # (file, row, reason): reported, the rest goes on

    def rows(self) -> list[dict]:
        if not self.labels.exists():
            raise LabelsError(f"labels file not found: {self.labels}")
        if self.labels.suffix.lower() == ".json":
            return json.loads(self.labels.read_text())
        with open(self.labels, newline="") as f:
            return list(csv.DictReader(f))

    def specs(self) -> Iterator[ClipSpec]:
        onto = default_ontology()
        first = 1 if self.labels.suffix.lower() == ".json" else 2  # CSV: file line numbers (after the header)
        for n, row in enumerate(self.rows(), first):
            try:
                rel, label = row["path"].strip(), row["label"].strip()
                start, end = _float(row.get("start")), _float(row.get("end"))
                if not rel or not label:
                    raise ValueError("empty path or label")
            except (KeyError, AttributeError, ValueError) as e:
                self.bad_rows.append((str(self.labels), n, f"malformed ({e!r}); need path,label[,start,end]"))
                continue
            mid = onto.mid(label)
            name = onto.name(mid) if mid and label.startswith("/") else label
            yield ClipSpec(
                source=self.name,
                source_ref=rel,
                label=name,
                label_mid=mid,
                start=start,
                end=end,
                uri=str(self.root / rel),
                provenance={"labels_file": str(self.labels)},
            )
