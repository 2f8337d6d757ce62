"""Tests for globmed.bench.stats: hand-computable cases and agreement with scipy."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from scipy import stats as sps

from globmed.bench import stats

# --------------------------------------------------------------------------- stars


@pytest.mark.parametrize(
    ("p", "expected"),
    [
        (0.0, "***"), (0.00009999, "***"), (0.0001, "***"), (0.000999, "***"), (0.001, "**"),
        (0.00999, "**"), (0.01, "*"), (0.0499, "*"), (0.05, "ns"), (0.5, "ns"), (1.0, "ns"),
        (float("nan"), ""), (None, ""),
    ],
)
def test_stars_thresholds(p, expected):
    assert stats.stars(p) == expected


# --------------------------------------------------------------------------- McNemar


def test_mcnemar_all_discordant_one_way():
    a = [True] * 10 + [True] * 5 + [False] * 3
    b = [False] * 10 + [True] * 5 + [False] * 3
    res = stats.mcnemar_exact(a, b)
    assert (res["n01"], res["n10"]) == (0, 10)
    assert res["p"] == pytest.approx(2 * 0.5**10)


def test_mcnemar_no_discordant_pairs_is_one():
    res = stats.mcnemar_exact([True, False, True], [True, False, True])
    assert res == {"n01": 0, "n10": 0, "p": 1.0}


def test_mcnemar_matches_binomtest():
    rng = np.random.default_rng(1)
    a, b = rng.random(60) < 0.7, rng.random(60) < 0.5
    res = stats.mcnemar_exact(list(a), list(b))
    n01, n10 = int(np.sum(~a & b)), int(np.sum(a & ~b))
    assert (res["n01"], res["n10"]) == (n01, n10)
    assert res["p"] == pytest.approx(sps.binomtest(n10, n01 + n10, 0.5).pvalue)


def test_mcnemar_length_mismatch():
    with pytest.raises(ValueError):
        stats.mcnemar_exact([True], [True, False])


# --------------------------------------------------------------------------- paired t across runs


def test_paired_runs_test_matches_scipy():
    a, b = [0.71, 0.69, 0.74, 0.70, 0.72], [0.65, 0.66, 0.64, 0.69, 0.63]
    res = stats.paired_runs_test(a, b)
    ref = sps.ttest_rel(a, b)
    assert res["t"] == pytest.approx(ref.statistic)
    assert res["p"] == pytest.approx(ref.pvalue)
    assert res["mean_diff"] == pytest.approx(np.mean(a) - np.mean(b))
    assert res["note"] == ""


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ([0.5, 0.6, 0.7], [0.4, 0.5, 0.6]),  # constant non-zero difference (scipy: t=inf, p=0)
        ([0.5, 0.5, 0.5], [0.5, 0.5, 0.5]),  # constant zero difference (scipy: nan)
        ([0.8], [0.6]),                       # one run
    ],
)
def test_paired_runs_test_degenerate_is_nan_with_note(a, b):
    res = stats.paired_runs_test(a, b)
    assert math.isnan(res["p"]) and math.isnan(res["t"])
    assert res["note"]


# --------------------------------------------------------------------------- Wilcoxon


def test_itemwise_wilcoxon_matches_scipy():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 6, 80)  # correct runs out of 5
    b = rng.integers(0, 6, 80)
    res = stats.itemwise_wilcoxon(a, b, runs_a=5)
    ref = sps.wilcoxon(a - b, zero_method="wilcox")
    assert res["p"] == pytest.approx(ref.pvalue, rel=1e-12)
    assert res["statistic"] == ref.statistic
    assert res["n_nonzero"] == int(np.count_nonzero(a - b))


def test_itemwise_wilcoxon_all_zero_is_one():
    res = stats.itemwise_wilcoxon([1, 3, 5], [1, 3, 5], runs_a=5)
    assert res["p"] == 1.0 and res["n_nonzero"] == 0


def test_itemwise_wilcoxon_ties_are_exact():
    # 3/5 - 2/5, 4/5 - 3/5 and 2/5 - 1/5 are all 1/5: one tie group of three, not three ranks that
    # rounding happens to order (as float means 0.6 - 0.4 != 0.8 - 0.6)
    res = stats.itemwise_wilcoxon([3, 4, 2], [2, 3, 1], runs_a=5)
    assert res["n_nonzero"] == 3
    assert (res["statistic"], res["p"]) == (0.0, 0.25)  # all 8 sign flips: T+ = 6 only for +++ (and 0 for ---)


def test_itemwise_wilcoxon_different_run_counts_cross_multiplies():
    # 1 run (0 or 1 correct) against 5 runs: differences c_a * 5 - c_b * 1, i.e. the means times 5
    a, b = [1, 0, 1, 1, 0, 1, 1, 1, 0, 1] * 3, [2, 5, 3, 0, 4, 1, 5, 2, 3, 4] * 3
    res = stats.itemwise_wilcoxon(a, b, runs_a=1, runs_b=5)
    ref = sps.wilcoxon(np.array(a) * 5 - np.array(b), zero_method="wilcox")
    assert res["p"] == pytest.approx(ref.pvalue, rel=1e-12) and res["statistic"] == ref.statistic


def test_itemwise_wilcoxon_refuses_counts_out_of_range():
    with pytest.raises(ValueError):
        stats.itemwise_wilcoxon([6], [1], runs_a=5)
    with pytest.raises(ValueError):
        stats.itemwise_wilcoxon([0.4], [0.2], runs_a=5)


# --------------------------------------------------------------------------- paired bootstrap


def test_paired_bootstrap_reproducible_and_sensible():
    rng = np.random.default_rng(0)
    a = (rng.random(200) < 0.8).astype(float)
    b = (rng.random(200) < 0.6).astype(float)
    r1 = stats.paired_bootstrap(a, b, n_boot=1000, seed=7)
    r2 = stats.paired_bootstrap(a, b, n_boot=1000, seed=7)
    assert r1 == r2
    assert r1["diff"] == pytest.approx(a.mean() - b.mean())
    assert r1["ci_low"] < r1["diff"] < r1["ci_high"]
    assert r1["ci_low"] > 0 and r1["p"] < 0.01
    assert r1["p"] >= 1 / 1001  # Monte-Carlo p-value is never 0


def test_paired_bootstrap_no_difference():
    x = [1.0, 0.0, 1.0, 1.0, 0.0]
    res = stats.paired_bootstrap(x, x, n_boot=200)
    assert res["diff"] == 0.0 and res["p"] == 1.0
    assert res["ci_low"] == res["ci_high"] == 0.0


def test_paired_bootstrap_empty():
    res = stats.paired_bootstrap([], [])
    assert all(math.isnan(res[k]) for k in ("diff", "ci_low", "ci_high", "p"))


# --------------------------------------------------------------------------- adjust


def test_holm_by_hand():
    assert stats.adjust([0.01, 0.04, 0.03], "holm") == pytest.approx([0.03, 0.06, 0.06])


def test_holm_monotone_and_capped():
    adj = stats.adjust([0.5, 0.001, 0.4, 0.02], "holm")
    # sorted: 0.001*4=0.004, 0.02*3=0.06, 0.4*2=0.8, 0.5*1=0.5 -> cummax 0.8
    assert adj == pytest.approx([0.8, 0.004, 0.8, 0.06])
    assert stats.adjust([0.6, 0.7], "holm") == pytest.approx([1.0, 1.0])


def test_bh_matches_scipy():
    p = [0.01, 0.04, 0.03, 0.2, 0.001, 0.5]
    assert stats.adjust(p, "bh") == pytest.approx(list(sps.false_discovery_control(p, method="bh")))


@pytest.mark.parametrize("method", ["holm", "bh"])
def test_adjust_nan_passthrough_not_in_family(method):
    adj = stats.adjust([0.01, float("nan"), 0.04, None, 0.03], method)
    assert math.isnan(adj[1]) and math.isnan(adj[3])
    assert [adj[0], adj[2], adj[4]] == pytest.approx(stats.adjust([0.01, 0.04, 0.03], method))


def test_adjust_edge_cases():
    assert stats.adjust([], "holm") == []
    with pytest.raises(ValueError):
        stats.adjust([0.1], "bonferroni")
    with pytest.raises(ValueError):
        stats.adjust([1.5], "holm")


# --------------------------------------------------------------------------- compare_to_reference


def _cell(n_correct: int, n: int = 200, runs: int = 1, prefix: str = "q") -> dict[str, list[bool | None]]:
    return {f"{prefix}{i:04d}": [i < n_correct] * runs for i in range(n)}


def _shuffled(d: dict) -> dict:
    keys = list(d)
    random.Random(42).shuffle(keys)
    return {k: d[k] for k in keys}


def test_compare_to_reference_aligns_by_id():
    en = _cell(180)
    sw = _shuffled(_cell(100))
    del sw["q0005"]                        # missing in one language
    sw["q0007"] = [None]                   # API error: excluded, not wrong
    sw["extra"] = [True]                   # only in one language
    rows = stats.compare_to_reference({"en": en, "sw": sw}, reference="en")
    (row,) = rows
    assert row["language"] == "sw" and row["reference"] == "en"
    assert row["n_items"] == 198
    assert row["test"] == "mcnemar-exact"
    # aligned items: 0..199 minus 5 and 7 -> en correct on 178, sw correct on 98, every
    # discordant item is en right / sw wrong
    assert row["acc"] == pytest.approx(98 / 198)
    assert row["ref_acc"] == pytest.approx(178 / 198)
    assert (row["n01"], row["n10"]) == (80, 0)
    assert row["p"] == pytest.approx(sps.binomtest(0, 80, 0.5).pvalue)
    assert row["p"] < 1e-6 and row["stars"] == "***"
    assert row["diff"] < 0 and row["diff_ci_high"] < 0


def test_compare_to_reference_order_does_not_matter():
    en, zu = _cell(180), _cell(100)
    a = stats.compare_to_reference({"en": en, "zu": zu}, "en")
    b = stats.compare_to_reference({"en": _shuffled(en), "zu": _shuffled(zu)}, "en")
    assert a == b


def test_compare_to_reference_identical_single_run():
    en = _cell(150)
    (row,) = stats.compare_to_reference({"en": en, "fr": dict(en)}, "en")
    assert row["p"] == 1.0 and row["p_adj"] == 1.0 and row["stars"] == "ns"
    assert row["diff"] == 0.0


def test_compare_to_reference_multi_run_detects_difference():
    rng = np.random.default_rng(5)
    # 90% vs 50% with some run-to-run noise
    en = {f"q{i}": [bool(rng.random() < (0.97 if i < 180 else 0.1)) for _ in range(5)] for i in range(200)}
    yo = {f"q{i}": [bool(rng.random() < (0.97 if i < 100 else 0.1)) for _ in range(5)] for i in range(200)}
    (row,) = stats.compare_to_reference({"en": en, "yo": yo}, "en")
    assert row["test"] == "wilcoxon-items" and row["runs"] == 5
    assert row["p"] < 1e-6 and row["stars"] == "***"
    assert row["n01"] is None and row["wilcoxon_stat"] is not None
    # secondary paired t-test is reported and agrees with scipy on the aligned run accuracies
    ids = sorted(en)
    acc_en = [np.mean([en[i][r] for i in ids]) for r in range(5)]
    acc_yo = [np.mean([yo[i][r] for i in ids]) for r in range(5)]
    assert row["p_runs"] == pytest.approx(sps.ttest_rel(acc_yo, acc_en).pvalue)
    assert row["acc"] - row["ref_acc"] == pytest.approx(np.mean(acc_yo) - np.mean(acc_en))


def test_compare_to_reference_identical_multi_run():
    en = _cell(120, runs=5)
    (row,) = stats.compare_to_reference({"en": en, "de": dict(en)}, "en")
    assert row["p"] == 1.0 and row["stars"] == "ns"
    assert math.isnan(row["p_runs"]) and row["note"]  # zero variance: t-test undefined


def test_compare_to_reference_family_is_adjusted():
    en = _cell(180)
    data = {"en": en, "sw": _cell(100), "fr": _cell(178), "es": dict(en)}
    rows = stats.compare_to_reference(data, "en", method="holm")
    assert [r["language"] for r in rows] == ["sw", "fr", "es"]
    assert [r["p_adj"] for r in rows] == pytest.approx(stats.adjust([r["p"] for r in rows], "holm"))
    assert [r["stars"] for r in rows] == [stats.stars(r["p_adj"]) for r in rows]
    fr = rows[1]
    assert fr["p"] == pytest.approx(0.5) and fr["p_adj"] == pytest.approx(1.0)


def test_compare_to_reference_no_overlap_and_bad_input():
    rows = stats.compare_to_reference({"en": _cell(10, 10), "wo": _cell(5, 10, prefix="z")}, "en")
    assert rows[0]["n_items"] == 0 and math.isnan(rows[0]["p"]) and rows[0]["stars"] == ""
    with pytest.raises(ValueError):
        stats.compare_to_reference({"sw": _cell(1)}, "en")
    with pytest.raises(ValueError):
        stats.compare_to_reference({"en": {"a": [True], "b": [True, False]}, "sw": _cell(1)}, "en")


# --------------------------------------------------------------------------- compare_models


def test_compare_models_cells():
    a = {("medqa", "en"): _cell(180), ("medqa", "sw"): _cell(120, runs=3), ("nli", "zu"): _cell(50)}
    b = {("medqa", "en"): _shuffled(_cell(100)), ("medqa", "sw"): _cell(120, runs=3), ("mmlu", "ja"): _cell(9)}
    rows = stats.compare_models(a, b)
    assert [r["key"] for r in rows] == [("medqa", "en"), ("medqa", "sw"), ("nli", "zu"), ("mmlu", "ja")]
    en, sw, zu, ja = rows
    assert (en["dataset"], en["language"]) == ("medqa", "en")
    assert en["acc_a"] == pytest.approx(0.9) and en["acc_b"] == pytest.approx(0.5)
    assert en["diff"] == pytest.approx(0.4) and (en["n01"], en["n10"]) == (0, 80)
    assert en["p_adj"] < 1e-6 and en["stars"] == "***"
    assert sw["test"] == "wilcoxon-items" and sw["p"] == 1.0 and sw["stars"] == "ns"
    for missing in (zu, ja):
        assert missing["n_items"] == 0 and math.isnan(missing["p"]) and missing["stars"] == ""
        assert "only model" in missing["note"]
    # family = the two testable cells
    assert en["p_adj"] == pytest.approx(min(1.0, 2 * en["p"]))


# --------------------------------------------------------------------------- against references, many random cells
# Seeded random cells (a language against its reference on paired items whose difficulty both sides
# share); every test of compare_to_reference is checked against a reference computed on the same
# aligned items: scipy.stats.wilcoxon on the exact integer differences, scipy.stats.ttest_rel on
# the run accuracies, a binomial test from integer pmf sums, a brute-force sign-flip enumeration.


def _random_cell(rng, n, runs_x, runs_ref):
    base = rng.random(n)
    p_x = np.clip(base + rng.normal(0, 0.15) + rng.normal(0, 0.1, n), 0.02, 0.98)
    p_ref = np.clip(base + rng.normal(0, 0.1, n), 0.02, 0.98)
    x = {f"q{i}": [bool(v) for v in rng.random(runs_x) < p_x[i]] for i in range(n)}
    ref = {f"q{i}": [bool(v) for v in rng.random(runs_ref) < p_ref[i]] for i in range(n)}
    ids = sorted(ref)
    cx, cr = np.array([sum(x[i]) for i in ids]), np.array([sum(ref[i]) for i in ids])
    return x, ref, cx * runs_ref - cr * runs_x  # exact differences of the item means, times runs_x * runs_ref


def _binomial_two_sided(k, n):
    tail = sum(math.comb(n, i) for i in range(min(k, n - k) + 1))
    return min(1.0, 2 * tail / 2 ** n)


def _brute_force_signed_rank(d):
    """Two-sided p over every sign flip of the nonzero differences (scipy's permutation definition)."""
    nz = d[d != 0]
    ranks = sps.rankdata(np.abs(nz))
    flips = ((np.arange(2 ** nz.size)[:, None] >> np.arange(nz.size)) & 1).astype(bool)
    null = (flips * ranks).sum(axis=1)
    observed = ranks[nz > 0].sum()
    return min(1.0, 2 * min(np.mean(null <= observed + 1e-9), np.mean(null >= observed - 1e-9)))


@pytest.mark.parametrize(("runs_x", "runs_ref"), [(5, 5), (1, 5), (5, 1)])
def test_wilcoxon_matches_scipy_on_exact_differences_in_random_cells(runs_x, runs_ref):
    rng = np.random.default_rng(100 + runs_x * 10 + runs_ref)
    checked = ties = 0
    for _ in range(200):
        x, ref, d = _random_cell(rng, int(rng.integers(14, 301)), runs_x, runs_ref)
        (row,) = stats.compare_to_reference({"en": ref, "sw": x}, "en", n_boot=10)
        assert row["test"] == "wilcoxon-items"
        if not d.any():
            assert row["p"] == 1.0
            continue
        res = sps.wilcoxon(d, zero_method="wilcox", method="auto")
        assert row["p"] == pytest.approx(float(res.pvalue), rel=1e-12, abs=1e-15)
        assert row["wilcoxon_stat"] == pytest.approx(float(res.statistic), rel=1e-12)
        # accuracies and their difference are the exact fractions
        n = len(d)
        assert row["acc"] == pytest.approx(sum(map(sum, x.values())) / (n * runs_x), rel=1e-15)
        assert row["diff"] == pytest.approx(d.sum() / (n * runs_x * runs_ref), abs=1e-15)
        checked += 1
        ties += np.unique(np.abs(d[d != 0])).size < np.count_nonzero(d)
    assert checked >= 190 and ties == checked  # tied differences are the normal case with run counts


def test_wilcoxon_matches_scipy_permutation_test_in_small_cells():
    """<= 13 items with ties or zeros: scipy runs an exhaustive permutation test (slow: kept to <= 9
    items here); ours counts the same null distribution."""
    rng = np.random.default_rng(7)
    checked = 0
    while checked < 30:
        x, ref, d = _random_cell(rng, int(rng.integers(4, 10)), 5, 5)
        if not d.any():
            continue
        (row,) = stats.compare_to_reference({"en": ref, "sw": x}, "en", n_boot=10)
        res = sps.wilcoxon(d, zero_method="wilcox", method="auto")
        assert row["p"] == pytest.approx(float(res.pvalue), rel=1e-12)
        assert row["wilcoxon_stat"] == float(res.statistic)
        checked += 1


def test_wilcoxon_small_cells_match_brute_force_enumeration():
    rng = np.random.default_rng(8)
    checked = 0
    while checked < 100:
        runs = int(rng.choice([2, 3, 5]))
        x, ref, d = _random_cell(rng, int(rng.integers(2, 14)), runs, runs)
        if not d.any():
            continue
        (row,) = stats.compare_to_reference({"en": ref, "sw": x}, "en", n_boot=10)
        assert row["p"] == pytest.approx(_brute_force_signed_rank(d), rel=1e-12)
        checked += 1


def test_t_test_across_runs_matches_scipy_in_random_cells():
    rng = np.random.default_rng(9)
    for _ in range(200):
        x, ref, _ = _random_cell(rng, int(rng.integers(5, 301)), 5, 5)
        (row,) = stats.compare_to_reference({"en": ref, "sw": x}, "en", n_boot=10)
        ids = sorted(ref)
        acc_x = [np.mean([x[i][r] for i in ids]) for r in range(5)]
        acc_ref = [np.mean([ref[i][r] for i in ids]) for r in range(5)]
        t = sps.ttest_rel(acc_x, acc_ref)
        if len({a - b for a, b in zip(acc_x, acc_ref)}) > 1:
            assert row["t_runs"] == pytest.approx(float(t.statistic), rel=1e-9)
            assert row["p_runs"] == pytest.approx(float(t.pvalue), rel=1e-9)
        else:  # zero variance across runs: nan with a note, not scipy's inf / 0
            assert math.isnan(row["p_runs"]) and row["note"]


def test_mcnemar_matches_integer_binomial_in_random_cells():
    rng = np.random.default_rng(10)
    for _ in range(300):
        x, ref, d = _random_cell(rng, int(rng.integers(5, 301)), 1, 1)
        (row,) = stats.compare_to_reference({"en": ref, "sw": x}, "en", n_boot=10)
        n01, n10 = int(np.sum(d < 0)), int(np.sum(d > 0))  # language wrong / reference right, and the reverse
        assert (row["n01"], row["n10"]) == (n01, n10)
        assert row["p"] == pytest.approx(_binomial_two_sided(n10, n01 + n10), rel=1e-12)


def test_bootstrap_agrees_with_the_normal_approximation_in_large_random_cells():
    """For a few hundred items the bootstrap distribution of a mean difference is close to normal:
    the percentile CI is diff +- 1.96 SE and the p-value is 2 * sf(|diff| / SE), up to Monte-Carlo
    error (8000 resamples)."""
    rng = np.random.default_rng(11)
    for _ in range(12):
        x, ref, d = _random_cell(rng, int(rng.integers(300, 600)), 5, 5)
        diffs = d / 25
        se = diffs.std(ddof=0) / math.sqrt(diffs.size)  # the bootstrap's SE is the plug-in (ddof=0) one
        res = stats.paired_bootstrap(diffs, np.zeros_like(diffs), n_boot=8000, seed=1)
        assert res["diff"] == pytest.approx(diffs.mean(), abs=1e-15)
        assert res["ci_low"] == pytest.approx(diffs.mean() - 1.959964 * se, abs=0.12 * se)
        assert res["ci_high"] == pytest.approx(diffs.mean() + 1.959964 * se, abs=0.12 * se)
        p_normal = 2 * sps.norm.sf(abs(diffs.mean()) / se)
        assert res["p"] == pytest.approx(p_normal, abs=0.02 + 0.15 * p_normal)


def test_identical_runs_are_flagged():
    rng = np.random.default_rng(12)
    en = {f"q{i}": [bool(rng.random() < 0.8)] * 5 for i in range(60)}
    sw = {f"q{i}": [bool(rng.random() < 0.5)] * 5 for i in range(60)}
    (row,) = stats.compare_to_reference({"en": en, "sw": sw}, "en")
    assert row["runs_identical"] and "runs identical" in row["note"]
    d = np.array([sw[i][0] - en[i][0] for i in sorted(en)], dtype=int)
    assert row["p"] == pytest.approx(sps.wilcoxon(d).pvalue, rel=1e-12)  # a sign test on one run's answers
    sw["q0"] = [True, False, True, True, True]  # one item that varies: the runs carry information again
    (row,) = stats.compare_to_reference({"en": en, "sw": sw}, "en")
    assert not row["runs_identical"]
