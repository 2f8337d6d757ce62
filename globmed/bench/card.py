"""The dataset card of a results folder: configs `results` and `details.<dataset>.<language>`."""

from __future__ import annotations

from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from ..core.resultsfolder import RESULTS_CONFIG, ResultsFolder, config_pattern

TEMPLATE = """---
{{ card_data }}
---

# GlobMed-Bench results

Produced by [globmed](https://github.com/globmed/globmed) {{ version }}: zero-shot, prompts wholly in
the target language, {{ runs }} run(s) per model x dataset x language.

```python
from datasets import load_dataset
results = load_dataset("<this repo>", "results", split="train")      # one row per model x dataset x language x run
details = load_dataset("<this repo>", "{{ example }}", split="train")  # one row per item and run
```

`results` rows carry the full reproducibility record: globmed version, backend, model id and
revision, prompt template hash, generation settings, seed, dataset and its revision, start/end
time, and the model's metadata (access, domain, reasoning, size). API errors are counted apart
(`errors`) and never as wrong answers; answers that could not be read are counted as wrong AND
reported (`unparsed`). `translation` (in `results` and in every details row) says what the items of
that language are: `original` (the dataset's own language), `official` (a human translation shipped
with the dataset's release, e.g. MedExpQA's English, French and Italian) or `machine`.

## Models

| model | backend | access | domain | reasoning | params (B) |
|---|---|---|---|---|---|
{% for m in models %}| {{ m | join(" | ") }} |
{% endfor %}
"""


def write_results_card(folder: ResultsFolder, manifest: dict[str, Any], results: list[dict[str, Any]],
                       details: list[str]) -> None:
    configs = [{"config_name": c, "data_files": [{"split": "train", "path": config_pattern(c)}]}
               for c in [RESULTS_CONFIG, *details]]
    langs = sorted({r["language"] for r in results})
    data = DatasetCardData(language=langs, pretty_name="GlobMed-Bench results", configs=configs,
                           tags=["globmed", "evaluation", "medical", "multilingual"])
    models = []
    for ev in manifest["evaluations"].values():
        meta = ev.get("meta") or {}
        models.append([ev["name"], ev["backend"], meta.get("access", "-"), meta.get("domain", "-"),
                       str(meta.get("reasoning", "-")), str(meta.get("params_b", "-"))])
    runs = sorted({ev["runs"] for ev in manifest["evaluations"].values()})
    card = DatasetCard.from_template(data, template_str=TEMPLATE, version=manifest.get("globmed_version"),
                                     runs="/".join(map(str, runs)), example=details[0] if details else "results",
                                     models=models)
    folder.card_path.write_text(str(card) + "\n", encoding="utf-8")
