"""`globmed bench report` / `compare`: tables, statistics against the reference language, plots.

Everything is computed from the results folder (re-scored from the store with --rescore), with no
network. Figures (PNG) and a Markdown report go to OUT/report/.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
from rich.console import Console
from rich.table import Table

from .. import languages, registry
from ..core.resultsfolder import ResultsFolder
from ..errors import GlobmedError
from ..io import write_text
from .metrics import accuracy_summary
from .scoring import print_scores, score
from .stats import compare_models, compare_to_reference

Correctness = dict[str, dict[tuple[str, str], dict[str, list[bool | None]]]]  # model -> (dataset, lang) -> id -> runs


def load_correctness(out: Path) -> Correctness:
    """Per model, dataset and language: item id -> correctness per run (None for an API error)."""
    table: Correctness = defaultdict(lambda: defaultdict(dict))
    for dataset, language, files in ResultsFolder(out).details():
        if registry.get(dataset).task == "lfqa":
            continue
        for file in files:
            for r in pq.read_table(file, columns=["model", "run", "id", "correct", "error"]).to_pylist():
                runs = table[r["model"]][(dataset, language)].setdefault(r["id"], [])
                while len(runs) <= r["run"]:
                    runs.append(None)
                runs[r["run"]] = None if r["error"] is not None else bool(r["correct"])
    return table


def reference_tests(correct: Correctness, method: str = "holm") -> list[dict[str, Any]]:
    """Each language against its dataset's reference language, per model and dataset, plus pooled
    over the datasets that share a reference language (dataset "all", one panel per reference
    language, as the paper's Fig. 4): items pair across languages by id."""
    rows = []
    for model, cells in correct.items():
        for dataset in sorted({d for d, _ in cells}):
            ref = registry.get(dataset).reference_language
            items = {lang: ids for (d, lang), ids in cells.items() if d == dataset}
            if ref not in items:
                continue
            for row in compare_to_reference(items, reference=ref, method=method):
                rows.append({"model": model, "dataset": dataset, **row})
        rows += pooled_reference_tests(model, cells, method)
    return rows


def pooled_reference_tests(model: str, cells: dict[tuple[str, str], dict[str, list[bool | None]]],
                           method: str = "holm", order: list[str] | None = None) -> list[dict[str, Any]]:
    """One model's languages against the reference language, pooled over the datasets that share it: the
    paper's Fig. 4 has one panel for the English-reference datasets and one for the Spanish-reference ones
    (HeadQA, and MedExpQA where its reference is Spanish), so English appears as a language compared with
    Spanish originals, never pooled with its own reference cells. An item is (dataset, id) and pairs with
    the same item in its dataset's reference language. Rows: dataset "all", ``reference`` (the panel),
    ``datasets`` (those pooled); the correction family is one panel of one model. `order` sorts languages."""
    panels: dict[str, dict[str, dict[str, list[bool | None]]]] = defaultdict(lambda: defaultdict(dict))
    pooled_datasets: dict[str, set[str]] = defaultdict(set)
    for (dataset, lang), ids in cells.items():
        ref = registry.get(dataset).reference_language
        ref_ids = cells.get((dataset, ref))
        if lang == ref or ref_ids is None:
            continue
        pooled = panels[ref]
        for item_id, runs in ids.items():
            if item_id in ref_ids:
                pooled[lang][f"{dataset}/{item_id}"] = runs
                pooled[ref][f"{dataset}/{item_id}"] = ref_ids[item_id]
                pooled_datasets[ref].add(dataset)
    rank = {c: i for i, c in enumerate(order or languages.codes())}
    rows = []
    for ref in sorted(panels, key=lambda c: rank.get(c, len(rank))):
        pooled = dict(sorted(panels[ref].items(), key=lambda kv: rank.get(kv[0], len(rank))))
        if len(pooled) <= 1:
            continue
        datasets = ",".join(sorted(pooled_datasets[ref]))
        rows += [{"model": model, "dataset": "all", "datasets": datasets, **row}
                 for row in compare_to_reference(pooled, reference=ref, method=method)]
    return rows


def report(out: Path, rescore: bool = False, method: str = "holm", console: Console | None = None,
           paper: bool = False, judge: Any = None) -> Path:
    """Tables, tests and figures into OUT/report; with `paper`, each model the paper reports beside its
    headline figure (OUT/report/paper.json); with `judge` (a JudgeSpec), the judge is first asked about the
    unparsed outputs it has not seen."""
    console = console or Console()
    out = Path(out)
    if judge is not None:  # a JudgeSpec: asks about the unparsed outputs it has not seen, then re-scores
        from .evaluate import judge_unparsed

        judge_unparsed(out, judge, console, progress=False)
    elif rescore:
        score(out)
    results = ResultsFolder(out).read_results()
    print_scores(out, console)
    judged = judge_rows(results)
    if judged:
        console.print(_judge_table(judged))
    correct = load_correctness(out)
    cells = summary_cells(correct)
    if len(cells) <= 40:  # the full table goes to report.md; the console gets it only when short
        console.print(_cells_table(cells))
    tests = reference_tests(correct, method)
    for ref, rows in _panels(tests).items():
        console.print(_tests_table(rows, f"Each language vs {_language_name(ref)}, pooled over the "
                                         f"{ref}-reference datasets ({rows[0]['datasets']})"))
    runs = runs_notes(results, tests)
    for line in runs:
        console.print(f"[yellow]{line}[/]")
    folder = ResultsFolder(out).report_dir
    folder.mkdir(exist_ok=True)
    write_text(folder / "cells.json", json.dumps(cells, indent=1, default=str))
    write_text(folder / "tests.json", json.dumps(tests, indent=1, default=str))
    against = None
    if paper:
        from .paper import compare_with_paper

        against = compare_with_paper(results)
        console.print(_paper_table(against))
        write_text(folder / "paper.json", json.dumps(against, indent=1))
    if judged:
        write_text(folder / "judge.json", json.dumps(judged, indent=1, default=str))
    from .plots import plot_all

    figures = plot_all(results, tests, folder)
    write_text(folder / "report.md", _markdown(cells, tests, figures, runs, against))
    console.print(f"report: {folder / 'report.md'} ({len(figures)} figures)")
    return folder


def _panels(tests: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The pooled rows (dataset "all") per reference language, in table order."""
    panels: dict[str, list[dict[str, Any]]] = {}
    for t in tests:
        if t["dataset"] == "all":
            panels.setdefault(t["reference"], []).append(t)
    return panels


def _language_name(code: str) -> str:
    return languages.get(code).name if code in languages.codes() else code


def runs_notes(results: list[dict[str, Any]], tests: list[dict[str, Any]]) -> list[str]:
    """A line per model whose runs came out identical on every item, saying what the report shows
    instead, and per model with a single run; nothing when the runs vary (independent samples)."""
    lines = []
    for model in dict.fromkeys(r["model"] for r in results):
        rows = [r for r in results if r["model"] == model]
        runs = 1 + max(r["run"] for r in rows)
        decoding = next((r.get("decoding") for r in rows if r.get("decoding")), None)
        how = f" (decoding: {decoding})" if decoding else ""
        cells = [t for t in tests if t["model"] == model and t["dataset"] != "all" and t["n_items"]]
        if runs == 1:
            lines.append(f"{model}: one run{how}: no SD across runs; the tests are exact McNemar tests on items.")
        elif cells and all(t["runs_identical"] for t in cells):
            lines.append(f"{model}: the {runs} runs are identical on every item{how}, so they are one sample: "
                         "the SD across runs is 0 and the t-test across runs undefined; shown instead are the "
                         "tests over items (Wilcoxon on one run's answers, a sign test) and the item bootstrap CIs.")
    return lines


def _paper_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Against the paper: overall accuracy % (NLI + MCQA, mean over dataset x language cells)")
    for col in ("model", "paper name", "ours", "paper", "gap", "cells"):
        table.add_column(col, justify="left" if col in ("model", "paper name") else "right")
    for r in rows:
        table.add_row(r["model"], r["paper_name"], f"{r['accuracy']:.2f}", f"{r['paper']:.2f}", f"{r['gap']:+.2f}",
                      f"{r['cells']}/{r['of']}")
    if not rows:
        table.caption = "none of these models has a headline figure in the paper (names as in paper56.yaml)"
    return table


def judge_rows(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per model x language (pooled over datasets and runs): unparsed before and after the judge, and
    the rules' accuracy beside the judge-assisted one (its own column: never mixed in)."""
    cells: dict[tuple[str, str], dict[str, float]] = defaultdict(lambda: defaultdict(float))
    for r in results:
        if r.get("unparsed_judge") is None:
            continue
        c = cells[(r["model"], r["language"])]
        c["answered"] += r["answered"]
        c["unparsed"] += r["unparsed"]
        c["unparsed_judge"] += r["unparsed_judge"]
        c["correct"] += r["correct"]
        c["correct_judge"] += r["accuracy_judge"] * r["answered"]
    return [{"model": m, "language": lang, "answered": int(c["answered"]),
             "unparsed_before": c["unparsed"] / c["answered"], "unparsed_after": c["unparsed_judge"] / c["answered"],
             "accuracy": c["correct"] / c["answered"], "accuracy_judge": c["correct_judge"] / c["answered"]}
            for (m, lang), c in sorted(cells.items()) if c["answered"]]


def _judge_table(rows: list[dict[str, Any]]) -> Table:
    table = Table(title="Judge on unparsed outputs: unparsed % before -> after; accuracy % (rules) and "
                        "judge-assisted (not used elsewhere)")
    for col in ("model", "language", "n", "unparsed before", "after", "accuracy", "judge-assisted"):
        table.add_column(col, justify="left" if col in ("model", "language") else "right")
    for r in rows:
        table.add_row(r["model"], r["language"], str(r["answered"]), _pct(r["unparsed_before"]),
                      _pct(r["unparsed_after"]), _pct(r["accuracy"]), _pct(r["accuracy_judge"]))
    return table


def summary_cells(correct: Correctness) -> list[dict[str, Any]]:
    """Mean, SD and 95% CI per model x dataset x language."""
    cells = []
    for model, by_cell in correct.items():
        for (dataset, lang), ids in sorted(by_cell.items()):
            runs = max((len(r) for r in ids.values()), default=0)
            per_run = [[ids[i][r] if r < len(ids[i]) else None for i in sorted(ids)] for r in range(runs)]
            s = accuracy_summary(per_run)
            cells.append({"model": model, "dataset": dataset, "language": lang, **{k: s[k] for k in (
                "runs", "n_items", "mean", "sd", "ci_low", "ci_high", "method")}})
    return cells


def _cells_table(cells: list[dict[str, Any]]) -> Table:
    table = Table(title="Accuracy per model x dataset x language: mean +- SD over runs [95% CI]")
    for col in ("model", "dataset", "language", "accuracy"):
        table.add_column(col)
    for c in cells:
        low = languages.get(c["language"]).low_resource if c["language"] in languages.codes() else False
        table.add_row(c["model"], c["dataset"], f"[magenta]{c['language']}[/]" if low else c["language"],
                      f"{100 * c['mean']:.1f} +- {100 * c['sd']:.1f} [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}]")
    return table


def _tests_table(rows: list[dict[str, Any]], title: str) -> Table:
    table = Table(title=title + f" ({rows[0]['test'] if rows else 'paired'} test, corrected)")
    for col in ("model", "language", "n", "acc", "ref acc", "diff", "p adj", ""):
        table.add_column(col, justify="left" if col in ("model", "language") else "right")
    for r in rows:
        table.add_row(r["model"], r["language"], str(r["n_items"]), _pct(r["acc"]), _pct(r["ref_acc"]),
                      _pct(r["diff"]), f"{r['p_adj']:.2g}" if r["p_adj"] == r["p_adj"] else "-", r["stars"])
    return table


def _pct(x: Any) -> str:
    return "-" if x is None or x != x else f"{100 * x:.1f}"


def _markdown(cells: list[dict[str, Any]], tests: list[dict[str, Any]], figures: list[Path], runs: list[str],
              against: list[dict[str, Any]] | None) -> str:
    lines = ["# GlobMed-Bench report", ""]
    if runs:
        lines += ["## Runs", ""] + [f"- {line}" for line in runs] + [""]
    if against is not None:
        lines += ["## Against the paper (overall accuracy %, NLI + MCQA, mean over dataset x language cells)", "",
                  "| model | paper name | ours | paper | gap | cells |", "|---|---|---|---|---|---|"]
        lines += [f"| {r['model']} | {r['paper_name']} | {r['accuracy']:.2f} | {r['paper']:.2f} | {r['gap']:+.2f} | "
                  f"{r['cells']}/{r['of']} |" for r in against] + [""]
    lines += ["## Accuracy (mean +- SD over runs, 95% CI)", "",
             "| model | dataset | language | accuracy | CI |", "|---|---|---|---|---|"]
    for c in cells:
        lines.append(f"| {c['model']} | {c['dataset']} | {c['language']} | {100 * c['mean']:.1f} +- {100 * c['sd']:.1f} "
                     f"| [{100 * c['ci_low']:.1f}, {100 * c['ci_high']:.1f}] |")
    lines += ["", "## Against the reference language (paired tests, corrected p)", "",
              "Rows with dataset `all` pool the datasets that share a reference language (one panel each).", "",
              "| model | dataset | language | reference | n | acc | ref | diff | p adj | |",
              "|---|---|---|---|---|---|---|---|---|---|"]
    for t in tests:
        lines.append(f"| {t['model']} | {t['dataset']} | {t['language']} | {t['reference']} | {t['n_items']} | {_pct(t['acc'])} | "
                     f"{_pct(t['ref_acc'])} | {_pct(t['diff'])} | {t['p_adj']:.2g} | {t['stars']} |")
    lines += ["", "## Figures", ""] + [f"![{f.stem}]({f.name})" for f in figures]
    return "\n".join(lines) + "\n"


def compare(out_a: Path, out_b: Path, model_a: str | None = None, model_b: str | None = None,
            method: str = "holm", console: Console | None = None) -> list[dict[str, Any]]:
    """Paired model-vs-model tests per dataset x language (aligned items), corrected p-values."""
    console = console or Console()
    ca, cb = load_correctness(out_a), load_correctness(out_b)
    ma, mb = _pick(ca, model_a, out_a), _pick(cb, model_b, out_b)
    if out_a == out_b and ma == mb:
        raise GlobmedError("pick two different models (--model-a/--model-b) when comparing within one folder")
    rows = compare_models(dict(ca[ma]), dict(cb[mb]), method=method)
    table = Table(title=f"{ma} vs {mb}: paired tests per dataset x language ({method}-corrected)")
    for col in ("dataset", "language", "n", f"acc {ma}", f"acc {mb}", "diff", "p adj", ""):
        table.add_column(col)
    for r in rows:
        table.add_row(str(r.get("dataset")), str(r.get("language")), str(r["n_items"]), _pct(r["acc_a"]),
                      _pct(r["acc_b"]), _pct(r["diff"]), f"{r['p_adj']:.2g}" if r["p_adj"] == r["p_adj"] else "-",
                      r["stars"])
    console.print(table)
    return rows


def _pick(correct: Correctness, name: str | None, out: Path) -> str:
    models = list(correct)
    if name:
        if name not in correct:
            raise GlobmedError(f"{out}: no model {name!r} (has {', '.join(models)})")
        return name
    if len(models) != 1:
        raise GlobmedError(f"{out} holds {len(models)} models ({', '.join(models)}); choose one with --model-a/--model-b")
    return models[0]
