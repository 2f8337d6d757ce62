"""ExpertQA: jsonl (data/r2_compiled_anon.jsonl, or the release's split files data/lfqa/rand_*.jsonl,
same fields) with question, answers {system: {answer_string, revised_answer_string, ...}} and
metadata {field, ...}. One file feeds ExpertQA-Bio and -Med: the registry's select rule on
metadata.field splits it.

The reference answer is the expert-revised answer, without its citation markers ("... approach [2] [3].")
whose evidence is not part of the item: the release's own long-form QA conversion removes them
(modeling/lfqa/convert_for_lfqa.py)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterator

from ..records import LFQARecord, make_id
from ..registry import DatasetSpec
from . import reader
from ._io import Fields, iter_jsonl

CITATION = re.compile(r"[ \t]*\[\d+\]")


def _reference(answers: object) -> str | None:
    """The expert-revised answer of the first system that has one, else its raw answer."""
    if not isinstance(answers, dict):
        return None
    for key in ("revised_answer_string", "answer_string"):
        for system in answers.values():
            text = system.get(key) if isinstance(system, dict) else None
            if isinstance(text, str) and text.strip():
                return CITATION.sub("", text).strip()
    return None


@reader("expertqa")
def read(path: Path, spec: DatasetSpec, split: str, display: str) -> Iterator[LFQARecord]:
    for line, obj in iter_jsonl(path, display):
        f = Fields(obj)
        question = f.text("question")
        answer = _reference(obj.get("answers"))
        if answer is None:
            f.issue("incompleteness", "missing_field", "answers",
                    "no system in 'answers' has a revised_answer_string or answer_string")
        metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
        yield LFQARecord(
            id=make_id(spec.name, split, texts={"question": question}), dataset=spec.name, split=split,
            language=spec.language, question=question, answer=answer, meta={"metadata": metadata},
            origin=f"{display}:{line}", issues=f.issues,
        )
