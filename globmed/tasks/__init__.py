"""The tasks: one small file per task type (MCQA, NLI, long-form QA), the contract between the bench
and training.

Each task turns a dataset row into chat messages written wholly in the target language (the words
come from the language table), names the continuations to score in log-likelihood mode, the gold
answer, and the answer a trained model should give. The bench sends these prompts and reads the
answers (globmed.bench.grading); training (globmed.train) fits the same prompts to the targets, so
train and test formats cannot drift apart.
"""

from __future__ import annotations

from . import lfqa, mcqa, nli
from .base import REASONING_TOKENS, Task, colon, template_hash

__all__ = ["REASONING_TOKENS", "Task", "colon", "get_task", "template_hash"]

TASKS = {task.name: task for task in (mcqa.TASK, nli.TASK, lfqa.TASK)}


def get_task(name: str) -> Task:
    return TASKS[name]
