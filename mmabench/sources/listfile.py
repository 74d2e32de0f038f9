"""Published benchmark metadata or users' own lists: a CSV with header `ytid` or `url`, `start`, `end`,
`label` (class name or AudioSet mid). Rows are fetched with yt-dlp like AudioSet segments."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator, Optional

from mmabench.schema import ClipSpec
from mmabench.schema.redact import redact_url
from mmabench.sources.download import YOUTUBE, DownloadOptions, YtDlpFetcher
from mmabench.sources.folder import LabelsError
from mmabench.taxonomy.ontology import default_ontology


def _num(v: Optional[str]) -> Optional[float]:
    return None if v in (None, "") else float(v)


class ListSource:
    name = "list"

    def __init__(self, path: str | Path, url_template: str = YOUTUBE, download: Optional[dict] = None):
        self.path, self.url_template = Path(path), url_template
        self.fetcher = YtDlpFetcher(DownloadOptions(**(download or {})))
        self.bad_rows: list[tuple[str, int, str]] = []

    def specs(self) -> Iterator[ClipSpec]:
        if not self.path.exists():
            raise LabelsError(f"list file not found: {self.path}")
        onto = default_ontology()
        with open(self.path, newline="") as f:
            for n, row in enumerate(csv.DictReader(f), 2):
                try:
                    ref = (row.get("url") or row.get("ytid") or "").strip()
                    label = (row.get("label") or "").strip()
                    start, end = _num(row.get("start")), _num(row.get("end"))
                    if not ref or not label:
                        raise ValueError("needs ytid/url and label")
                except (ValueError, AttributeError) as e:
                    self.bad_rows.append((str(self.path), n, str(e)))
                    continue
                mid = onto.mid(label)
                name = onto.name(mid) if mid and label.startswith("/") else label
                url = ref if "://" in ref else self.url_template.format(ytid=ref, start=start, end=end)
                yield ClipSpec(
                    source=self.name,
                    source_ref=redact_url(ref) if "://" in ref else ref,  # stored: no credentials
                    label=name,
                    label_mid=mid,
                    start=start,
                    end=end,
                    uri=url,
                    provenance={"list": self.path.name, "line": n},
                )

    def fetch(self, spec: ClipSpec, workdir: Path):
        return self.fetcher.fetch(spec.uri, spec.start, spec.end, workdir)
