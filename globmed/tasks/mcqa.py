"""Multiple-choice QA: options lettered A-J; the answer is the letter by position."""

from __future__ import annotations

from typing import Any, Mapping

from ..languages import Language
from ..records import LETTERS
from ..registry import DatasetSpec
from .base import Task, colon


def prompt(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    words, sep = lang.mcqa, colon(lang)
    parts = [words["instruction"]]
    if row.get("context"):
        parts.append(row["context"])
    parts.append(f"{words['question']}{sep}{row['question']}")
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, row["options"]))
    parts.append(f"{words['options']}{sep}\n{options}")
    parts.append(f"{words['answer_format']}\n{words['answer_cue']}")
    return "\n\n".join(parts)


def choices(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> tuple[str, ...]:
    return tuple(LETTERS[: len(row["options"])])


def gold(row: Mapping[str, Any]) -> str:
    return row["answer"]


def target(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    letter = row["answer"]
    return f"{letter}. {row['options'][LETTERS.index(letter)]}"


TASK = Task("mcqa", prompt, choices, gold, target, max_tokens=32)  # a letter (+ option text)
