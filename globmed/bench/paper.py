"""The paper's protocol and headline figures (paper.yaml): the default datasets of `globmed bench run`
and the figures `globmed bench report OUT --paper` compares a reproduction with."""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from .. import languages, registry
from ..errors import GlobmedError
from ..yamlfile import read_yaml

PATH = Path(__file__).with_name("paper.yaml")


@dataclass(frozen=True)
class Paper:
    datasets: tuple[str, ...]  # the bench's datasets, in the paper's order
    runs: int
    headline: dict[str, float]  # paper model name -> overall accuracy (%)


@lru_cache(maxsize=1)
def paper() -> Paper:
    data, lines = read_yaml(PATH, "paper facts")
    protocol = data["protocol"]
    for name in protocol["datasets"]:
        if name not in registry.names():
            raise GlobmedError(f"{lines.at('protocol', 'datasets')}: unknown dataset {name!r}")
    return Paper(tuple(protocol["datasets"]), int(protocol["runs"]),
                 {str(k): float(v) for k, v in data["headline"].items()})


def bench_datasets(spec: str | None) -> list[str]:
    """`--datasets` of `globmed bench run`: "paper" (the default) is the paper's six NLI/MCQA benchmarks,
    "all" every registered dataset; names and the two words can be combined ("paper,pubmedqa")."""
    tokens = [t.strip() for t in (spec or "paper").split(",") if t.strip()] or ["paper"]
    out: list[str] = []
    for token in tokens:
        names = (list(paper().datasets) if token == "paper" else registry.names() if token == "all"
                 else registry.parse_datasets(token))
        out += [n for n in names if n not in out]
    return out


CAMPAIGN = Path(__file__).parents[1] / "campaigns" / "paper56.yaml"


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.rsplit("/", 1)[-1].lower())


@lru_cache(maxsize=1)
def _campaign_ids() -> dict[tuple[str, bool], str]:
    """(model id, thinking) -> the paper's name, from paper56.yaml (read raw: no ${...} to resolve)."""
    import yaml

    out = {}
    for entry in yaml.safe_load(CAMPAIGN.read_text(encoding="utf-8"))["models"]:
        kwargs = (entry.get("generation") or {}).get("chat_template_kwargs") or {}
        out[(entry["model"].lower(), bool(kwargs.get("enable_thinking")))] = entry["name"]
    return out


def paper_name(model: str, model_id: str | None = None, thinking: bool = False) -> str | None:
    """The paper's name for a results model, when the paper reports a figure for it: the same name up to
    case, punctuation and an org/ prefix ("Qwen/Qwen3-4B" -> "Qwen3-4B"; with thinking on, the paper's
    "-thinking" entry), or the name paper56.yaml gives the model id it ran."""
    keys = {_key(n): n for n in paper().headline}
    key = _key(model)
    name = keys.get(key + "thinking" if thinking and not key.endswith("thinking") else key)
    if name is None and model_id:
        name = _campaign_ids().get((model_id.lower(), thinking))
    return name if name in paper().headline else None


def compare_with_paper(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The results' models that the paper reports a headline figure for, beside that figure.

    ``accuracy``: overall accuracy (%) over the paper's datasets (NLI + MCQA) in every language the
    results have, as the mean over the dataset x language cells of each cell's mean over runs;
    ``paper``: the paper's figure; ``gap``: accuracy - paper (points); ``cells`` of ``of`` (the paper's
    datasets x the language tables): a figure from fewer cells than the paper's is not the same
    average (e.g. without MedNLI, which may not be redistributed)."""
    facts = paper()
    langs = set(languages.codes())
    cells: dict[str, dict[tuple[str, str], list[float]]] = defaultdict(lambda: defaultdict(list))
    names: dict[str, str | None] = {}
    for r in results:
        if r["accuracy"] is None or r["dataset"] not in facts.datasets or r["language"] not in langs:
            continue
        cells[r["model"]][(r["dataset"], r["language"])].append(float(r["accuracy"]))
        if r["model"] not in names:
            names[r["model"]] = paper_name(r["model"], r.get("model_id"), _thinking(r.get("generation")))
    rows = []
    for model, by_cell in cells.items():
        name = names[model]
        if name is None:
            continue
        accuracy = 100 * sum(sum(v) / len(v) for v in by_cell.values()) / len(by_cell)
        rows.append({"model": model, "paper_name": name, "accuracy": accuracy, "paper": facts.headline[name],
                     "gap": accuracy - facts.headline[name], "cells": len(by_cell),
                     "of": len(facts.datasets) * len(langs), "runs": max(len(v) for v in by_cell.values())})
    return sorted(rows, key=lambda r: -r["paper"])


def _thinking(generation: Any) -> bool:
    """Whether a results row's recorded generation settings switched thinking on (Qwen3-style)."""
    try:
        gen = json.loads(generation) if isinstance(generation, str) else generation or {}
    except ValueError:
        return False
    return bool(((gen or {}).get("chat_template_kwargs") or {}).get("enable_thinking"))
