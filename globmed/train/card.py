"""The model card (from the template in templates/model_card.md) and the manifest globmed.json of a trained model.

The card states the base model, the data and its language mix, every hyperparameter, hardware and
training time, licence notes (the MedNLI restriction when MedNLI-derived data was used), the
intended use and a medical disclaimer. Given a `globmed bench run` results folder, its scores go
into a `model-index` block (per dataset and language), written with huggingface_hub's
ModelCard / ModelCardData / EvalResult so the Hub (and ModelCard.load) can parse them.

globmed.json lists the registry datasets the model was trained on: `globmed-push model` reads it,
and its licence guard refuses to publish a MedNLI-derived model.
"""

from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path
from typing import Any

from .. import languages, registry
from ..core import modelfolder
from ..core.modelfolder import CARD
from ..core.resultsfolder import ResultsFolder
from ..errors import GlobmedError
from ..io import write_text

BENCH_URL = "https://github.com/globmed/globmed"  # the project's homepage (pyproject)
TEMPLATE = Path(__file__).resolve().parent / "templates" / "model_card.md"  # package data: ships in the wheel
TASK_TYPES = {"mcqa": ("multiple-choice", "Multiple-choice medical QA"),
              "nli": ("text-classification", "Medical natural language inference"),
              "lfqa": ("question-answering", "Long-form medical QA")}
LICENCES = {"qwen/": ("apache-2.0", None, None),
            "google/medgemma": ("other", "health-ai-developer-foundations",
                                "https://developers.google.com/health-ai-developer-foundations/terms")}


def template_path(template: Path | None = None) -> Path:
    path = Path(template) if template is not None else TEMPLATE
    if not path.is_file():
        raise GlobmedError(f"{path}: model card template not found")
    return path


def write_manifest(folder: Path, report: dict[str, Any]) -> Path:
    restricted = registry.restricted(report["datasets"])
    manifest = {
        "globmed_version": report["globmed_version"], "created": report["created"],
        "base_model": report["base_model"], "data": report["data"], "distill_data": report["distill_data"],
        "datasets": report["datasets"], "languages": list(report["language_mix"]["languages"]),
        "language_mode": report["language_mode"], "restricted": [s.name for s in restricted],
        "redistributable": not restricted,
    }
    return modelfolder.write_manifest(folder, manifest)


# ------------------------------------------------------------------------------------- bench results
def eval_results(results: Path, model: str | None = None) -> tuple[list[Any], list[dict[str, Any]]]:
    """(EvalResult list for the model-index, table rows) from a `globmed bench run` folder: mean over
    runs per dataset x language; accuracy for MCQA/NLI, ROUGE-L F1 for long-form QA."""
    from huggingface_hub import EvalResult

    rows = ResultsFolder(results).read_results()
    names = list(dict.fromkeys(r["model"] for r in rows))
    if model is not None and model in names:
        chosen = model
    elif len(names) == 1:
        chosen = names[0]
    else:
        raise GlobmedError(f"{results}: holds results of several models ({', '.join(names)}); "
                           f"name this model's with --results-model")
    groups: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    for r in rows:
        if r["model"] == chosen:
            groups[(r["dataset"], r["language"])].append(r)
    order = {c: i for i, c in enumerate(languages.codes())}
    out, table = [], []
    for (dataset, lang), rs in sorted(groups.items(), key=lambda kv: (kv[0][0], order.get(kv[0][1], 99))):
        task = rs[0]["task"]
        key, metric, label = ("rougeL", "rouge", "ROUGE-L F1") if task == "lfqa" else ("accuracy", "accuracy", "Accuracy")
        values = [r[key] for r in rs if r[key] is not None]
        if not values:
            continue
        value = round(sum(values) / len(values), 4)
        task_type, task_name = TASK_TYPES[task]
        data = rs[0].get("data") or "globmed"
        out.append(EvalResult(
            task_type=task_type, task_name=task_name,
            dataset_type=data if "/" in data and not Path(data).exists() else "globmed",
            dataset_name=f"GlobMed-Bench {dataset} ({languages.get(lang).name})", dataset_config=f"{dataset}.{lang}",
            dataset_split=rs[0].get("split"), dataset_revision=rs[0].get("data_revision"),
            metric_type=metric, metric_value=value, metric_name=f"{label} (mean of {len(values)} run(s))",
            source_name="GlobMed-Bench", source_url=BENCH_URL))
        table.append({"dataset": dataset, "language": lang, "metric": label, "value": value, "runs": len(values)})
    return out, table


# ----------------------------------------------------------------------------------------------- card
def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    lines += ["| " + " | ".join("" if c is None else str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def licence_of(base_model: str) -> tuple[str, str | None, str | None]:
    for prefix, licence in LICENCES.items():
        if base_model.lower().startswith(prefix):
            return licence
    return ("other", "same-as-base-model", None)


def licence_notes(report: dict[str, Any]) -> str:
    notes = [f"The weights follow the licence of the base model ({report['base_model']})."]
    for name in report["datasets"]:
        spec = registry.get(name)
        notes.append(f"- {spec.title} (`{name}`): {spec.licence_name or spec.licence}")
    restricted = registry.restricted(report["datasets"])
    if restricted:
        names = ", ".join(s.title for s in restricted)
        why = " ".join(s.restriction or "" for s in restricted)
        notes.append(f"\n**Restricted training data: this model was trained on data derived from {names}.** {why} "
                     "A model trained on it must not be published; share it only privately with people entitled to "
                     "the data (`globmed-push model` refuses public pushes of such a model). Retrain without "
                     f"{', '.join(s.name for s in restricted)} to publish.")
    return "\n".join(notes)


def saved_dtype(folder: Path) -> str:
    """The dtype of the saved weights (DeepSpeed ZeRO-3 saves 16-bit ones; the others the master
    weights' float32); "-" for an adapter folder."""
    config = folder / "config.json"
    if not config.is_file():
        return "-"
    values = json.loads(config.read_text(encoding="utf-8"))
    return str(values.get("dtype") or values.get("torch_dtype") or "-")


def write_model_card(folder: Path, report: dict[str, Any] | None = None, results: Path | None = None,
                     template: Path | None = None, name: str | None = None, results_model: str | None = None) -> Path:
    """Write FOLDER/README.md from the template (report: FOLDER/train_report.json when not given)."""
    from huggingface_hub import ModelCard

    folder = Path(folder)
    report = report if report is not None else read_train_report(folder)
    name = name or report["settings"].get("model_name") or folder.name
    evals, result_rows = eval_results(results, results_model or name) if results else ([], [])
    card = ModelCard.from_template(card_data(report, name, evals), template_path=str(template_path(template)),
                                   **template_values(report, name, folder, result_rows))
    write_text(folder / CARD, str(card))
    return folder / CARD


def read_train_report(folder: Path) -> dict[str, Any]:
    """FOLDER/train_report.json, or the training output's when FOLDER is its merged/ model."""
    path = folder / "train_report.json"
    if not path.exists():
        path = folder.parent / "train_report.json"  # a merged model inside the training output
    if not path.exists():
        raise GlobmedError(f"{folder}: no train_report.json (is this a `globmed train sft` output?)")
    return json.loads(path.read_text(encoding="utf-8"))


def card_data(report: dict[str, Any], name: str, evals: list[Any]) -> Any:
    """The card's metadata block (huggingface_hub ModelCardData): base model, languages, licence, tags and
    the model-index of `evals`."""
    from huggingface_hub import ModelCardData

    hyper, base = report["hyperparameters"], report["base_model"]
    langs = [c for c in report["language_mix"]["languages"] if c in languages.codes()]
    licence, licence_name, licence_link = licence_of(base)
    tags = ["medical", "multilingual", "globmed", "trl", "sft"] + (["lora"] if hyper.get("peft") != "none" else [])
    if registry.restricted(report["datasets"]):
        tags.append("restricted-training-data")
    data = report.get("data") or ""
    return ModelCardData(
        model_name=name, base_model=None if base.startswith("tiny") else base, language=langs or None,
        license=licence, license_name=licence_name, license_link=licence_link,
        datasets=[data] if data and "/" in data and not Path(data).exists() else None,
        library_name="peft" if hyper.get("peft") != "none" else "transformers", pipeline_tag="text-generation",
        tags=tags, eval_results=evals or None, metrics=sorted({e.metric_type for e in evals}) or None,
    )


def template_values(report: dict[str, Any], name: str, folder: Path,
                    result_rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The values the card template fills in: the method, the data, the tables."""
    mix, hyper, training = report["language_mix"], report["hyperparameters"], report["training"]
    base, data = report["base_model"], report.get("data") or ""
    method = "LoRA" if hyper.get("peft") == "lora" else "QLoRA" if hyper.get("peft") == "qlora" else "full-parameter"
    if report.get("distill_data"):
        method += ", distillation-enhanced"
    return dict(
        model_name=name, base_model=base, method=method, n_languages=len(mix["languages"]),
        globmed_version=report["globmed_version"], sample="sample" in str(data).lower() or base.startswith("tiny"),
        data=data or "(distillation data only)", split=report.get("split"),
        distill_data=", ".join(f"`{p}`" for p in report.get("distill_data") or []),
        datasets_list=", ".join(f"{registry.get(d).title} (`{d}`)" for d in report["datasets"]) or "(none from the registry)",
        language_mode=report.get("language_mode"), conversations=training["conversations"],
        dropped=training["dropped_too_long"], max_length=hyper["max_length"],
        mix_table=_table(["language", "conversations", "share %"],
                         [[c, n, f"{100 * mix['share'][c]:.1f}"] for c, n in mix["languages"].items()]),
        dataset_table=_table(["dataset", *mix["languages"]],
                             [[d, *[counts.get(c, 0) for c in mix["languages"]]] for d, counts in mix["datasets"].items()]),
        hyper_table=_table(["hyperparameter", "value"], [[k, v] for k, v in hyper.items()]),
        hardware_table=_hardware_table(report, folder),
        results_table=_table(["dataset", "language", "metric", "value", "runs"],
                             [[r["dataset"], r["language"], r["metric"], r["value"], r["runs"]] for r in result_rows])
        if result_rows else "",
        licence_notes=licence_notes(report),
    )


def _hardware_table(report: dict[str, Any], folder: Path) -> str:
    """Where and how long it trained, the saved weights' dtype, the steps, tokens and final loss."""
    hw, training = report["hardware"], report["training"]
    seconds = training.get("seconds") or 0
    resumed = (f"; resumed at step {training['resumed_from_step']} (the time includes the attempts before)"
               if training.get("resumed_from_step") else "")
    return _table(["", ""], [
        ["hardware", hw.get("gpu") or f"CPU ({hw.get('cpu')}, {hw.get('cpu_count')} cores)"],
        ["processes", hw.get("num_processes")], ["parallelism", hw.get("parallelism", "-")],
        ["saved weights", saved_dtype(folder)],
        ["platform", hw.get("platform")], ["torch", hw.get("torch")],
        ["training time", f"{seconds / 3600:.2f} h ({seconds:.0f} s)" + resumed], ["optimizer steps", training.get("steps")],
        ["epochs", training.get("epochs")], ["tokens seen (non-padding)", training.get("num_input_tokens_seen")],
        ["final training loss", training.get("final_loss")], ["date", report.get("created")]])

