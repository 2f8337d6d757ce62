"""The Space's figures, like the paper's: accuracy by language per model (bars) and the language x
model significance heatmap (both drawn by globmed.bench.plots, as in `globmed bench report`), the
size vs accuracy scatter of open-weight models, and radar charts for a pair of models.

Text from results datasets only ever reaches matplotlib as plain text: `$` is escaped so that a
model name cannot switch on mathtext (which would fail to draw or render markup).
"""

from __future__ import annotations

import hashlib
import math
import tempfile
import threading
from pathlib import Path
from typing import Any

from .leaderboard import Filters, Results

_PYPLOT = threading.Lock()  # globmed.bench.plots uses pyplot, which is not thread-safe
_DIRS: list[Path] = []  # one temporary folder per process, made on first use
DOMAIN_COLOURS = {"general": "#1f77b4", "medical": "#d62728", "unknown": "#7f7f7f"}


def plain(text: Any, limit: int = 60) -> str:
    """A label safe for matplotlib: no mathtext, bounded length."""
    s = str(text)
    s = s if len(s) <= limit else s[: limit - 1] + "…"
    return s.replace("\\", "\\\\").replace("$", r"\$")


def _path(kind: str, *parts: Any) -> Path:
    with _PYPLOT:
        if not _DIRS:
            _DIRS.append(Path(tempfile.mkdtemp(prefix="globmed-space-")))
    digest = hashlib.sha256(repr(parts).encode()).hexdigest()[:16]
    return _DIRS[0] / f"{kind}-{digest}.png"


def language_bars(results: Results, models: list[str]) -> str | None:
    """Accuracy by language, one bar per model (globmed.bench.plots.bars)."""
    from ..bench.plots import bars

    rows = [dict(r, model=plain(r["model"], 40)) for r in results.results_rows(models)]
    if not rows:
        return None
    path = _path("bars", sorted(models), len(rows))
    with _PYPLOT:
        bars(rows, "language", path)
    return str(path)


def significance_heatmap(results: Results, models: list[str], method: str = "holm") -> str | None:
    """Language x model: accuracy difference vs the reference language, with stars (bench.plots.heatmap)."""
    from ..bench.plots import heatmap

    wanted = set(models)
    tests = [dict(t, model=plain(t["model"], 40)) for t in results.reference_tests(method) if t["model"] in wanted]
    if not tests:
        return None
    path = _path("heatmap", sorted(models), method)
    with _PYPLOT:
        out = heatmap(tests, path)
    return str(out) if out else None


def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=100)


def _empty(message: str) -> Any:
    fig = _figure(6, 2)
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, plain(message, 120), ha="center", va="center")
    return fig


def size_scatter(results: Results, models: list[str] | None = None, filters: Filters | None = None) -> Any:
    """Parameter count (log scale) vs overall accuracy, open-weight models with a known size."""
    board = results.leaderboard(filters or Filters())
    if models is not None:
        board = board[board["Model"].isin(list(models))]
    board = board[(board["Access"] == "open-weight") & board["Size (B)"].notna() & board["Overall"].notna()]
    if board.empty:
        return _empty("No open-weight model with a known size in the current selection.")
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    for _, row in board.iterrows():
        colour = DOMAIN_COLOURS.get(row["Domain"], "#7f7f7f")
        marker = "^" if row["Reasoning"] == "yes" else "o"
        ax.scatter(row["Size (B)"], row["Overall"], s=60, c=colour, marker=marker, edgecolors="black", linewidths=0.5)
        ax.annotate(plain(row["Model"], 32), (row["Size (B)"], row["Overall"]), textcoords="offset points",
                    xytext=(5, 4), fontsize=7)
    ax.set_xscale("log")
    ax.set_xlabel("parameters (billions, log scale)")
    ax.set_ylabel("overall accuracy (%)")
    ax.set_ylim(0, 100)
    ax.grid(True, which="both", alpha=0.3)
    from matplotlib.lines import Line2D

    handles = [Line2D([], [], color=c, marker="o", linestyle="", label=d) for d, c in DOMAIN_COLOURS.items()
               if d in set(board["Domain"])]
    handles.append(Line2D([], [], color="black", marker="^", linestyle="", label="reasoning"))
    ax.legend(handles=handles, fontsize=7, loc="lower right")
    ax.set_title("Size vs accuracy (open-weight models)")
    fig.tight_layout()
    return fig


def radar(results: Results, model_a: str, model_b: str, filters: Filters | None = None) -> Any:
    """Two radar charts for a model pair: accuracy per dataset and per language."""
    if not model_a or not model_b or model_a == model_b:
        return _empty("Pick two different models.")
    fig = _figure(10, 4.8)
    for i, by in enumerate(("dataset", "language")):
        pa, pb = results.profile(model_a, by, filters), results.profile(model_b, by, filters)
        axes = [k for k in pa if k in pb]
        ax = fig.add_subplot(1, 2, i + 1, projection="polar")
        if len(axes) < 3:
            ax.set_title(f"per {by}: fewer than 3 shared {by}s", fontsize=9)
            continue
        angles = [2 * math.pi * j / len(axes) for j in range(len(axes))] + [0.0]
        for name, prof, colour in ((model_a, pa, "#d62728"), (model_b, pb, "#1f77b4")):
            values = [prof[k] for k in axes] + [prof[axes[0]]]
            ax.plot(angles, values, color=colour, linewidth=1.5, label=plain(name, 40))
            ax.fill(angles, values, color=colour, alpha=0.12)
        ax.set_xticks(angles[:-1])
        labels = ax.set_xticklabels([plain(k, 14) for k in axes], fontsize=8)
        if by == "language":
            for label, code in zip(labels, axes):
                if results.low_resource(code):
                    label.set_color("darkmagenta")
                    label.set_fontweight("bold")
        ax.set_ylim(0, 100)
        ax.set_title(f"accuracy (%) per {by}", fontsize=10)
    handles, names = fig.axes[0].get_legend_handles_labels() if fig.axes else ([], [])
    if handles:
        fig.legend(handles, names, loc="lower center", ncol=2, fontsize=8)
    fig.tight_layout(rect=(0, 0.07, 1, 1))
    return fig
