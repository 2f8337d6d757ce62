"""GlobMed-Bench tasks: one small file per task type (MCQA, NLI, long-form QA).

Each task turns a dataset row into chat messages written wholly in the target language (the
words come from the language table), names the continuations to score in log-likelihood mode,
and scores a response. Training (globmed.train) uses the same prompts, so train and test
formats cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ...languages import Language
from ...registry import DatasetSpec

# Added to a task's answer budget for models that reason before answering (a thinking chat template,
# a reasoning effort, `reasoning: true` in their metadata): room to think, then the answer.
REASONING_TOKENS = 4096


@dataclass(frozen=True)
class Scored:
    pred: str | None  # the extracted answer (a letter, a label) or None when unparsed
    correct: bool | None  # None for long-form QA (scored by metrics instead)
    metrics: Mapping[str, float] | None = None


@dataclass(frozen=True)
class Task:
    name: str
    prompt: Callable[[Mapping[str, Any], Language, DatasetSpec], str]
    choices: Callable[[Mapping[str, Any], Language, DatasetSpec], tuple[str, ...]] | None
    gold: Callable[[Mapping[str, Any]], str]
    target: Callable[[Mapping[str, Any], Language, DatasetSpec], str]  # the answer a trained model should give
    score_text: Callable[[str, Mapping[str, Any], Language, DatasetSpec], Scored]
    score_choices: Callable[[list[float], Mapping[str, Any], Language, DatasetSpec], Scored] | None
    # New tokens for the answer of a model that answers at once: the prompt asks for the answer only,
    # so a model that keeps going (loops, explanations) is cut here and says so (finish reason "length").
    max_tokens: int

    def budget(self, reasoning: bool) -> int:
        """The default max new tokens: the answer's, plus room to think for a reasoning model."""
        return self.max_tokens + (REASONING_TOKENS if reasoning else 0)

    def messages(self, row: Mapping[str, Any], lang: Language, spec: DatasetSpec) -> tuple[dict[str, str], ...]:
        return ({"role": "system", "content": lang.system}, {"role": "user", "content": self.prompt(row, lang, spec)})


def colon(lang: Language) -> str:
    return lang.extra.get("colon", ": ")


def prompt_hash(messages: tuple[Mapping[str, str], ...]) -> str:
    text = json.dumps([dict(m) for m in messages], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def template_hash(lang: Language, task: str) -> str:
    """Identifies the prompt wording of a language and task (changes when the table's words change)."""
    words = {"system": lang.system, task: getattr(lang, task), "colon": colon(lang),
             "separator": lang.extra.get("list_separator", ", ")}
    return hashlib.sha256(json.dumps(words, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]


def get_task(name: str) -> Task:
    from . import lfqa, mcqa, nli

    return {"mcqa": mcqa.TASK, "nli": nli.TASK, "lfqa": lfqa.TASK}[name]


def argmax_choice(scores: list[float], names: list[str]) -> str | None:
    """The best-scoring choice; None when no choice got a finite score (e.g. none in the top-k)."""
    best = max(range(len(scores)), key=lambda i: scores[i]) if scores else None
    if best is None or scores[best] == float("-inf"):
        return None
    return names[best]
