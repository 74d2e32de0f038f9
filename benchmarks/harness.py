"""What every benchmark shares: same-run interleaved baselines, cold and warm figures, the machine's load,
and a verdict against the issue's goal. `run_all.py` collects each benchmark's `Measure`s into one table.

A benchmark module exposes `run(quick: bool = False) -> list[Measure]` and a `main()` that prints
`report(...)`. Rules the helpers below encode:

- **Interleaved**: `interleave({"ours": f, "baseline": g}, rounds)` runs each once per round, in an order that
  rotates every round, so drift in the machine's load hits both alike; medians are compared.
- **Cold** means nothing of the measured work is cached: a fresh process, a fresh cache folder, and the input
  files dropped from the page cache (`evict`, POSIX_FADV_DONTNEED, works without root for clean pages).
  **Warm** is the same call repeated. Report both when they differ in kind.
- **Load**: `machine()` is printed with each table (load average before and after, cores, CPU model).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Optional

ROOT = Path(__file__).resolve().parents[1]


@dataclass
class Measure:
    """One figure. `value` is what the goal is about (a ratio, a rate, seconds); `goal` reads like the issue
    (">= 50", "<= 3", "< 1"); `baseline` names what it was compared with in the same run."""

    bench: str
    name: str
    value: float
    unit: str
    goal: str = ""
    baseline: str = ""
    cold: Optional[float] = None
    warm: Optional[float] = None
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def met(self) -> Optional[bool]:
        if not self.goal:
            return None
        op, num = self.goal.split()
        target = float(num)
        return {
            ">=": self.value >= target,
            ">": self.value > target,
            "<=": self.value <= target,
            "<": self.value < target,
        }[op]

    @property
    def goal_ratio(self) -> Optional[float]:
        """value / goal for '>=' goals, goal / value for '<=' goals: >= 1.0 means met."""
        if not self.goal or not self.value:
            return None
        op, num = self.goal.split()
        t = float(num)
        return self.value / t if op.startswith(">") else t / self.value

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self), "met": self.met, "goal_ratio": self.goal_ratio}


def loadavg() -> tuple[float, float, float]:
    return os.getloadavg()


def machine() -> dict[str, Any]:
    cpu = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=False
        ).stdout.strip()
    except OSError:
        commit = ""
    return {
        "cores": os.cpu_count(),
        "cpu": cpu,
        "python": platform.python_version(),
        "loadavg": [round(x, 2) for x in loadavg()],
        "commit": commit,
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def evict(paths: Iterable[Path | str]) -> None:
    """Drop files from the page cache so the next read comes from disk (a cold read)."""
    for p in paths:
        p = Path(p)
        files = [p] if p.is_file() else [q for q in p.rglob("*") if q.is_file()] if p.is_dir() else []
        for f in files:
            try:
                fd = os.open(f, os.O_RDONLY)
            except OSError:
                continue
            try:
                os.fsync(fd) if os.access(f, os.W_OK) else None
                os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            except OSError:
                pass
            finally:
                os.close(fd)


def timed(fn: Callable[[], Any]) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def interleave(
    fns: dict[str, Callable[[], Any]], rounds: int, before_each: Optional[Callable[[str], Any]] = None
) -> dict[str, list[float]]:
    """Seconds per call for each fn, run once per round in an order rotated every round."""
    names = list(fns)
    out: dict[str, list[float]] = {n: [] for n in names}
    for r in range(rounds):
        k = r % len(names)
        for n in names[k:] + names[:k]:
            if before_each:
                before_each(n)
            out[n].append(timed(fns[n]))
    return out


def median(xs: list[float]) -> float:
    return statistics.median(xs)


def fmt(v: Optional[float]) -> str:
    if v is None:
        return "-"
    if v == 0:
        return "0"
    a = abs(v)
    return f"{v:.3g}" if a < 1000 else f"{v:,.0f}"


def table(measures: list[Measure]) -> str:
    rows = [
        "| bench | measure | value | goal | met | cold | warm | baseline |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in measures:
        met = {None: "", True: "yes", False: "**no**"}[m.met]
        rows.append(
            f"| {m.bench} | {m.name} | {fmt(m.value)} {m.unit} | {m.goal} | {met} | {fmt(m.cold)} | {fmt(m.warm)} "
            f"| {m.baseline} |"
        )
    return "\n".join(rows)


def report(measures: list[Measure], before: Optional[dict[str, Any]] = None) -> str:
    after = machine()
    head = f"machine: {after['cores']} cores, {after['cpu']}, commit {after['commit']}"
    if before:
        head += f"; load before {before['loadavg']}"
    head += f", after {after['loadavg']}"
    return head + "\n\n" + table(measures)


def emit(measures: list[Measure], before: Optional[dict[str, Any]] = None) -> None:
    """Print the table; when run under run_all (MMABENCH_BENCH_JSON set), also write the measures there."""
    print(report(measures, before), flush=True)
    out = os.environ.get("MMABENCH_BENCH_JSON")
    if out:
        Path(out).write_text(json.dumps([m.as_dict() for m in measures], indent=1))
