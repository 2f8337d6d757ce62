"""Natural language inference: premise + hypothesis -> one of the dataset's labels, answered with
the label words of the target language."""

from __future__ import annotations

from typing import Any, Mapping

from ..languages import Language
from ..registry import DatasetSpec
from .base import Task, colon


def prompt(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    words, sep = lang.nli, colon(lang)
    labels = lang.extra.get("list_separator", ", ").join(lang.label_word(label) for label in spec.labels)
    return "\n\n".join([
        words["instruction"],
        f"{words['premise']}{sep}{row['premise']}\n{words['hypothesis']}{sep}{row['hypothesis']}",
        f"{words['answer_format'].replace('{labels}', labels)}\n{words['answer_cue']}",
    ])


def choices(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> tuple[str, ...]:
    return tuple(lang.label_word(label) for label in spec.labels)


def gold(row: Mapping[str, Any]) -> str:
    return row["label"]


def target(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    return lang.label_word(row["label"])


TASK = Task("nli", prompt, choices, gold, target, max_tokens=32)  # one label word
