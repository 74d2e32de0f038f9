"""Published benchmark metadata or users' own lists: a CSV with header `ytid` or `url`, `start`, `end`,
`label` (class name or AudioSet mid). Rows are fetched with yt-dlp like AudioSet segments."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Iterator, Optional

from mmabench.schema import ClipSpec
from mmabench.schema.redact import redact_url
from mmabench.sources.download import YOUTUBE, DownloadOptions, YtDlpFetcher
from mmabench.sources.folder import LabelsError, check_label, check_section, drop_conflicts
from mmabench.taxonomy.ontology import default_ontology


def _num(v: Optional[str]) -> Optional[float]:
    return None if v in (None, "") else float(v)


class ListSource:
    name = "list"

    def __init__(
        self,
        path: str | Path,
        url_template: str = YOUTUBE,
        download: Optional[dict] = None,
        allow_new_classes: bool = False,
    ):
        self.path, self.url_template, self.allow_new_classes = Path(path), url_template, allow_new_classes
        self.fetcher = YtDlpFetcher(DownloadOptions(**(download or {})))
        self.bad_rows: list[tuple[str, int, str]] = []

    def specs(self) -> Iterator[ClipSpec]:
        if not self.path.exists():
            raise LabelsError(f"list file not found: {self.path}")
        onto = default_ontology()
        self.bad_rows = []
        found = []
        with open(self.path, newline="", encoding="utf-8-sig") as f:  # -sig: Excel's UTF-8 starts with a BOM
            for n, row in enumerate(csv.DictReader(f), 2):
                try:
                    ref = (row.get("url") or row.get("ytid") or "").strip()
                    label = (row.get("label") or "").strip()
                    start, end = _num(row.get("start")), _num(row.get("end"))
                    if not ref or not label:
                        raise ValueError("needs ytid/url and label")
                    name, mid = check_label(label, onto, self.allow_new_classes)
                    check_section(start, end)
                except (ValueError, AttributeError) as e:
                    self.bad_rows.append((str(self.path), n, str(e)))
                    continue
                url = ref if "://" in ref else self.url_template.format(ytid=ref, start=start, end=end)
                spec = ClipSpec(
                    source=self.name,
                    source_ref=redact_url(ref) if "://" in ref else ref,  # stored: no credentials
                    label=name,
                    label_mid=mid,
                    start=start,
                    end=end,
                    uri=url,
                    provenance={"list": self.path.name, "line": n},
                )
                found.append((n, spec))
        yield from drop_conflicts(found, str(self.path), self.bad_rows)

    def fetch(self, spec: ClipSpec, workdir: Path):
        return self.fetcher.fetch(spec.uri, spec.start, spec.end, workdir)
