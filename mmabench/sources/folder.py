"""Users' own clips: a folder plus a labels file (CSV with a header, or JSON list) of
`path, label[, start, end]`, where label is a class name or an AudioSet mid (/m/…).

Every row that cannot become a clip is reported in `bad_rows` with its reason and the rest goes on: a label
that is too long, has control characters or is no AudioSet class (unless `allow_new_classes`), start after end,
a path that leaves the folder or is not a regular file, and rows that give one clip conflicting labels."""

from __future__ import annotations

import csv
import json
import unicodedata
from pathlib import Path
from typing import Iterator, Optional

from mmabench.schema import ClipSpec
from mmabench.taxonomy.ontology import Ontology, default_ontology

MAX_LABEL = 200  # the manifest's label column (VARCHAR(200) on PostgreSQL)


class LabelsError(ValueError):
    pass


def _float(v) -> float | None:
    return None if v in (None, "") else float(v)


def check_label(label: str, onto: Ontology, allow_new: bool) -> tuple[str, Optional[str]]:
    """(class name, mid) for a row's label, or ValueError with the reason it is refused."""
    if len(label) > MAX_LABEL:
        raise ValueError(f"label longer than {MAX_LABEL} characters")
    if any(unicodedata.category(ch) in ("Cc", "Cf") for ch in label):  # NUL, newlines, bidi overrides …
        raise ValueError("label has control characters")
    mid = onto.mid(label)
    if mid is None and not allow_new:
        raise ValueError(f"unknown class {label!r} (not an AudioSet class; pass --allow-new-classes to keep it)")
    return (onto.name(mid) if mid and label.startswith("/") else label), mid


def check_section(start: Optional[float], end: Optional[float]) -> None:
    if (start is not None and start < 0) or (end is not None and end <= 0):
        raise ValueError("negative start or end")
    if start is not None and end is not None and start >= end:
        raise ValueError("start after end")


def drop_conflicts(specs: list[tuple[int, ClipSpec]], where: str, bad: list[tuple[str, int, str]]) -> list[ClipSpec]:
    """Rows naming the same clip (path and section) with different labels: all are reported, none is kept;
    exact repeats are kept once."""
    labels: dict[str, set[str]] = {}
    for _, s in specs:
        labels.setdefault(s.id, set()).add(s.label)
    out, seen = [], set()
    for n, s in specs:
        if len(labels[s.id]) > 1:
            others = sorted(labels[s.id] - {s.label})
            bad.append((where, n, f"{s.source_ref}: conflicting labels for the same clip ({s.label!r} vs {others})"))
        elif s.id not in seen:
            seen.add(s.id)
            out.append(s)
    return out


class FolderSource:
    name = "folder"

    def __init__(self, root: str | Path, labels: str | Path, allow_new_classes: bool = False):
        self.root, self.labels = Path(root).resolve(), Path(labels)
        self.allow_new_classes = allow_new_classes
        self.bad_rows: list[tuple[str, int, str]] = []  # (file, row, reason): reported, the rest goes on

    def rows(self) -> list[dict]:
        if not self.labels.exists():
            raise LabelsError(f"labels file not found: {self.labels}")
        if self.labels.suffix.lower() == ".json":
            try:
                rows = json.loads(self.labels.read_text(encoding="utf-8-sig"))
            except json.JSONDecodeError as e:
                raise LabelsError(f"{self.labels}: not JSON ({e})") from None
            if not isinstance(rows, list):
                raise LabelsError(
                    f"{self.labels}: a JSON labels file is a list of {{path, label[, start, end]}} objects, "
                    f"not a {type(rows).__name__}"
                )
            return rows
        with open(self.labels, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's UTF-8 starts with a BOM
            return list(csv.DictReader(f))

    def _local(self, rel: str) -> str:
        """The clip's real path, confined to the folder: no `..`, absolute paths or symlinks out of it, and a
        regular file (not /dev/zero, a FIFO or a folder). A missing file is left to ingest to report."""
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root):
            raise ValueError(f"path {rel!r} is outside the folder")
        if path.exists() and not path.is_file():
            raise ValueError(f"path {rel!r} is not a regular file")
        return str(path)

    def specs(self) -> Iterator[ClipSpec]:
        onto = default_ontology()
        first = 1 if self.labels.suffix.lower() == ".json" else 2  # CSV: file line numbers (after the header)
        self.bad_rows = []
        where = str(self.labels)
        found: list[tuple[int, ClipSpec]] = []
        for n, row in enumerate(self.rows(), first):
            try:
                if not isinstance(row, dict):
                    raise ValueError("not an object")
                rel, label = str(row["path"]).strip(), str(row["label"]).strip()
                start, end = _float(row.get("start")), _float(row.get("end"))
                if not rel or not label:
                    raise ValueError("empty path or label")
            except (KeyError, AttributeError, ValueError, TypeError) as e:
                self.bad_rows.append((where, n, f"malformed ({e!r}); need path,label[,start,end]"))
                continue
            try:
                name, mid = check_label(label, onto, self.allow_new_classes)
                check_section(start, end)
                uri = self._local(rel)
            except ValueError as e:
                self.bad_rows.append((where, n, str(e)))
                continue
            spec = ClipSpec(
                source=self.name,
                source_ref=rel,
                label=name,
                label_mid=mid,
                start=start,
                end=end,
                uri=uri,
                provenance={"labels_file": where},
            )
            found.append((n, spec))
        yield from drop_conflicts(found, where, self.bad_rows)
