"""Small plotting helpers (matplotlib, headless). Installed with the `report` extra."""

from __future__ import annotations

from pathlib import Path

CHARTS_NOTE = "charts skipped: matplotlib is not installed (pip install 'mmabench[report]')"


def have_matplotlib() -> bool:
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        return False
    return True


def bar_chart(values: dict[str, float], path: str | Path, *, title: str = "", xlabel: str = "") -> Path:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as e:  # the CLI names the extra in one line (cli.main)
        raise ModuleNotFoundError("charts need matplotlib: pip install 'mmabench[report]'", name="matplotlib") from e
    items = sorted(values.items(), key=lambda kv: kv[1])
    fig, ax = plt.subplots(figsize=(8, max(3.0, 0.18 * len(items) + 1)))
    ax.barh([k for k, _ in items], [v for _, v in items], color="#4C72B0")
    ax.set_title(title, fontsize=10)
    ax.set_xlabel(xlabel)
    ax.tick_params(axis="y", labelsize=6 if len(items) > 40 else 8)
    ax.margins(y=0.005)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
