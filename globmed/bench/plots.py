"""Figures like the paper's: accuracy by language and by dataset per model, and the language x
model significance heatmap against the reference language (Fig. 4: one panel for the English-reference
datasets, one for the Spanish-reference ones), as PNG files."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from .. import languages


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _mean_by(results: list[dict[str, Any]], key: str) -> dict[str, dict[str, float]]:
    """model -> key value -> mean accuracy (mean over runs, then over the other axis)."""
    acc: dict[str, dict[str, dict[str, list[float]]]] = defaultdict(lambda: defaultdict(lambda: defaultdict(list)))
    other = "dataset" if key == "language" else "language"
    for r in results:
        if r["accuracy"] is not None:
            acc[r["model"]][r[key]][r[other]].append(r["accuracy"])
    return {m: {k: sum(sum(v) / len(v) for v in d.values()) / len(d) for k, d in by.items()} for m, by in acc.items()}


def bars(results: list[dict[str, Any]], key: str, path: Path) -> Path:
    plt = _plt()
    data = _mean_by(results, key)
    order = languages.codes() if key == "language" else sorted({r[key] for r in results})
    cats = [c for c in order if any(c in d for d in data.values())]
    fig, ax = plt.subplots(figsize=(max(6, len(cats) * 0.8), 4))
    width = 0.8 / max(1, len(data))
    for i, (model, d) in enumerate(data.items()):
        ax.bar([j + i * width for j in range(len(cats))], [100 * d.get(c, 0) for c in cats], width, label=model)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(cats))])
    ax.set_xticklabels(cats, rotation=0 if key == "language" else 30, ha="center" if key == "language" else "right")
    if key == "language":
        for tick, code in zip(ax.get_xticklabels(), cats):
            if code in languages.codes() and languages.get(code).low_resource:
                tick.set_color("darkmagenta")
                tick.set_fontweight("bold")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 100)
    ax.set_title(f"Accuracy by {key}")
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def heatmap_panels(tests: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The values of Fig. 4, one panel per reference language (English first, then Spanish, ...): the
    pooled rows (dataset "all") as a model x language grid of differences in points (nan where a
    model lacks a language) and their stars."""
    pooled = [t for t in tests if t["dataset"] == "all"]
    rank = {c: i for i, c in enumerate(languages.codes())}
    panels = []
    for ref in sorted({t["reference"] for t in pooled}, key=lambda c: rank.get(c, len(rank))):
        rows = [t for t in pooled if t["reference"] == ref]
        models = list(dict.fromkeys(t["model"] for t in rows))
        langs = sorted({t["language"] for t in rows}, key=lambda c: (rank.get(c, len(rank)), c))
        cell = {(t["model"], t["language"]): t for t in rows}

        def diff(m: str, lang: str, cell: dict = cell) -> float:  # this panel's cells (bound now)
            t = cell.get((m, lang))
            return 100 * t["diff"] if t and t["diff"] == t["diff"] else float("nan")

        panels.append({"reference": ref, "datasets": rows[0].get("datasets", ""), "models": models, "languages": langs,
                       "diff": [[diff(m, lang) for lang in langs] for m in models],
                       "stars": [[cell[(m, lang)]["stars"] if (m, lang) in cell else "" for lang in langs] for m in models]})
    return panels


def heatmap(tests: list[dict[str, Any]], path: Path) -> Path | None:
    """Fig. 4: language x model accuracy difference against the reference language, with stars; one
    panel per reference language (the English-reference and the Spanish-reference datasets)."""
    panels = heatmap_panels(tests)
    if not panels:
        return None
    import numpy as np

    plt = _plt()
    models = list(dict.fromkeys(m for p in panels for m in p["models"]))
    widths = [max(3, len(p["languages"])) for p in panels]
    fig, axes = plt.subplots(1, len(panels), squeeze=False, gridspec_kw={"width_ratios": widths},
                             figsize=(max(5, 0.9 * sum(widths) + 1.5), max(2.5, len(models) * 0.5 + 1.8)))
    values = [abs(v) for p in panels for row in p["diff"] for v in row if v == v]
    limit = max(1.0, max(values, default=1.0))
    for ax, p in zip(axes[0], panels):
        grid = np.full((len(models), len(p["languages"])), np.nan)
        stars = [[""] * len(p["languages"]) for _ in models]
        for i, m in enumerate(p["models"]):
            grid[models.index(m)] = p["diff"][i]
            stars[models.index(m)] = p["stars"][i]
        im = ax.imshow(np.ma.masked_invalid(grid), cmap="RdBu", vmin=-limit, vmax=limit, aspect="auto")
        for i in range(len(models)):
            for j in range(len(p["languages"])):
                if grid[i, j] == grid[i, j]:
                    ax.text(j, i, f"{grid[i, j]:+.0f}\n{stars[i][j]}", ha="center", va="center", fontsize=7)
        ax.set_xticks(range(len(p["languages"])))
        ax.set_xticklabels(p["languages"])
        for tick, code in zip(ax.get_xticklabels(), p["languages"]):
            if code in languages.codes() and languages.get(code).low_resource:
                tick.set_color("darkmagenta")
        ax.set_yticks(range(len(models)))
        ax.set_yticklabels(models if ax is axes[0][0] else [""] * len(models), fontsize=8)
        name = languages.get(p["reference"]).name if p["reference"] in languages.codes() else p["reference"]
        ax.set_title(f"vs {name}: {p['reference']}-reference datasets\n({p['datasets'].replace(',', ', ')})", fontsize=9)
    fig.suptitle("Accuracy difference vs the reference language (points; corrected stars)", fontsize=10)
    fig.colorbar(im, ax=list(axes[0]), label="difference (points)")
    fig.savefig(path, dpi=110, bbox_inches="tight")
    plt.close(fig)
    return path


def plot_all(results: list[dict[str, Any]], tests: list[dict[str, Any]], folder: Path) -> list[Path]:
    figures = [bars(results, "language", folder / "accuracy_by_language.png"),
               bars(results, "dataset", folder / "accuracy_by_dataset.png")]
    hm = heatmap(tests, folder / "significance_heatmap.png")
    return figures + ([hm] if hm else [])
