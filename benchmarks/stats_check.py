"""Check globmed's paired statistics against reference implementations on many random cells.

For each seeded random cell (a language against its reference language, one model x dataset)
`globmed.bench.stats.compare_to_reference` is compared with what the reference computes on the
same aligned items:

* 5 runs (and 1 run against 5): the primary p-value and statistic against
  ``scipy.stats.wilcoxon`` on the exact per-item differences (integer run counts: correct runs of
  the language minus correct runs of the reference, cross-multiplied by the run counts when they
  differ), ``zero_method="wilcox"``, ``method="auto"``;
* 5 runs: the secondary t-test against ``scipy.stats.ttest_rel`` on the run accuracies;
* 1 run: the exact McNemar p-value against the two-sided binomial test computed from the
  binomial pmf with integers (``math.comb``), independent of scipy.

Cells have 6 to 300 items with per-item difficulties drawn per side, so ties, zeros, the exact
permutation test (<= 13 nonzero differences) and the normal approximation all occur. Prints
per kind: cells checked, cells whose p differs by more than 1e-9, the largest |p difference|.

    .venv/bin/python benchmarks/stats_check.py [--cells 400] [--seed 0]
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

import numpy as np
from scipy import stats as sps

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from globmed.bench.stats import compare_to_reference  # noqa: E402

TOL = 1e-9


def random_cell(rng: np.random.Generator, runs_x: int, runs_ref: int) -> tuple[dict, dict]:
    n = int(rng.choice([int(rng.integers(6, 16)), int(rng.integers(16, 301))]))
    base = rng.random(n)  # item difficulty, shared by both sides (paired items)
    shift = rng.normal(0, 0.15)
    p_x = np.clip(base + shift + rng.normal(0, 0.1, n), 0.02, 0.98)
    p_ref = np.clip(base + rng.normal(0, 0.1, n), 0.02, 0.98)
    x = {f"q{i}": [bool(v) for v in rng.random(runs_x) < p_x[i]] for i in range(n)}
    ref = {f"q{i}": [bool(v) for v in rng.random(runs_ref) < p_ref[i]] for i in range(n)}
    return x, ref


def binom_two_sided(k: int, n: int) -> float:
    """Exact two-sided binomial test at 0.5 from integer pmf sums (the pmf is symmetric)."""
    low = min(k, n - k)
    tail = sum(math.comb(n, i) for i in range(low + 1))
    return min(1.0, 2 * tail / 2 ** n)


def check(cells: int, seed: int) -> dict[str, dict[str, float]]:
    rng = np.random.default_rng(seed)
    out: dict[str, dict[str, float]] = {}

    def record(kind: str, ours: float, ref: float) -> None:
        s = out.setdefault(kind, {"cells": 0, "differ": 0, "max_abs_diff": 0.0})
        diff = abs(ours - ref) if not (math.isnan(ours) and math.isnan(ref)) else 0.0
        s["cells"] += 1
        s["differ"] += int(diff > TOL)
        s["max_abs_diff"] = max(s["max_abs_diff"], diff)

    for kind, rx, rr in (("wilcoxon 5 runs", 5, 5), ("mcnemar 1 run", 1, 1), ("wilcoxon 1 vs 5 runs", 1, 5)):
        done = 0
        while done < cells:
            x, ref = random_cell(rng, rx, rr)
            ids = sorted(ref)
            cx = np.array([sum(x[i]) for i in ids])
            cr = np.array([sum(ref[i]) for i in ids])
            d = cx * rr - cr * rx  # exact per-item differences of the mean correctness, times rx * rr
            if not d.any():
                continue  # nothing to test: both implementations say p = 1
            done += 1
            (row,) = compare_to_reference({"ref": ref, "x": x}, reference="ref", n_boot=10)
            if rx == rr == 1:
                n01, n10 = int(np.sum((cx == 0) & (cr == 1))), int(np.sum((cx == 1) & (cr == 0)))
                record(kind, row["p"], binom_two_sided(n10, n01 + n10))
                continue
            res = sps.wilcoxon(d, zero_method="wilcox", method="auto")
            record(kind, row["p"], float(res.pvalue))
            record(kind + " (statistic)", float(row["wilcoxon_stat"]), float(res.statistic))
            if rx == rr:
                acc_x = [np.mean([x[i][r] for i in ids]) for r in range(rx)]
                acc_r = [np.mean([ref[i][r] for i in ids]) for r in range(rr)]
                t = sps.ttest_rel(acc_x, acc_r)
                if np.isfinite(t.statistic):  # degenerate (zero-variance) cells are nan by design
                    record("t-test across 5 runs", row["p_runs"], float(t.pvalue))
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cells", type=int, default=400, help="random cells per kind")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    summary = check(args.cells, args.seed)
    print(f"{'check':34} {'cells':>6} {'p differs':>10} {'max |diff|':>12}")
    for kind, s in summary.items():
        print(f"{kind:34} {s['cells']:>6} {s['differ']:>10} {s['max_abs_diff']:>12.3g}")
    results = ROOT / "benchmarks" / "results"
    results.mkdir(exist_ok=True)
    (results / "stats_check.json").write_text(json.dumps(summary, indent=1), encoding="utf-8")


if __name__ == "__main__":
    main()
