"""Significance tests for GlobMed-Bench comparisons (language vs reference, model vs model).

Every GlobMed-Bench comparison is *paired*: the same items (same stable id in every language)
are answered by both sides, so we use paired tests on id-aligned items. Unpaired tests (as in
lm-evaluation-harness / lighteval reports) throw away the pairing and lose most of the power.

Tests
    * One run per side: exact McNemar test (``mcnemar_exact``), i.e. a two-sided binomial test
      (``scipy.stats.binomtest(n10, n01 + n10, 0.5)``) on the discordant items. Exact, so valid
      for the small discordant counts typical of per-language cells.
    * Several runs: the primary test is the Wilcoxon signed-rank test on the per-item mean
      correctness across runs (``itemwise_wilcoxon``, ``zero_method="wilcox"``, scipy's
      ``method="auto"``: exact without ties, a permutation test for <= 13 items with ties,
      normal approximation with tie correction otherwise), computed from the integer counts of
      correct runs so that equal differences tie exactly (float means do not: 0.6 - 0.4 !=
      0.4 - 0.2). Rationale: the conclusion is about
      the population of items, so the item is the unit of replication; averaging the runs per
      item keeps the 5 correlated answers of one item together; item means are bounded and
      discrete (0, 0.2, ..., 1), so a rank test is safer than a t-test on them. The paired
      t-test across the run accuracies (``paired_runs_test``, runs paired by run index) is
      reported alongside but is *secondary*: with 5 runs it has 4 degrees of freedom and only
      measures decoding noise, not item sampling, so near-deterministic models give tiny run
      variance and spuriously small p (and zero variance gives no p at all: we return nan with
      a note instead of scipy's inf/0).
    * Effect size: the difference in accuracy with a paired percentile bootstrap CI over items
      (``paired_bootstrap``, seeded), so every row carries a CI and not just a p-value.
    * Identical runs (greedy decoding, loglik scoring): when every item got the same verdict in
      every run on both sides, the row says so (``runs_identical``, ``note``): the runs are one
      sample, the Wilcoxon on item means is then a sign test on one run's answers, and the SD
      and the t-test across runs carry no information.

``benchmarks/stats_check.py`` compares these tests with scipy (and an integer binomial) on
hundreds of random cells.

Multiple comparisons
    ``adjust`` applies Holm's step-down (family-wise error; default) or Benjamini-Hochberg
    (false discovery rate, ``scipy.stats.false_discovery_control``). nan p-values (cells that
    could not be tested) pass through as nan and do not count in the family size. The family is
    the set of rows returned by one call: for ``compare_to_reference`` all non-reference
    languages of one model x dataset; for ``compare_models`` all (dataset, language) cells of
    one model pair. Stars are computed from the *adjusted* p-value with the paper's thresholds
    (``stars``).

Alignment
    Items are matched by id; an item enters a comparison only when both sides have it and it has
    no excluded run (``None``, an API error) on either side, so errors never count as wrong and
    the two sides always score exactly the same items. ``n_items`` reports the aligned count.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Hashable, Mapping, Sequence
from typing import Any

import numpy as np
from scipy import stats

__all__ = [
    "adjust",
    "compare_models",
    "compare_to_reference",
    "itemwise_wilcoxon",
    "mcnemar_exact",
    "paired_bootstrap",
    "paired_runs_test",
    "stars",
]

NAN = float("nan")
PerItem = Mapping[str, Sequence[bool | None]]  # item id -> [run0_correct, run1_correct, ...]


def _isnan(x: Any) -> bool:
    return x is None or (isinstance(x, (float, np.floating)) and math.isnan(x))


def stars(p: float) -> str:
    """The paper's notation: ``***`` p<0.001, ``**`` p<0.01, ``*`` p<0.05,
    ``ns`` otherwise; ``""`` for nan/None (not tested)."""
    if _isnan(p):
        return ""
    for threshold, mark in ((0.001, "***"), (0.01, "**"), (0.05, "*")):
        if p < threshold:
            return mark
    return "ns"


# --------------------------------------------------------------------------- paired tests


def mcnemar_exact(a: Sequence[bool], b: Sequence[bool]) -> dict[str, Any]:
    """Exact McNemar test for two paired correctness vectors (aligned by position).

    ``n01``: items ``a`` got wrong and ``b`` right; ``n10``: ``a`` right and ``b`` wrong.
    ``p`` is the two-sided exact binomial test of n10 out of n01 + n10 at 0.5; 1.0 with no
    discordant items.
    """
    if len(a) != len(b):
        raise ValueError(f"paired vectors differ in length: {len(a)} vs {len(b)}")
    x = np.asarray(a, dtype=bool)
    y = np.asarray(b, dtype=bool)
    n01 = int(np.sum(~x & y))
    n10 = int(np.sum(x & ~y))
    p = 1.0 if n01 + n10 == 0 else float(stats.binomtest(n10, n01 + n10, 0.5).pvalue)
    return {"n01": n01, "n10": n10, "p": p}


def paired_runs_test(acc_a: Sequence[float], acc_b: Sequence[float]) -> dict[str, Any]:
    """Paired t-test across runs (``scipy.stats.ttest_rel``), run ``r`` of a with run ``r`` of b.

    Returns ``t``, ``p``, ``mean_diff`` (a - b) and ``note``. Conservative on degenerate input:
    fewer than 2 runs, or differences with zero variance (e.g. deterministic decoding), give
    ``t = p = nan`` with a ``note`` saying why, never scipy's ``t = inf, p = 0``.
    """
    if len(acc_a) != len(acc_b):
        raise ValueError(f"run accuracies differ in length: {len(acc_a)} vs {len(acc_b)}")
    d = np.asarray(acc_a, dtype=float) - np.asarray(acc_b, dtype=float)
    mean_diff = float(d.mean()) if d.size else NAN
    if d.size < 2:
        return {"t": NAN, "p": NAN, "mean_diff": mean_diff, "note": "fewer than 2 runs: no t-test"}
    if np.ptp(d) <= 1e-12 * max(1.0, float(np.abs(d).max())):
        return {"t": NAN, "p": NAN, "mean_diff": mean_diff,
                "note": "differences have zero variance across runs: t-test undefined"}
    res = stats.ttest_rel(np.asarray(acc_a, dtype=float), np.asarray(acc_b, dtype=float))
    return {"t": float(res.statistic), "p": float(res.pvalue), "mean_diff": mean_diff, "note": ""}


def itemwise_wilcoxon(a_correct: Sequence[int], b_correct: Sequence[int], runs_a: int = 1,
                      runs_b: int | None = None) -> dict[str, Any]:
    """Wilcoxon signed-rank test on paired per-item mean correctness, from integer run counts.

    ``a_correct[i]`` / ``b_correct[i]``: how many of item i's ``runs_a`` / ``runs_b`` runs were
    correct (``runs_b`` defaults to ``runs_a``). The test runs on the exact per-item differences of
    the means, scaled to integers: ``a_correct * runs_b - b_correct * runs_a`` (the signed-rank test
    is scale-invariant). Item means as floats would not do: 0.6 - 0.4 and 0.4 - 0.2 differ in the
    last bit, so ties would be broken by rounding and scipy would pick the test for untied data.

    The result is ``scipy.stats.wilcoxon(d, zero_method="wilcox", method="auto")`` on those
    differences. For its exhaustive permutation branch (at most 13 items with ties or zeros) the
    same p-value is computed from the exact null distribution by counting subsets of the
    (doubled, hence integer) midranks, instead of scipy's 2**n evaluations of the statistic
    (seconds per cell). ``n_nonzero`` reports the items with a nonzero difference. All
    differences zero -> ``statistic = 0.0, p = 1.0``; no items -> nan.
    """
    runs_b = runs_a if runs_b is None else runs_b
    if len(a_correct) != len(b_correct):
        raise ValueError(f"paired vectors differ in length: {len(a_correct)} vs {len(b_correct)}")
    x, y = _counts(a_correct, runs_a), _counts(b_correct, runs_b)
    if x.size == 0:
        return {"statistic": NAN, "p": NAN, "n_nonzero": 0}
    d = x * runs_b - y * runs_a
    n_nonzero = int(np.count_nonzero(d))
    if n_nonzero == 0:
        return {"statistic": 0.0, "p": 1.0, "n_nonzero": 0}
    nonzero = d[d != 0]
    ties = np.unique(np.abs(nonzero)).size < nonzero.size
    if d.size <= 13 and (ties or n_nonzero < d.size):  # scipy's "auto" picks the permutation test
        statistic, p = _signed_rank_exact(nonzero)
        return {"statistic": statistic, "p": p, "n_nonzero": n_nonzero}
    res = stats.wilcoxon(d.astype(float), zero_method="wilcox", method="auto")
    return {"statistic": float(res.statistic), "p": float(res.pvalue), "n_nonzero": n_nonzero}


def _counts(correct: Sequence[int], runs: int) -> np.ndarray:
    c = np.asarray(correct)
    if c.size and (not np.issubdtype(c.dtype, np.integer) or c.min() < 0 or c.max() > runs):
        raise ValueError(f"correct-run counts must be integers in [0, {runs}]")
    return c.astype(np.int64)


def _signed_rank_exact(d: np.ndarray) -> tuple[float, float]:
    """Two-sided exact p of the signed-rank statistic over all 2**n sign flips of nonzero ``d``
    (scipy.stats.permutation_test's definition: 2 * min(P(T+ <= t), P(T+ >= t)), clipped at 1),
    and scipy's reported statistic min(T+, T-). Midranks are halves, so doubled they are integers
    and the null distribution is a vector of subset counts (exact, no float comparison)."""
    ranks2 = np.rint(2 * stats.rankdata(np.abs(d))).astype(np.int64)
    counts = np.zeros(int(ranks2.sum()) + 1, dtype=np.int64)
    counts[0] = 1
    for r in ranks2:  # each item adds its rank to T+ (positive sign) or not
        counts[r:] = counts[r:] + counts[:-r]
    observed = int(ranks2[d > 0].sum())
    total = float(counts.sum())  # 2 ** len(d)
    p = 2 * min(counts[: observed + 1].sum() / total, counts[observed:].sum() / total)
    return min(observed, int(ranks2.sum()) - observed) / 2, float(min(1.0, p))


def paired_bootstrap(
    a: Sequence[float], b: Sequence[float], n_boot: int = 2000, seed: int = 0, level: float = 0.95
) -> dict[str, Any]:
    """Paired bootstrap over items of the mean difference ``mean(a - b)``.

    ``ci_low``/``ci_high``: percentile interval from ``scipy.stats.bootstrap`` (resampling items,
    seeded ``numpy.random.Generator``). ``p``: two-sided, from the bootstrap distribution shifted
    to mean zero (H0: no difference): ``(1 + #{|boot - diff| >= |diff|}) / (n_boot + 1)``; the +1
    keeps a Monte-Carlo p-value valid (never exactly 0). nan where undefined (no items; CI
    needs >= 2 items).
    """
    if len(a) != len(b):
        raise ValueError(f"paired vectors differ in length: {len(a)} vs {len(b)}")
    d = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if d.size == 0:
        return {"diff": NAN, "ci_low": NAN, "ci_high": NAN, "p": NAN}
    diff = float(d.mean())
    if d.size < 2:
        return {"diff": diff, "ci_low": NAN, "ci_high": NAN, "p": NAN}
    if np.ptp(d) == 0:  # every resample has the same mean
        boot = np.full(n_boot, diff)
        low = high = diff
    else:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", stats.DegenerateDataWarning)
            res = stats.bootstrap(
                (d,), np.mean, n_resamples=n_boot, confidence_level=level, method="percentile",
                vectorized=True, rng=np.random.default_rng(seed),
            )
        boot = np.asarray(res.bootstrap_distribution, dtype=float)
        low, high = float(res.confidence_interval.low), float(res.confidence_interval.high)
    tol = 1e-12
    extreme = int(np.sum(np.abs(boot - diff) >= abs(diff) - tol))
    p = min(1.0, (1 + extreme) / (boot.size + 1))
    return {"diff": diff, "ci_low": low, "ci_high": high, "p": float(p)}


# --------------------------------------------------------------------------- multiplicity


def adjust(pvalues: Sequence[float], method: str = "holm") -> list[float]:
    """Adjust a family of p-values: ``"holm"`` (step-down, FWER) or ``"bh"`` (Benjamini-Hochberg, FDR).

    nan/None p-values stay nan and are excluded from the family size. Output order = input order.
    """
    if method not in ("holm", "bh"):
        raise ValueError(f"method must be 'holm' or 'bh', got {method!r}")
    out = [NAN] * len(pvalues)
    idx = [i for i, p in enumerate(pvalues) if not _isnan(p)]
    if not idx:
        return out
    p = np.asarray([float(pvalues[i]) for i in idx])
    if np.any((p < 0) | (p > 1)):
        raise ValueError(f"p-values must lie in [0, 1], got {p[(p < 0) | (p > 1)].tolist()}")
    if method == "bh":
        adj = np.asarray(stats.false_discovery_control(p, method="bh"), dtype=float)
    else:
        m = p.size
        order = np.argsort(p, kind="stable")
        stepped = np.minimum(1.0, (m - np.arange(m)) * p[order])
        adj = np.empty(m)
        adj[order] = np.maximum.accumulate(stepped)  # monotone: never below a smaller p's value
    for i, v in zip(idx, adj):
        out[i] = float(v)
    return out


# --------------------------------------------------------------------------- comparisons


def _matrix(per_item: PerItem, ids: list[str]) -> np.ndarray:
    """items x runs 0/1 integer matrix for ``ids`` (all known to have no None)."""
    return np.asarray([[1 if v else 0 for v in per_item[i]] for i in ids], dtype=np.int64).reshape(len(ids), -1)


def _runs(per_item: PerItem, where: str) -> int:
    lengths = {len(v) for v in per_item.values()}
    if len(lengths) > 1:
        raise ValueError(f"{where}: items have different numbers of runs {sorted(lengths)}; "
                         "mark a missing answer with None instead of dropping it")
    return lengths.pop() if lengths else 0


def _aligned_ids(x: PerItem, y: PerItem) -> list[str]:
    return sorted(i for i in x.keys() & y.keys()
                  if len(x[i]) and len(y[i]) and None not in x[i] and None not in y[i])


def runs_identical(m: np.ndarray) -> bool:
    """Whether every item got the same verdict in every run (items x runs matrix; several runs)."""
    return m.shape[1] > 1 and bool(np.all(m == m[:, :1]))


IDENTICAL_NOTE = ("runs identical on every item (deterministic decoding: greedy or loglik): the runs are one "
                  "sample, so the test is on items (Wilcoxon on one run's answers, i.e. a sign test), the SD "
                  "across runs is 0 and the t-test across runs is undefined")


def _compare(x: PerItem, y: PerItem, where: str, n_boot: int, seed: int) -> dict[str, Any]:
    """Paired comparison of side x against side y (differences are x - y).

    Everything is computed from integer counts: per item, correct runs ``cx`` of ``rx`` and ``cy``
    of ``ry``; the exact difference of the item means is ``(cx * ry - cy * rx) / (rx * ry)``, one
    division of an integer, so equal fractions give equal floats."""
    runs_x, runs_y = _runs(x, where + " (first side)"), _runs(y, where + " (second side)")
    ids = _aligned_ids(x, y)
    single = runs_x <= 1 and runs_y <= 1
    row: dict[str, Any] = {
        "n_items": len(ids), "runs": runs_x if runs_x == runs_y else (runs_x, runs_y),
        "acc_x": NAN, "acc_y": NAN, "diff": NAN, "diff_ci_low": NAN, "diff_ci_high": NAN,
        "test": "mcnemar-exact" if single else "wilcoxon-items", "p": NAN,
        "n01": None, "n10": None, "wilcoxon_stat": None, "t_runs": None, "p_runs": None,
        "runs_identical": False, "note": "",
    }
    if not ids:
        row["note"] = "no aligned items (no shared ids without errors)"
        return row
    mx, my = _matrix(x, ids), _matrix(y, ids)
    cx, cy = mx.sum(axis=1), my.sum(axis=1)  # correct runs per item
    d = (cx * runs_y - cy * runs_x) / (runs_x * runs_y)  # exact per-item difference of the means
    boot = paired_bootstrap(d, np.zeros_like(d), n_boot=n_boot, seed=seed)
    row.update(acc_x=float(cx.sum() / (len(ids) * runs_x)), acc_y=float(cy.sum() / (len(ids) * runs_y)),
               diff=boot["diff"], diff_ci_low=boot["ci_low"], diff_ci_high=boot["ci_high"])
    if single:
        mc = mcnemar_exact(mx[:, 0].astype(bool), my[:, 0].astype(bool))
        row.update(p=mc["p"], n01=mc["n01"], n10=mc["n10"])
        return row
    wx = itemwise_wilcoxon(cx, cy, runs_x, runs_y)
    row.update(p=wx["p"], wilcoxon_stat=wx["statistic"])
    notes = []
    if runs_x == runs_y:
        # run accuracies from integer counts on the aligned items: run r of x against run r of y
        tt = paired_runs_test(mx.sum(axis=0) / len(ids), my.sum(axis=0) / len(ids))
        row.update(t_runs=tt["t"], p_runs=tt["p"])
        notes.append(tt["note"])
    else:
        row.update(t_runs=NAN, p_runs=NAN)
        notes.append(f"different run counts ({runs_x} vs {runs_y}): no paired t-test across runs")
    if (runs_x == 1 or runs_identical(mx)) and (runs_y == 1 or runs_identical(my)):
        row["runs_identical"] = True
        notes = [IDENTICAL_NOTE]
    row["note"] = "; ".join(n for n in notes if n)
    return row


def _finish(rows: list[dict[str, Any]], method: str) -> list[dict[str, Any]]:
    for row, p_adj in zip(rows, adjust([r["p"] for r in rows], method)):
        row["p_adj"] = p_adj
        row["stars"] = stars(p_adj)
    return rows


def compare_to_reference(
    items: Mapping[str, PerItem],
    reference: str = "en",
    method: str = "holm",
    n_boot: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Compare every language with the reference language (one model x dataset).

    ``items[language][item_id]`` is the list of per-run correctness for that item
    (True/False, None = excluded run). For each language other than ``reference`` (in input
    order) returns a row:

    ``language, reference, n_items`` (ids in both with no None on either side), ``runs``,
    ``acc``, ``ref_acc`` (mean correctness on the aligned items), ``diff`` (acc - ref_acc),
    ``diff_ci_low, diff_ci_high`` (paired bootstrap over items), ``test`` (``"mcnemar-exact"``
    for single runs, else ``"wilcoxon-items"``), ``p`` (that test), ``p_adj`` (``method`` over the
    rows of this call), ``stars`` (from ``p_adj``), ``n01, n10`` (McNemar discordant counts:
    language wrong/reference right and the reverse; single runs only), ``wilcoxon_stat``,
    ``t_runs, p_runs`` (secondary paired t-test across runs; several runs only),
    ``runs_identical`` (every item got the same verdict in every run on both sides), ``note``.
    """
    if reference not in items:
        raise ValueError(f"reference language {reference!r} not in the results ({', '.join(items)})")
    rows = []
    for language, per_item in items.items():
        if language == reference:
            continue
        r = _compare(per_item, items[reference], f"language {language!r}", n_boot, seed)
        rows.append({
            "language": language, "reference": reference, "n_items": r["n_items"], "runs": r["runs"],
            "acc": r["acc_x"], "ref_acc": r["acc_y"], "diff": r["diff"],
            "diff_ci_low": r["diff_ci_low"], "diff_ci_high": r["diff_ci_high"],
            "test": r["test"], "p": r["p"], "n01": r["n01"], "n10": r["n10"],
            "wilcoxon_stat": r["wilcoxon_stat"], "t_runs": r["t_runs"], "p_runs": r["p_runs"],
            "runs_identical": r["runs_identical"], "note": r["note"],
        })
    return _finish(rows, method)


def compare_models(
    a: Mapping[Hashable, PerItem],
    b: Mapping[Hashable, PerItem],
    method: str = "holm",
    n_boot: int = 2000,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Compare model A with model B cell by cell, e.g. keys ``(dataset, language)``.

    ``a[key][item_id]`` / ``b[key][item_id]`` are per-run correctness lists as in
    ``compare_to_reference``. One row per key of ``a`` then the keys only ``b`` has (a key missing
    on one side gives ``n_items = 0`` and nan p, so gaps stay visible). Row fields: ``key``,
    ``dataset`` and ``language`` (when the key is a 2-tuple, else None), ``n_items, runs,
    acc_a, acc_b, diff`` (acc_a - acc_b), ``diff_ci_low, diff_ci_high, test, p, p_adj, stars,
    n01`` (A wrong, B right), ``n10, wilcoxon_stat, t_runs, p_runs, runs_identical, note``. ``p_adj`` corrects over
    all rows of this call.
    """
    keys = list(a.keys()) + [k for k in b.keys() if k not in a]
    rows = []
    for key in keys:
        r = _compare(a.get(key, {}), b.get(key, {}), f"cell {key!r}", n_boot, seed)
        if key not in a or key not in b:
            r["note"] = f"only model {'A' if key in a else 'B'} has results for this cell"
        pair = isinstance(key, tuple) and len(key) == 2
        rows.append({
            "key": key, "dataset": key[0] if pair else None, "language": key[1] if pair else None,
            "n_items": r["n_items"], "runs": r["runs"], "acc_a": r["acc_x"], "acc_b": r["acc_y"],
            "diff": r["diff"], "diff_ci_low": r["diff_ci_low"], "diff_ci_high": r["diff_ci_high"],
            "test": r["test"], "p": r["p"], "n01": r["n01"], "n10": r["n10"],
            "wilcoxon_stat": r["wilcoxon_stat"], "t_runs": r["t_runs"], "p_runs": r["p_runs"],
            "runs_identical": r["runs_identical"], "note": r["note"],
        })
    return _finish(rows, method)
