"""Scoring from the store alone (no network): details per item and run, results per run, and
the results folder as a Hub-ready dataset (configs `results` and `details.<dataset>.<language>`)."""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .. import __version__, languages, registry
from ..backends.base import Response
from ..core.datafolder import config_name
from ..core.resultsfolder import RESULTS_CONFIG, ResultsFolder, details_config
from ..errors import GlobmedError
from ..runner import Store
from ..tasks import get_task
from .campaign import META_FIELDS
from .grading import score_choices, score_text
from .schema import DETAIL_COLUMNS, RESULTS, details_features, table


def translation_kind(item: dict[str, Any], dataset_language: str, language: str) -> str:
    """original / official (a human translation shipped with the release) / machine, as the built data says."""
    meta = item.get("meta") if isinstance(item.get("meta"), dict) else {}
    return meta.get("provenance") or ("original" if language == dataset_language else "machine")


def score(out: Path, judge_pending: bool = False) -> dict[str, Any]:
    """Re-score every evaluation in OUT from the store; write results/details parquet and the card.
    With a judge in the manifest (globmed.bench.judge), unparsed outputs get its stored reading;
    `judge_pending` returns the judge requests still to send instead of writing anything."""
    from .judge import Judging

    folder = ResultsFolder(out)
    manifest = folder.read_manifest()
    store = folder.open_store()
    judging = Judging(manifest["judge"], store) if manifest.get("judge") else None
    details: dict[str, list[dict[str, Any]]] = defaultdict(list)
    results: list[dict[str, Any]] = []
    try:
        for eid, ev in manifest["evaluations"].items():
            for cfg in ev["configs"]:
                items = folder.read_items(ev["data_revision"], config_name(cfg["dataset"], cfg["language"]), cfg["split"])
                rows = _score_config(store, eid, ev, cfg, items, judging)
                details[details_config(cfg["dataset"], cfg["language"])].extend(rows)
                results.extend(_per_run(ev, cfg, rows, judging is not None))
    finally:
        store.close()
    if judge_pending:
        return {"judge_pending": judging.pending if judging else {}}
    folder.write_config(RESULTS_CONFIG, table(results, RESULTS, RESULTS_CONFIG))
    for config, rows in details.items():  # each typed by its Features (globmed/bench/schema.py) whatever the values
        spec = registry.get(config.split(".")[1])
        folder.write_config(config, table(rows, details_features(spec.task, spec.labels), config))
    from .card import write_results_card

    write_results_card(folder, manifest, results, sorted(details))
    return {"results": len(results), "details": sum(len(r) for r in details.values())}


def _score_config(store: Store, eid: str, ev: dict[str, Any], cfg: dict[str, Any],
                  items: dict[str, dict[str, Any]], judging: Any = None) -> list[dict[str, Any]]:
    spec, lang = registry.get(cfg["dataset"]), languages.get(cfg["language"])
    task = get_task(spec.task)
    rows = []
    for item_id, run, key, ph in store.plan(eid, cfg["dataset"], cfg["language"]):
        item = items[item_id]
        raw, err = store.get(key), store.error(key)
        prompt = json.loads(store.prompt(ph) or "[]")
        row: dict[str, Any] = {"model": ev["name"], "run": run, "id": item_id, "prompt_hash": ph,
                               "prompt": prompt or None, "gold": task.gold(item),  # every message as sent
                               "translation": translation_kind(item, spec.language, cfg["language"])}
        problem = store.problem(key) if raw is None else None
        if raw is None:
            row.update(error=f"{problem}; rerun to request it again" if problem else err[0] if err else
                       "missing: no response in the store (rerun to complete)")
        else:
            try:  # one response that cannot be read or scored is an error of its own row, never a crash
                resp = Response.from_json(raw)
                scored = (score_choices(spec.task, resp.scores, item, lang, spec)
                          if resp.scores is not None and task.choices is not None
                          else score_text(spec.task, resp.text or "", item, lang, spec))
            except Exception as exc:  # noqa: BLE001
                row.update(error=f"the stored response cannot be scored ({type(exc).__name__}: {exc})")
            else:
                row.update(output=resp.text, reasoning=resp.reasoning, scores=resp.scores, pred=scored.pred,
                           correct=scored.correct, unparsed=scored.pred is None and spec.task != "lfqa",
                           finish_reason=resp.finish_reason, tokens_in=resp.tokens_in, tokens_out=resp.tokens_out,
                           latency=resp.latency, **(scored.metrics or {}))
                if judging is not None and row["unparsed"] and resp.scores is None:  # only what the rules left unread
                    options = list(item["options"]) if spec.task == "mcqa" else list(spec.labels)
                    row["pred_judge"] = judging.read(spec.task, item, options, resp.text or "")
        rows.append({**dict.fromkeys(DETAIL_COLUMNS), **row})  # a column without a type is refused, not dropped
    if spec.task == "lfqa" and ev.get("bertscore"):
        _add_bertscore(rows, ev["bertscore"], lang.code)
    return rows


def _add_bertscore(rows: list[dict[str, Any]], config: dict[str, Any], language: str) -> None:
    """BERTScore F1 for every answered long-form row, in one batch (optional dependency)."""
    from .extract import strip_reasoning
    from .metrics import bertscore

    answered = [r for r in rows if r["error"] is None]
    try:
        scores = bertscore([strip_reasoning(r["output"] or "") or "" for r in answered], [r["gold"] for r in answered],
                           config["model"], language, num_layers=config.get("layers"))
    except (ImportError, ValueError) as exc:
        raise GlobmedError(str(exc)) from None
    for r, value in zip(answered, scores):
        r["bertscore"] = value


# Finish reasons that mean "cut at the token budget" (OpenAI-style servers say length, Anthropic max_tokens).
TRUNCATED = ("length", "max_tokens")


def finish_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many answered requests ended for each reason (stop, length, loglik, ...), most frequent first."""
    counts: dict[str, int] = defaultdict(int)
    for r in rows:
        if r["error"] is None:
            counts[r["finish_reason"] or "unknown"] += 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))


def _per_run(ev: dict[str, Any], cfg: dict[str, Any], rows: list[dict[str, Any]],
             judged: bool = False) -> list[dict[str, Any]]:
    """One results row per run of a config: what was evaluated (the same in every run), what came of the
    run's requests, the judge's columns, the long-form metrics and the model's metadata."""
    spec = registry.get(cfg["dataset"])
    by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        by_run[r["run"]].append(r)
    return [{**_evaluated(ev, cfg, spec, run), **_outcomes(rs, spec, ev.get("price") or {}),
             **_judge_columns(rs, spec, judged), **_metric_means(rs), **_model_columns(ev)}
            for run, rs in sorted(by_run.items())]


def _evaluated(ev: dict[str, Any], cfg: dict[str, Any], spec: registry.DatasetSpec, run: int) -> dict[str, Any]:
    """The reproducibility record of one run: model, config, decoding, prompt template, data revision, times."""
    # per task since budgets differ by task; results written before that kept one "generation"
    generation = (ev.get("generations") or {}).get(spec.task) or ev.get("generation") or {}
    return {
        "model": ev["name"], "dataset": cfg["dataset"], "language": cfg["language"], "task": spec.task,
        "reference_language": spec.reference_language, "run": run, "mode": ev["mode"], "split": cfg["split"],
        "max_tokens": generation.get("max_tokens"),
        "globmed_version": ev.get("globmed_version", __version__), "backend": ev["backend"],
        "model_id": ev["model"], "model_revision": ev["identity"].get("revision"),
        "base_url": ev["identity"].get("base_url"),
        "prompt_template_hash": ev["template_hashes"].get(config_name(cfg["dataset"], cfg["language"])),
        "generation": json.dumps(generation, sort_keys=True, default=str),
        "temperature": ev["temperature"], "seed": ev["seed"] + run, "decoding": ev.get("decoding"), "data": ev["data"],
        "data_revision": ev["data_revision"], "started": ev.get("started"), "finished": ev.get("finished"),
    }


def _outcomes(rs: list[dict[str, Any]], spec: registry.DatasetSpec, price: dict[str, float]) -> dict[str, Any]:
    """What came of one run's requests: answered, correct, unparsed, errors, cut at the budget, tokens, cost."""
    answered = [r for r in rs if r["error"] is None]
    errors = sum(1 for r in rs if r["error"] is not None and not r["error"].startswith("missing"))
    missing = sum(1 for r in rs if r["error"] is not None and r["error"].startswith("missing"))
    correct = sum(1 for r in answered if r["correct"])
    unparsed = sum(1 for r in answered if r["unparsed"])
    truncated = sum(1 for r in answered if r["finish_reason"] in TRUNCATED)
    tok_in = sum(r["tokens_in"] or 0 for r in rs)
    tok_out = sum(r["tokens_out"] or 0 for r in rs)
    return {
        "translation": "/".join(sorted({r["translation"] for r in rs})),
        "n": len(rs), "answered": len(answered), "correct": correct,
        "accuracy": correct / len(answered) if answered and spec.task != "lfqa" else None,
        "unparsed": unparsed, "errors": errors, "missing": missing,
        "unparsed_rate": unparsed / len(answered) if answered else None,
        "error_rate": errors / len(rs) if rs else None,
        "truncated": truncated, "truncated_rate": truncated / len(answered) if answered else None,
        "finish_reasons": json.dumps(finish_counts(rs)), "tokens_in": tok_in, "tokens_out": tok_out,
        "cost_usd": (tok_in * price.get("input", 0) + tok_out * price.get("output", 0)) / 1e6 if price else None,
    }


def _judge_columns(rs: list[dict[str, Any]], spec: registry.DatasetSpec, judged: bool) -> dict[str, Any]:
    """The judge's columns, apart: never part of accuracy / unparsed (see globmed.bench.judge)."""
    answered = [r for r in rs if r["error"] is None]
    if not (judged and spec.task != "lfqa" and answered):
        return {"unparsed_judge": None, "accuracy_judge": None}
    correct = sum(1 for r in answered if r["correct"])
    rescued = sum(1 for r in answered if r["unparsed"] and r["pred_judge"] is not None and r["pred_judge"] == r["gold"])
    return {"unparsed_judge": sum(1 for r in answered if r["unparsed"] and r["pred_judge"] is None),
            "accuracy_judge": (correct + rescued) / len(answered)}


def _metric_means(rs: list[dict[str, Any]]) -> dict[str, float | None]:
    """Long-form QA: the mean of each overlap metric over the answered items."""
    answered = [r for r in rs if r["error"] is None]
    out: dict[str, float | None] = {}
    for metric in ("rouge1", "rougeL", "bleu1", "bertscore"):
        values = [r[metric] for r in answered if r[metric] is not None]
        out[metric] = sum(values) / len(values) if values else None
    return out


def _model_columns(ev: dict[str, Any]) -> dict[str, Any]:
    """The model's metadata (access, domain, size, ...) as typed columns, and all of it as JSON."""
    meta = ev.get("meta") or {}
    row: dict[str, Any] = {}
    for key in META_FIELDS:
        value = meta.get(key)
        row[key] = None if value is None else (str(value) if key not in ("params_b", "active_params_b") else float(value))
    row["meta"] = json.dumps(meta, sort_keys=True, default=str)
    return row


def print_scores(out: Path, console: Console) -> None:
    """Per-model, per-language accuracy (mean over runs, macro over MCQA/NLI datasets) with the unparsed
    share and the share cut at the token budget; long-form ROUGE-L; the finish reasons of generated answers."""
    rows = ResultsFolder(out).read_results()
    scored = [r for r in rows if r["accuracy"] is not None]
    models = list(dict.fromkeys(r["model"] for r in rows))
    langs = [c for c in languages.codes() if any(r["language"] == c for r in rows)]

    def accuracy(model: str, lang: str) -> str:
        rs = [r for r in scored if r["model"] == model and r["language"] == lang]
        if not rs:
            return "-"
        cell = f"{100 * _macro(rs, 'accuracy'):.1f} ({100 * _macro(rs, 'unparsed_rate'):.0f}%"
        generated = [r for r in rs if _generated(r)]
        return cell + (f", {100 * _macro(generated, 'truncated_rate'):.0f}% cut)" if generated else ")")

    console.print(_matrix("GlobMed-Bench: accuracy % (mean over runs and datasets); in brackets: unparsed %, and "
                          "for generated answers the % cut at the token budget", models, langs, accuracy))
    lf = [r for r in rows if r["task"] == "lfqa" and r["rougeL"] is not None]
    if lf:
        def rouge(model: str, lang: str) -> str:
            rs = [r for r in lf if r["model"] == model and r["language"] == lang]
            return f"{_macro(rs, 'rougeL'):.3f}" if rs else "-"

        console.print(_matrix("Long-form QA: ROUGE-L F1 (mean over runs and datasets)", models, langs, rouge))
    generated = [r for r in rows if _generated(r)]
    if generated:
        def reasons(model: str, lang: str) -> str:
            counts: dict[str, int] = defaultdict(int)
            for r in generated:
                if r["model"] == model and r["language"] == lang:
                    for reason, n in json.loads(r["finish_reasons"]).items():
                        counts[reason] += n
            return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1])) or "-"

        generating = [m for m in models if any(r["model"] == m for r in generated)]
        console.print(_matrix("Finish reasons of generated answers (requests, all runs and datasets)",
                              generating, langs, reasons))
        short = [r for r in generated if r["task"] != "lfqa"]  # answers asked for in a letter or a word
        cut = sum(r["truncated"] for r in short) / max(1, sum(r["answered"] for r in short))
        if cut > 0.5:
            console.print(f"[yellow]{100 * cut:.0f}% of the MCQA/NLI answers were cut at the token budget[/] "
                          "(finish reason length; the details keep each output). If the model reasons before "
                          "answering, give it room: --meta reasoning=true or --max-tokens.")


def _generated(row: dict[str, Any]) -> bool:
    """Whether a results row holds generated answers (not only log-likelihood scores)."""
    reasons = json.loads(row.get("finish_reasons") or "{}")
    return any(reason != "loglik" for reason in reasons)


def _matrix(title: str, models: list[str], langs: list[str], cell: Any) -> Table:
    """A model x language table; languages run down the rows when there are fewer models than
    languages, so that one or a few models fit an 80-column terminal without truncated numbers."""
    def lang_label(code: str) -> str:
        return f"[magenta]{code}[/]" if languages.get(code).low_resource else code

    table = Table(title=title)
    if len(models) < len(langs):
        table.add_column("language")
        for model in models:
            table.add_column(model, justify="right", overflow="fold")
        for lang in langs:
            table.add_row(lang_label(lang), *[cell(m, lang) for m in models])
    else:
        table.add_column("model", overflow="fold")
        for lang in langs:
            table.add_column(lang_label(lang), justify="right", no_wrap=True)
        for model in models:
            table.add_row(model, *[cell(model, lang) for lang in langs])
    return table


def _macro(rows: list[dict[str, Any]], key: str) -> float:
    """Mean over datasets of the mean over runs."""
    per_dataset: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        if r[key] is not None:
            per_dataset[r["dataset"]].append(r[key])
    means = [sum(v) / len(v) for v in per_dataset.values() if v]
    return sum(means) / len(means) if means else float("nan")
