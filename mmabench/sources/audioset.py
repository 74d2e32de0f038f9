"""AudioSet segment lists -> curated, single-class ClipSpecs fetched with yt-dlp.

Reads the real CSVs (comment lines, `YTID, start, end, "mid,mid,…"`), applies stage-1 curation (with the
rules' `min_segments` over the lists read together; reasons counted in `ineligible`), selects
`--classes`, `--per-class` (first N by clip id, stable) and `--limit`, and fetches each section through
`--url-template` (default YouTube; tests point it at a loopback server). Bad rows are kept in `bad_rows`
with their line number and reason rather than stopping the read.
"""

from __future__ import annotations

import csv
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Optional

from mmabench.schema import ClipSpec
from mmabench.sources.download import YOUTUBE, DownloadOptions, YtDlpFetcher
from mmabench.taxonomy.curation import Curation

DATA = Path(__file__).resolve().parents[1] / "data" / "audioset"
NAMED_LISTS = {"eval": DATA / "eval_segments.csv", "balanced_train": DATA / "balanced_train_segments.csv"}


@dataclass
class Segment:
    ytid: str
    start: float
    end: float
    labels: list[str]
    file: str
    line: int


def resolve_list(name_or_path: str | Path) -> Path:
    return NAMED_LISTS.get(str(name_or_path), Path(name_or_path))


def read_segments(path: str | Path, bad_rows: Optional[list] = None) -> Iterator[Segment]:
    """Yield segments; malformed rows go to `bad_rows` as (file, line, reason)."""
    path = resolve_list(path)
    with open(path, newline="") as f:
        for n, line in enumerate(f, 1):
            if not line.strip() or line.startswith("#") or line.startswith("YTID"):
                continue
            try:
                row = next(csv.reader([line], skipinitialspace=True))
                if len(row) != 4:
                    raise ValueError(f"expected 4 fields, got {len(row)}")
                ytid, start, end = row[0].strip(), float(row[1]), float(row[2])
                labels = [m.strip() for m in row[3].split(",") if m.strip()]
                if not ytid or end <= start or not labels:
                    raise ValueError("empty id, empty section or no labels")
            except (ValueError, StopIteration) as e:
                if bad_rows is not None:
                    bad_rows.append((str(path), n, str(e)))
                continue
            yield Segment(ytid, start, end, labels, path.name, n)


class AudioSetSource:
    name = "audioset"

    def __init__(
        self,
        segments: list[str] | str = "eval",
        classes: Optional[list[str]] = None,
        per_class: Optional[int] = None,
        limit: Optional[int] = None,
        url_template: str = YOUTUBE,
        curation: Optional[str] = None,
        curation_sha256: Optional[str] = None,
        download: Optional[dict] = None,
    ):
        self.lists = [segments] if isinstance(segments, str) else list(segments)
        self.classes, self.per_class, self.limit = classes, per_class, limit
        self.url_template = url_template
        self.curation = Curation.load(curation)
        if curation_sha256 and curation_sha256 != self.curation.rules_sha256:
            raise ValueError(
                f"curation rules {curation or 'data/curation.toml'} changed since the build was configured "
                f"(sha256 {self.curation.rules_sha256[:12]}, configured {curation_sha256[:12]}): re-run with --force-config"
            )
        self.fetcher = YtDlpFetcher(DownloadOptions(**(download or {})))
        self.bad_rows: list[tuple[str, int, str]] = []
        self.ineligible: Counter = Counter()  # reason -> segments dropped by curation (min_segments included)

    def eligible(self) -> list[tuple[Segment, str]]:
        """Curated single-class segments of all lists together; `min_segments` applies to that pool."""
        segs = [seg for lst in self.lists for seg in read_segments(lst, self.bad_rows)]
        out = []
        for seg, (mid, why) in zip(segs, self.curation.judge(s.labels for s in segs)):
            if mid is None:
                self.ineligible[why] += 1
            else:
                out.append((seg, mid))
        return out

    def specs(self) -> Iterator[ClipSpec]:
        onto, cur = self.curation.ontology, self.curation
        wanted = None
        if self.classes:
            unknown = [c for c in self.classes if onto.mid(c) is None]
            if unknown:
                raise ValueError(f"unknown AudioSet class(es): {', '.join(unknown)}")
            mids = [onto.mid(c) or c for c in self.classes]
            wanted = {cur.class_mid(m) or m for m in mids}  # a merged class selects the class it went into
        specs = []
        for seg, mid in self.eligible():
            if wanted is not None and mid not in wanted:
                continue
            specs.append(
                ClipSpec(
                    source=self.name,
                    source_ref=seg.ytid,
                    label=onto.name(mid),
                    label_mid=mid,
                    start=seg.start,
                    end=seg.end,
                    uri=self.url_template.format(ytid=seg.ytid, start=seg.start, end=seg.end),
                    provenance={
                        "segments": seg.file,
                        "line": seg.line,
                        "labels": seg.labels,
                        "curation_sha256": self.curation.rules_sha256,
                        "license": "AudioSet labels CC BY 4.0; video: YouTube uploader's terms",
                    },
                )
            )
        specs.sort(key=lambda s: s.id)
        if self.per_class:
            seen: Counter = Counter()
            specs = [s for s in specs if (seen.update([s.label]) or seen[s.label] <= self.per_class)]
        yield from specs[: self.limit] if self.limit else specs

    def fetch(self, spec: ClipSpec, workdir: Path):
        return self.fetcher.fetch(spec.uri, spec.start, spec.end, workdir)
