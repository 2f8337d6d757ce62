"""Grading one response to one item: the answer read from it and whether it is right (MCQA, NLI), or
its overlap with the reference answer (long-form QA).

The prompts are globmed.tasks' (shared with training); reading the answer is the bench's: generated
text goes through the extraction rules (globmed.bench.extract), log-likelihood scores pick the best
continuation, long-form answers get ROUGE-1/ROUGE-L F1 and BLEU-1 tokenized to suit the script.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

from ..languages import Language
from ..registry import DatasetSpec
from ..tasks import get_task
from .extract import extract_answer, strip_reasoning


@dataclass(frozen=True)
class Scored:
    pred: str | None  # the extracted answer (a letter, a label) or None when unparsed
    correct: bool | None  # None for long-form QA (scored by metrics instead)
    metrics: Mapping[str, float] | None = None


def score_text(task: str, text: str, row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> Scored:
    """A generated answer: the letter or label the extraction rules read in it, or long-form metrics."""
    if task == "lfqa":
        from .metrics import bleu1, rouge  # scipy/rouge_score: imported only when long-form answers are scored

        answer = strip_reasoning(text) or ""
        metrics = dict(rouge(answer, row["answer"], lang.code))
        metrics["bleu1"] = bleu1(answer, row["answer"], lang.code)
        return Scored(None, None, metrics)
    names = list(row["options"]) if task == "mcqa" else list(spec.labels)
    pred = extract_answer(text, lang.code, task, names)
    return Scored(pred, pred == get_task(task).gold(row))


def score_choices(task: str, scores: list[float], row: Mapping[str, Any], lang: Language,
                  spec: DatasetSpec) -> Scored:
    """Log-likelihood scores, one per continuation of the task's `choices`: the best one's letter or label."""
    choices = get_task(task).choices
    if choices is None:
        raise ValueError(f"task {task} has no choices to score")
    names = list(choices(row, lang, spec)) if task == "mcqa" else list(spec.labels)
    pred = argmax_choice(scores, names)
    return Scored(pred, pred == get_task(task).gold(row))


def argmax_choice(scores: list[float], names: list[str]) -> str | None:
    """The best-scoring choice; None when no choice got a finite score (e.g. none in the top-k)."""
    best = max(range(len(scores)), key=lambda i: scores[i]) if scores else None
    if best is None or scores[best] == float("-inf"):
        return None
    return names[best]
