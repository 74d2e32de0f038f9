"""`mmabench report`: the study's table for any set of runs, as Markdown and self-contained HTML, with
grouped bar charts (aligned vs. conflict, per prompted modality), a per-class breakdown and a leaderboard."""

from __future__ import annotations

import base64
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

from sqlalchemy import select

from mmabench.db.manifest import Manifest
from mmabench.db.models import BuildRow, RunRow
from mmabench.eval.aggregate import run_cells
from mmabench.eval.scoring import Cell
from mmabench.plots import CHARTS_NOTE, have_matplotlib

ORDER = ["aligned", "av_swap", "caption", "long_context", "audio_removed", "frames_zeroed"]


@dataclass
class RunScores:
    run: RunRow
    cells: list[Cell]
    demo: bool

    def cell(self, cond: str, mod: str) -> Optional[Cell]:
        return next((c for c in self.cells if c.condition == cond and c.modality == mod), None)

    @property
    def label(self) -> str:
        name = f"{self.run.adapter}:{self.run.model}" if self.run.model != self.run.adapter else self.run.adapter
        lora = (self.run.options or {}).get("adapter")  # a tuned model: name its LoRA, or base and tuned look alike
        return f"{name} + LoRA {str(lora)[:8]}" if lora else name

    @property
    def mean(self) -> float:
        accs = [c.accuracy for c in self.cells if not math.isnan(c.accuracy)]
        return sum(accs) / len(accs) if accs else float("nan")


def _f(x: Optional[float]) -> str:
    return "—" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.1f}"


def load_scores(m: Manifest, run_ids: Optional[list[str]] = None) -> list[RunScores]:
    """Each run's cells from SQL counts (eval/aggregate.py); no prediction row is read into Python."""
    with m.session() as s:
        q = select(RunRow).order_by(RunRow.created_at)
        if run_ids:
            q = q.where(RunRow.id.in_(run_ids))
        runs = list(s.scalars(q))
        builds = {b.name: b for b in s.scalars(select(BuildRow))}
        cells = run_cells(s.connection(), [r.id for r in runs] if run_ids else None)
        out = []
        for r in runs:
            b = builds.get(r.build)
            demo = bool(b and any(src.get("name") == "demo" for src in b.config.get("sources", [])))
            out.append(RunScores(r, cells.get(r.id, []), demo))
    return out


def _chart(rs: RunScores, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    conds = [c for c in ORDER if rs.cell(c, "visual") or rs.cell(c, "audio")]
    fig, axes = plt.subplots(1, len(conds), figsize=(2.2 * len(conds) + 1, 3.2), sharey=True, squeeze=False)
    for ax, cond in zip(axes[0], conds):
        for k, (mod, color) in enumerate((("visual", "#4C72B0"), ("audio", "#DD8452"))):
            c = rs.cell(cond, mod)
            if c is None or math.isnan(c.accuracy):
                continue
            lo, hi = c.ci
            ax.bar(
                k,
                c.accuracy,
                color=color,
                label=mod,
                yerr=[[c.accuracy - lo], [hi - c.accuracy]] if not math.isnan(lo) else None,
                capsize=3,
            )
        ax.set_title(cond, fontsize=9)
        ax.set_xticks([0, 1], ["V", "A"])
        ax.set_ylim(0, 100)
    axes[0][0].set_ylabel("accuracy % (95% CI)")
    axes[0][-1].legend(fontsize=7, loc="upper right")
    fig.suptitle(rs.label + (" — demo corpus (plumbing, not a result)" if rs.demo else ""), fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(scores: list[RunScores], charts: dict[str, Path]) -> str:
    lines = ["# mmabench report", ""]
    if any(s.demo for s in scores):
        lines += [
            "> Runs on the embedded **demo corpus** exercise the pipeline; their numbers are not benchmark results.",
            "",
        ]
    lines += [
        "## Accuracy % (visual / audio prompt)",
        "",
        "| model | run | " + " | ".join(ORDER) + " |",
        "|---|---|" + "---|" * len(ORDER),
    ]
    for s in scores:
        cells = [
            f"{_f(getattr(s.cell(c, 'visual'), 'accuracy', None))} / {_f(getattr(s.cell(c, 'audio'), 'accuracy', None))}"
            for c in ORDER
        ]
        lines.append(f"| {s.label} | `{s.run.id}` | " + " | ".join(cells) + " |")
    lines += [
        "",
        "## Abstention, modality following, unparsed",
        "",
        "| model | abstain: visual prompt, frames zeroed | abstain: audio prompt, audio removed | "
        "av_swap audio prompt: follows video / follows audio | unparsed % | errors |",
        "|---|---|---|---|---|---|",
    ]
    for s in scores:
        fz, ar, sw = s.cell("frames_zeroed", "visual"), s.cell("audio_removed", "audio"), s.cell("av_swap", "audio")
        unp = [c.unparsed for c in s.cells if not math.isnan(c.unparsed)]
        lines.append(
            f"| {s.label} | {_f(getattr(fz, 'abstention', None))} | {_f(getattr(ar, 'abstention', None))} | "
            f"{_f(getattr(sw, 'follows_video', None))} / {_f(getattr(sw, 'follows_audio', None))} | "
            f"{_f(sum(unp) / len(unp) if unp else None)} | {sum(c.errors for c in s.cells)} |"
        )
    lines += [
        "",
        "## Leaderboard (mean accuracy over condition × modality cells)",
        "",
        "| # | model | mean | items |",
        "|---|---|---|---|",
    ]
    for k, s in enumerate(sorted(scores, key=lambda s: -s.mean if not math.isnan(s.mean) else 1e9), 1):
        lines.append(f"| {k} | {s.label} | {_f(s.mean)} | {sum(c.n for c in s.cells)} |")
    for s in scores:
        lines += [
            "",
            f"## {s.label} (`{s.run.id}`)",
            "",
            f"![{s.label}]({charts[s.run.id].name})" if s.run.id in charts else f"> {CHARTS_NOTE}",
            "",
            "| condition | prompt | n | accuracy | 95% CI | macro | abstain | unparsed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for c in sorted(s.cells, key=lambda c: (ORDER.index(c.condition), c.modality)):
            lines.append(
                f"| {c.condition} | {c.modality} | {c.n} | {_f(c.accuracy)} | {_f(c.ci[0])}–{_f(c.ci[1])} | "
                f"{_f(c.macro)} | {_f(c.abstention)} | {_f(c.unparsed)} |"
            )
        classes = sorted({k for c in s.cells for k in c.per_class})
        cols = [
            (c.condition, c.modality) for c in sorted(s.cells, key=lambda c: (ORDER.index(c.condition), c.modality))
        ]
        lines += [
            "",
            "Per class (accuracy % by ground-truth class):",
            "",
            "| class | " + " | ".join(f"{a} {b[0].upper()}" for a, b in cols) + " |",
            "|---|" + "---|" * len(cols),
        ]
        for k in classes:
            lines.append(f"| {k} | " + " | ".join(_f(s.cell(a, b).per_class.get(k)) for a, b in cols) + " |")
    return "\n".join(lines) + "\n"


def _html(md: str, charts: dict[str, Path]) -> str:
    """Markdown -> HTML with Python-Markdown (tables), charts inlined as base64 so the file stands alone."""
    import markdown

    body = markdown.markdown(md, extensions=["tables"])
    for png in charts.values():
        body = body.replace(
            f'src="{png.name}"', f'src="data:image/png;base64,{base64.b64encode(png.read_bytes()).decode()}"'
        )
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto}table{border-collapse:collapse;"
        "margin:1em 0}td,th{border:1px solid #ccc;padding:3px 8px;font-size:13px;text-align:right}"
        "td:first-child,th:first-child{text-align:left}img{max-width:100%}blockquote{background:#fff3cd;"
        "padding:.5em 1em}"
    )
    return (
        f"<!doctype html><html><head><meta charset='utf-8'><title>mmabench report</title><style>{style}</style>"
        f"</head><body>{body}</body></html>"
    )


def make_report(
    out_dir: str | Path,
    run_ids: Optional[list[str]] = None,
    *,
    compare: Optional[tuple[str, str]] = None,
    home=None,
    db=None,
) -> dict[str, Path]:
    """The report for `run_ids` (default: all runs); `compare=(A, B)` adds the paired A-vs-B table (e.g. a
    base model and its tuned LoRA on the same items)."""
    from mmabench.eval import compare as paired

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    with Manifest(db, home) as m:
        if compare:
            run_ids = list(dict.fromkeys([*(run_ids or []), *compare]))
        scores = load_scores(m, run_ids)
        if compare and len({s.run.id for s in scores} & set(compare)) < 2:
            raise ValueError(f"--compare needs two existing run ids, got {compare[0]!r} and {compare[1]!r}")
        cells = paired.paired_cells(m, *compare) if compare else []
    if not scores:
        raise ValueError("no runs to report (run `mmabench eval` first, or check --run ids)")
    # without matplotlib the tables still come, with a note where each chart would be
    charts = {s.run.id: _chart(s, out_dir / f"run_{s.run.id}.png") for s in scores} if have_matplotlib() else {}
    md = markdown(scores, charts)
    if compare:
        label = {s.run.id: s.label for s in scores}
        md += "\n" + "\n".join(paired.markdown(cells, label[compare[0]], label[compare[1]])) + "\n"
    (out_dir / "report.md").write_text(md)
    (out_dir / "report.html").write_text(_html(md, charts))
    return {"markdown": out_dir / "report.md", "html": out_dir / "report.html", **{k: v for k, v in charts.items()}}
