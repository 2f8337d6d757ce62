"""The leaderboard's numbers: per model (and per language or dataset), the mean and SD over runs of the
macro average over cells, with a Wilson 95% CI whose n is the effective number of items from the
cells' binomial variances. Pure pandas/math, so the Space starts without scipy."""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

Z95 = 1.959963984540054


def wilson(p: float, n: float, z: float = Z95) -> tuple[float, float]:
    """Wilson interval for a proportion p over n items; n may be fractional (an effective n), unlike
    scipy's binomtest (globmed.bench.metrics.wilson_ci), which needs integer counts."""
    if not n or n <= 0 or p != p:
        return (math.nan, math.nan)
    denom = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denom
    half = z * math.sqrt(max(p * (1 - p) / n + z * z / (4 * n * n), 0.0)) / denom
    return (max(0.0, centre - half), min(1.0, centre + half))


def aggregate(rows: pd.DataFrame, by: list[str]) -> pd.DataFrame:
    """Per model (and `by`): mean and SD over runs of the macro average over cells, and a Wilson CI."""
    keys = ["model", *by]
    per_run = rows.groupby([*keys, "run"], sort=False)["accuracy"].mean()
    stats = per_run.groupby(level=list(range(len(keys))), sort=False).agg(["mean", "std"])
    stats["std"] = stats["std"].fillna(0.0)
    cells = rows.groupby(["model", "dataset", "language"], sort=False).agg(p=("accuracy", "mean"),
                                                                          n=("answered", "mean")).reset_index()
    cells = cells[cells["n"] > 0]
    cells["v"] = cells["p"] * (1 - cells["p"]) / cells["n"]
    cells["inv_n"] = 1 / cells["n"]
    var = cells.groupby(keys, sort=False).agg(v=("v", "sum"), inv_n=("inv_n", "sum"), k=("v", "size"))
    out = stats.rename(columns={"std": "sd"}).join(var, how="left")
    lo, hi = [], []
    for mean, v, inv_n, k in zip(out["mean"], out["v"], out["inv_n"], out["k"]):
        if not k or k != k:
            lo.append(math.nan)
            hi.append(math.nan)
            continue
        se2 = v / (k * k)
        n_eff = mean * (1 - mean) / se2 if se2 > 0 and 0 < mean < 1 else (k * k) / inv_n
        a, b = wilson(float(mean), float(n_eff))
        lo.append(a)
        hi.append(b)
    out["lo"], out["hi"] = lo, hi
    if not by:
        out.index = out.index.get_level_values(0) if isinstance(out.index, pd.MultiIndex) else out.index
    return out


def pct(x: float) -> float | None:
    return None if x is None or x != x else round(100 * float(x), 1)


def fmt(x: float) -> str:
    return "–" if x is None or x != x else f"{100 * x:.1f}"


def cell_text(agg: pd.DataFrame, key: tuple[str, str], display: str) -> Any:
    if key not in agg.index:
        return None if display == "mean" else "–"
    r = agg.loc[key]
    if display == "mean":
        return pct(r["mean"])
    text = f"{fmt(r['mean'])} ± {fmt(r['sd'])}"
    if display == "mean ± SD [95% CI]":
        text += f" [{fmt(r['lo'])}, {fmt(r['hi'])}]"
    return text
