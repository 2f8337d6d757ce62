"""The dataset card (README.md) of a built GlobMed folder: YAML configs + a readable summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from huggingface_hub import DatasetCard, DatasetCardData

from .. import languages, registry
from ..core.datafolder import CARD, split_pattern

TASK_CATEGORIES = {"mcqa": "multiple-choice", "nli": "text-classification", "lfqa": "question-answering"}
TEMPLATE = """---
{{ card_data }}
---

# {{ pretty_name }}

{% if sample %}> **This is a small machine-written sample, not the GlobMed data.**
> {{ sample | replace("\n", "\n> ") }}

{% endif %}Medical NLI, multiple-choice and long-form QA in {{ n_languages }} languages, built with
[globmed](https://github.com/globmed/globmed) from the original public sources: read, screened
(incompleteness, irrelevance, disorganization) and translated. One config per dataset and
language, named `<dataset>.<language>`:

```python
from datasets import load_dataset
ds = load_dataset("<this repo>", "{{ example }}", split="test")
```

## Rows per config

{{ counts_table }}

{{ low_resource_note }}

## Sources and licences

| dataset | task | original language | licence | redistributable |
|---|---|---|---|---|
{% for row in licences %}| {{ row | join(" | ") }} |
{% endfor %}
{% for name, text in restrictions %}
**{{ name }}:** {{ text }}
{% endfor %}

## Splits and translations

The bench evaluates each dataset on the split named here. Languages are the dataset's original text,
an official translation (made by people and shipped with the dataset's own release) or a machine
translation.

| dataset | splits (rows in the original language) | split the bench evaluates | original | official (human) translations | machine translations |
|---|---|---|---|---|---|
{% for row in splits %}| {{ row | join(" | ") }} |
{% endfor %}
{% for note in split_notes %}
{{ note }}
{% endfor %}

## Screening

| dataset | read | kept | incompleteness | irrelevance | disorganization |
|---|---|---|---|---|---|
{% for row in screening %}| {{ row | join(" | ") }} |
{% endfor %}
Every removed item is listed with its rule, check, field and reason in `screening/report.json`.

## Fields

- MCQA: `id`, `question`, `options` (list, in order), `answer` (letter: "A" is the first option), `context`, `explanation`
- NLI: `id`, `premise`, `hypothesis`, `label` (English canonical label)
- Long-form QA: `id`, `question`, `answer` (reference answer)

`id` is the same in every language, so items can be paired across languages. `meta` is a JSON string.
"""


def write_card(folder: Path, pretty_name: str, configs: dict[str, dict[str, int]], built: dict[str, dict[str, Any]],
               langs: list[str], screening: dict[str, Any], sample: str | None) -> None:
    present = sorted({c.split(".", 1)[1] for c in configs}, key=lambda c: langs.index(c) if c in langs else 99)
    yaml_configs = [
        {"config_name": cfg, "data_files": [{"split": s, "path": split_pattern(cfg, s)} for s in splits]}
        for cfg, splits in configs.items()
    ]
    total = sum(n for splits in configs.values() for n in splits.values())
    tasks = sorted({TASK_CATEGORIES[b["task"]] for b in built.values()})
    licences = sorted({registry.get(d).licence for d in built})
    data = DatasetCardData(
        language=present, license=licences, task_categories=tasks, pretty_name=pretty_name,
        size_categories=[_size_category(total)], multilinguality="multilingual",
        tags=["medical", "multilingual", "globmed"] + (["sample"] if sample else []),
        configs=yaml_configs,
    )
    header = ["dataset"] + present
    rows = [[d] + [str(sum(configs.get(f"{d}.{lang}", {}).values()) or "-") for lang in present] for d in built]
    counts_table = "\n".join(["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
                             + ["| " + " | ".join(r) + " |" for r in rows])
    low = [c for c in present if c in languages.codes() and languages.get(c).low_resource]
    card = DatasetCard.from_template(
        data, template_str=TEMPLATE, pretty_name=pretty_name, sample=sample, n_languages=len(present),
        example=next(iter(configs), "medqa.en"), counts_table=counts_table,
        low_resource_note=f"Low-resource languages: {', '.join(low)}." if low else "",
        licences=[[d, b["task"], b["language"], b["licence"], "yes" if b["redistributable"] else "**no**"]
                  for d, b in built.items()],
        restrictions=[(d, b["restriction"]) for d, b in built.items() if b.get("restriction")],
        screening=[[d, s["read"], s["kept"], *s["by_rule"].values()] for d, s in screening["datasets"].items()],
        splits=[_split_row(d, b) for d, b in built.items()], split_notes=_split_notes(built),
    )
    (folder / CARD).write_text(str(card) + "\n", encoding="utf-8")


def _split_row(dataset: str, entry: dict[str, Any]) -> list[str]:
    original = entry["configs"].get(f"{dataset}.{entry['language']}", {})
    order = {split: i for i, split in enumerate(registry.SPLITS)}
    ordered = sorted(original.items(), key=lambda item: order.get(item[0], len(order)))
    splits = ", ".join(f"{split} ({n})" for split, n in ordered) or "-"
    kinds = entry.get("translations", {})
    by_kind = {k: ", ".join(sorted(lang for lang, kind in kinds.items() if kind == k)) or "-"
               for k in ("official", "machine")}
    return [dataset, splits, entry.get("eval_split", "test"), entry["language"], by_kind["official"],
            by_kind["machine"]]


def _split_notes(built: dict[str, dict[str, Any]]) -> list[str]:
    return [f"**{name}:** {registry.get(name).splits_note}" for name in built if registry.get(name).splits_note]


def _size_category(n: int) -> str:
    for limit, label in ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M")):
        if n < limit:
            return label
    return "1M<n<10M"
