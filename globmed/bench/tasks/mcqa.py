"""Multiple-choice QA: options lettered A-J; the answer is the letter by position."""

from __future__ import annotations

from typing import Any, Mapping

from ...languages import Language
from ...records import LETTERS
from ...registry import DatasetSpec
from ..extract import extract_answer
from . import Scored, Task, argmax_choice, colon


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


def score_text(text: str, row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> Scored:
    pred = extract_answer(text, lang.code, "mcqa", list(row["options"]))
    return Scored(pred, pred == row["answer"])


def score_choices(scores: list[float], row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> Scored:
    pred = argmax_choice(scores, list(choices(row, lang, spec)))
    return Scored(pred, pred == row["answer"])


TASK = Task("mcqa", prompt, choices, gold, target, score_text, score_choices, max_tokens=32)  # a letter (+ option text)
