"""Long-form medical QA (LiveQA, ExpertQA): a free answer in the target language (the bench scores it
against the reference answer with ROUGE and BLEU-1: globmed.bench.grading)."""

from __future__ import annotations

from typing import Any, Mapping

from ..languages import Language
from ..registry import DatasetSpec
from .base import Task, colon


def prompt(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    words, sep = lang.lfqa, colon(lang)
    return "\n\n".join([words["instruction"], f"{words['question']}{sep}{row['question']}", words["answer_cue"]])


def gold(row: Mapping[str, Any]) -> str:
    return row["answer"]


def target(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    return row["answer"]


TASK = Task("lfqa", prompt, None, gold, target, max_tokens=1024)  # a free answer
