"""Long-form medical QA (LiveQA, ExpertQA): a free answer scored against the reference answer
with ROUGE-1/ROUGE-L F1 and BLEU-1, tokenized to suit the script (characters for zh/ja)."""

from __future__ import annotations

from typing import Any, Mapping

from ...languages import Language
from ...registry import DatasetSpec
from . import Scored, Task, colon


def prompt(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    words, sep = lang.lfqa, colon(lang)
    return "\n\n".join([words["instruction"], f"{words['question']}{sep}{row['question']}", words["answer_cue"]])


def gold(row: Mapping[str, Any]) -> str:
    return row["answer"]


def target(row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> str:
    return row["answer"]


def score_text(text: str, row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> Scored:
    from ..extract import strip_reasoning
    from ..metrics import bleu1, rouge  # scipy/rouge_score: imported only when long-form answers are scored

    answer = strip_reasoning(text) or ""
    metrics = dict(rouge(answer, row["answer"], lang.code))
    metrics["bleu1"] = bleu1(answer, row["answer"], lang.code)
    return Scored(None, None, metrics)


TASK = Task("lfqa", prompt, None, gold, target, score_text, None, max_tokens=1024)  # a free answer
