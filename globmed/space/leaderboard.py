"""The leaderboard over loaded results (globmed.space.data): filters, the table, model pairs for the radar
plots, per-model profiles, and the paired statistics (through globmed.bench, on first use).

Leaderboard numbers (all in %):
* a cell is one model x dataset x language; its accuracy in a run is `correct / answered` (API errors
  are not counted as wrong; they are reported as the error rate);
* a column (a language, a dataset, or Overall) averages the selected cells with equal weight in each
  run (macro average, as in the paper's tables); the value shown is the mean over runs +- the SD over runs;
* the 95% CI is a Wilson interval for the macro average, with the effective number of items from the
  cells' binomial variances (items are the sampling unit; runs of one item are not independent items).
"""

from __future__ import annotations

import math
import threading
from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Iterable

import pandas as pd

from .. import languages, registry
from .aggregate import aggregate, cell_text, fmt, pct
from .data import MODEL_FIELDS, Correctness, ResultsError, load, load_correctness

DISPLAYS = ("mean", "mean ± SD", "mean ± SD [95% CI]")
LOW_MARK = " ◆"  # appended to the header of a low-resource language
MAX_SEARCH = 100


def _access(value: Any) -> str:
    v = str(value or "").strip().lower().replace("_", "-")
    if v in ("open-weight", "open-weights", "open", "openweight", "open-source"):
        return "open-weight"
    if v in ("proprietary", "closed", "api", "closed-weight"):
        return "proprietary"
    return "unknown"


def _domain(value: Any) -> str:
    v = str(value or "").strip().lower()
    return v if v in ("general", "medical") else "unknown"


def _reasoning(value: Any) -> str:
    v = str(value if value is not None else "").strip().lower()
    if v in ("true", "yes", "1", "reasoning", "on"):
        return "reasoning"
    if v in ("false", "no", "0", "non-reasoning", "off"):
        return "non-reasoning"
    return "unknown"


def _float(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out if math.isfinite(out) and out > 0 else math.nan


@dataclass
class Filters:
    """What the leaderboard shows; None = no restriction. Unknown values are ignored."""

    languages: list[str] | None = None
    datasets: list[str] | None = None
    tasks: list[str] | None = None
    access: list[str] | None = None
    domain: list[str] | None = None
    reasoning: list[str] | None = None
    size_min: float | None = None
    size_max: float | None = None
    unknown_size: bool = True
    search: str = ""
    display: str = "mean ± SD"


class Results:
    """The leaderboard of one or more results datasets (loaded by globmed.space.data.load, merged).
    Sources that fail are reported in `warnings`."""

    def __init__(self, refs: Iterable[str]):
        loaded = load(refs)
        self.sources, self.warnings = loaded.sources, loaded.warnings
        self.frame = loaded.frame[loaded.frame["accuracy"].notna()].copy()
        self.frame["accuracy"] = self.frame["accuracy"].astype(float)
        self.models = self._model_table(loaded.frame)
        self._tests: dict[Any, list[dict[str, Any]]] = {}
        self._correctness: Correctness | None = None
        self._lock = threading.RLock()  # the statistics are computed once, whichever request asks first

    # -- what is there ---------------------------------------------------------------------------------
    @staticmethod
    def _model_table(rows: pd.DataFrame) -> pd.DataFrame:
        out = []
        for model, group in rows.groupby("model", sort=False):
            meta = {f: next((v for v in group[f] if v is not None and v == v), None) for f in MODEL_FIELDS}
            out.append({"model": model, "model_id": meta["model_id"], "access": _access(meta["access"]),
                        "domain": _domain(meta["domain"]), "reasoning": _reasoning(meta["reasoning"]),
                        "params_b": _float(meta["params_b"]), "base_model": meta["base_model"],
                        "family": meta["family"]})
        return pd.DataFrame(out, columns=["model", "model_id", "access", "domain", "reasoning", "params_b", "base_model",
                                          "family"])

    @property
    def model_names(self) -> list[str]:
        return list(self.models["model"])

    @property
    def languages(self) -> list[str]:
        present = set(self.frame["language"])
        known = [c for c in languages.codes() if c in present]
        return known + sorted(present - set(known))

    @property
    def datasets(self) -> list[str]:
        present = set(self.frame["dataset"])
        known = [d for d in registry.names() if d in present]
        return known + sorted(present - set(known))

    @property
    def tasks(self) -> list[str]:
        return sorted(set(self.frame["task"].dropna()))

    def choices(self, column: str) -> list[str]:
        order = {"access": ["open-weight", "proprietary", "unknown"], "domain": ["general", "medical", "unknown"],
                 "reasoning": ["non-reasoning", "reasoning", "unknown"]}[column]
        present = set(self.models[column])
        return [v for v in order if v in present]

    @property
    def max_size(self) -> float:
        sizes = self.models["params_b"].dropna()
        return float(sizes.max()) if len(sizes) else 0.0

    @staticmethod
    def low_resource(code: str) -> bool:
        return code in languages.codes() and languages.get(code).low_resource

    # -- the leaderboard -------------------------------------------------------------------------------
    def select_models(self, f: Filters) -> pd.DataFrame:
        m = self.models
        for column in ("access", "domain", "reasoning"):
            wanted = getattr(f, column)
            if wanted is not None:
                m = m[m[column].isin(wanted)]
        size = m["params_b"]
        keep = size.isna() if f.unknown_size else pd.Series(False, index=m.index)
        in_range = size.notna()
        if f.size_min is not None:
            in_range &= size >= float(f.size_min)
        if f.size_max is not None:
            in_range &= size <= float(f.size_max)
        m = m[keep | in_range]
        needle = (f.search or "")[:MAX_SEARCH].strip().lower()
        if needle:
            m = m[m["model"].str.lower().str.contains(needle, regex=False)]
        return m

    def select_rows(self, f: Filters, models: Iterable[str] | None = None) -> pd.DataFrame:
        rows = self.frame
        if f.languages is not None:
            rows = rows[rows["language"].isin(f.languages)]
        if f.datasets is not None:
            rows = rows[rows["dataset"].isin(f.datasets)]
        if f.tasks is not None:
            rows = rows[rows["task"].isin(f.tasks)]
        if models is not None:
            rows = rows[rows["model"].isin(list(models))]
        return rows

    def leaderboard(self, f: Filters | None = None) -> pd.DataFrame:
        """One row per model (best overall first); accuracy columns in % (see the module docstring)."""
        f = f or Filters()
        display = f.display if f.display in DISPLAYS else "mean ± SD"
        models = self.select_models(f)
        rows = self.select_rows(f, models["model"])
        langs = [c for c in self.languages if c in set(rows["language"])]
        dsets = [d for d in self.datasets if d in set(rows["dataset"])]
        header = ["Model", "Size (B)", "Overall", "SD", "95% CI"]
        lang_headers = [c + (LOW_MARK if self.low_resource(c) else "") for c in langs]
        header += lang_headers + dsets + ["Unparsed %", "Errors %", "Access", "Domain", "Reasoning", "Runs"]
        if rows.empty:
            return pd.DataFrame(columns=header)
        overall = aggregate(rows, [])
        by_lang = aggregate(rows, ["language"])
        by_dset = aggregate(rows, ["dataset"])
        counts = rows.groupby("model")[["unparsed", "answered", "errors", "n"]].sum()
        runs = rows.groupby("model")["run"].nunique()
        meta = models.set_index("model")
        table = []
        for model in rows["model"].unique():
            o = overall.loc[model]
            m = meta.loc[model]
            line: list[Any] = [model, None if m["params_b"] != m["params_b"] else round(float(m["params_b"]), 2),
                               pct(o["mean"]), pct(o["sd"]), f"[{fmt(o['lo'])}, {fmt(o['hi'])}]"]
            for key, agg in [(c, by_lang) for c in langs] + [(d, by_dset) for d in dsets]:
                line.append(cell_text(agg, (model, key), display))
            c = counts.loc[model]
            line += [pct(c["unparsed"] / c["answered"] if c["answered"] else math.nan),
                     pct(c["errors"] / c["n"] if c["n"] else math.nan), m["access"], m["domain"],
                     {"reasoning": "yes", "non-reasoning": "no"}.get(m["reasoning"], "?"), int(runs.loc[model])]
            table.append(line)
        out = pd.DataFrame(table, columns=header)
        return out.sort_values("Overall", ascending=False, na_position="last", kind="stable").reset_index(drop=True)

    # -- pairs for the radar charts --------------------------------------------------------------------
    def pairs(self) -> list[tuple[str, str, str]]:
        """(label, model A, model B): medical variants vs their general base, reasoning vs not."""
        m = self.models
        by_key: dict[str, dict[str, Any]] = {}
        for row in m.to_dict("records"):
            by_key.setdefault(row["model"], row)
            if row["model_id"]:
                by_key.setdefault(str(row["model_id"]), row)
        out: list[tuple[str, str, str]] = []
        seen: set[tuple[str, str]] = set()

        def add(a: dict[str, Any], b: dict[str, Any], kind: str) -> None:
            if a["model"] != b["model"] and (a["model"], b["model"]) not in seen:
                seen.add((a["model"], b["model"]))
                out.append((f"{a['model']} vs {b['model']} ({kind})", a["model"], b["model"]))

        rows = m.to_dict("records")
        for row in rows:
            base = by_key.get(str(row["base_model"])) if row["base_model"] else None
            if base and row["domain"] == "medical" and base["domain"] == "general":
                add(row, base, "medical vs general")
            if base and row["reasoning"] == "reasoning" and base["reasoning"] == "non-reasoning":
                add(row, base, "reasoning vs non-reasoning")
        families: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in rows:
            if row["family"]:
                families[str(row["family"])].append(row)
        for members in families.values():
            for a in members:
                for b in members:
                    if a["reasoning"] == "reasoning" and b["reasoning"] == "non-reasoning":
                        add(a, b, "reasoning vs non-reasoning")
        return out

    def profile(self, model: str, by: str, f: Filters | None = None) -> dict[str, float]:
        """Mean accuracy (%) of one model per language or per dataset (macro over the other axis)."""
        rows = self.select_rows(f or Filters(), [model])
        if rows.empty:
            return {}
        agg = aggregate(rows, [by])
        order = self.languages if by == "language" else self.datasets
        return {k: 100 * float(agg.loc[(model, k), "mean"]) for k in order if (model, k) in agg.index}

    def results_rows(self, models: Iterable[str]) -> list[dict[str, Any]]:
        """Rows in the shape globmed.bench.plots expects (model, dataset, language, accuracy)."""
        rows = self.frame[self.frame["model"].isin(list(models))]
        return rows[["model", "dataset", "language", "accuracy"]].to_dict("records")

    # -- statistics (details configs; imported and downloaded on first use) ---------------------------
    @property
    def correctness(self) -> Correctness:
        with self._lock:
            if self._correctness is None:
                self._correctness = load_correctness(self.sources, self.warnings)
            return self._correctness

    def reference_tests(self, method: str = "holm") -> list[dict[str, Any]]:
        """Each language vs the reference language, pooled over datasets, per model: the rows with
        dataset "all" of globmed.bench.report.reference_tests (what the heatmap shows), computed
        without its per-dataset tests (tiny cells take an exact permutation test each, which is slow)."""
        method = method if method in ("holm", "bh") else "holm"
        with self._lock:
            return self._reference_tests(method)

    def _reference_tests(self, method: str) -> list[dict[str, Any]]:
        if method not in self._tests:
            from ..bench.report import pooled_reference_tests

            self._tests[method] = [row for model, cells in self.correctness.items()
                                   for row in pooled_reference_tests(model, cells, method, order=self.languages)]
        return self._tests[method]

    def compare(self, model_a: str, model_b: str, method: str = "holm") -> list[dict[str, Any]]:
        """Paired tests per dataset x language (globmed.bench.stats.compare_models), corrected p-values.
        The tests run once per pair; another correction method only re-adjusts their p-values."""
        from ..bench.stats import adjust, stars

        method = method if method in ("holm", "bh") else "holm"
        key = ("compare", model_a, model_b)
        with self._lock:
            if key not in self._tests:
                self._tests[key] = self._compare(model_a, model_b)
            rows = [dict(r) for r in self._tests[key]]
        for row, p_adj in zip(rows, adjust([r["p"] for r in rows], method)):
            row["p_adj"], row["stars"] = p_adj, stars(p_adj)
        return rows

    def _compare(self, model_a: str, model_b: str) -> list[dict[str, Any]]:
        from ..bench.stats import compare_models

        corr = self.correctness
        if model_a not in corr or model_b not in corr or model_a == model_b:
            raise ResultsError("pick two different models that have per-item details")
        order = {(d, l): (i, j) for i, d in enumerate(self.datasets) for j, l in enumerate(self.languages)}
        a = dict(sorted(corr[model_a].items(), key=lambda kv: order.get(kv[0], (999, 999))))
        return compare_models(a, corr[model_b], method="holm")
