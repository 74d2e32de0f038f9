"""Stage runner: a stage is plan() -> units, run(unit) -> result (pure of the DB), commit(results).

The executor only calls `run`, in parallel; results are committed in small batches as they arrive, so a
killed build keeps everything finished before the kill and a re-run's plan() skips it.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass
from typing import Callable, Generic, Optional, Sequence, TypeVar

from rich.progress import Progress

from mmabench.logs import get_logger, make_progress  # noqa: F401  (make_progress re-exported for stage code)
from mmabench.pipeline.executors import Executor, LocalExecutor

log = get_logger(__name__)

U = TypeVar("U")
R = TypeVar("R")
COMMIT_EVERY, COMMIT_SECONDS = 32, 2.0


@dataclass
class Stage(Generic[U, R]):
    name: str
    plan: Callable[[], Sequence[U]]
    run: Callable[[U], R]
    commit: Callable[[list[R]], None]
    failed: Callable[[R], bool] = lambda r: False
    workers: Optional[int] = None  # override the executor's width (e.g. download concurrency)
    remote: bool = True  # False: too cheap to ship anywhere, always run in the driver's threads


@dataclass
class StageReport:
    name: str
    planned: int = 0
    done: int = 0
    failed: int = 0
    seconds: float = 0.0


def fault_point(where: str, n: int) -> None:
    """Fault injection for the resume tests: with MMABENCH_FAULT_KILL=STAGE:N the process SIGKILLs itself
    when stage STAGE has finished N units (results of the open batch are lost, as in a real crash)."""
    spec = os.environ.get("MMABENCH_FAULT_KILL")
    if spec and spec == f"{where}:{n}":
        os.kill(os.getpid(), signal.SIGKILL)


def run_stage(stage: Stage, executor: Executor, progress: Progress) -> StageReport:
    t0 = time.perf_counter()
    units = stage.plan()
    report = StageReport(stage.name, planned=len(units))
    task = progress.add_task(stage.name, total=len(units))
    fault_point(stage.name, 0)
    batch: list = []
    last = time.monotonic()
    if not stage.remote:
        executor = LocalExecutor(1)
    elif stage.workers and executor.name == "local":  # e.g. download concurrency; a cluster sizes itself
        executor = LocalExecutor(stage.workers)
    for result in executor.imap_unordered(stage.run, units):
        batch.append(result)
        report.done += 1
        fault_point(stage.name, report.done)
        if stage.failed(result):
            report.failed += 1
            log.warning("stage %s: a unit failed: %s", stage.name, str(result)[:300], extra={"stage": stage.name})
        progress.advance(task)
        if len(batch) >= COMMIT_EVERY or time.monotonic() - last > COMMIT_SECONDS:
            stage.commit(batch)
            batch, last = [], time.monotonic()
    if batch:
        stage.commit(batch)
    progress.update(task, completed=len(units))
    report.seconds = time.perf_counter() - t0
    log.info(
        "stage %s: %d planned, %d done, %d failed in %.2f s",
        stage.name,
        report.planned,
        report.done,
        report.failed,
        report.seconds,
        extra={
            "stage": stage.name,
            "planned": report.planned,
            "done": report.done,
            "failed": report.failed,
            "seconds": round(report.seconds, 3),
        },
    )
    return report
