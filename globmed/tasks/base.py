"""What every task is: the request it makes of a row, and the answer that is right."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any, Callable, Mapping

from ..languages import Language
from ..registry import DatasetSpec

# Added to a task's answer budget for models that reason before answering (a thinking chat template,
# a reasoning effort, `reasoning: true` in their metadata): room to think, then the answer.
REASONING_TOKENS = 4096


@dataclass(frozen=True)
class Task:
    name: str
    prompt: Callable[[Mapping[str, Any], Language, DatasetSpec], str]
    # log-likelihood mode: the continuations to score (option letters, label words); None: generate only
    choices: Callable[[Mapping[str, Any], Language, DatasetSpec], tuple[str, ...]] | None
    gold: Callable[[Mapping[str, Any]], str]
    target: Callable[[Mapping[str, Any], Language, DatasetSpec], str]  # the answer a trained model should give
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


def template_hash(lang: Language, task: str) -> str:
    """Identifies the prompt wording of a language and task (changes when the table's words change)."""
    words = {"system": lang.system, task: getattr(lang, task), "colon": colon(lang),
             "separator": lang.extra.get("list_separator", ", ")}
    return hashlib.sha256(json.dumps(words, ensure_ascii=False, sort_keys=True).encode()).hexdigest()[:16]
