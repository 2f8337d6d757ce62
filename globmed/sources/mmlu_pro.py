"""MMLU-Pro: jsonl or parquet rows with question, options (list, up to 10), answer (letter),
answer_index (0-based) and category. Only category "health" is relevant (see the registry).

Options written "N/A" are padding, not options: the authors' own loader drops them
(TIGER-AI-Lab/MMLU-Pro evaluate_from_local.py, preprocess), and so does this reader."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Iterator

from ..records import LETTERS, MCQARecord, make_id
from ..registry import DatasetSpec
from . import reader
from ._io import Fields, iter_rows, letter_for

PADDING = "N/A"


def _answer(f: Fields, obj: dict[str, Any], count: int) -> str | None:
    """The answer letter, from answer_index (0-based) and/or answer (letter), checked against each other."""
    index, given, letter = f.get("answer_index", required=False), obj.get("answer"), None
    if isinstance(index, int) and not isinstance(index, bool):
        letter = letter_for(index, count)
        if letter is None:
            f.issue("incompleteness", "answer_not_in_options", "answer_index",
                    f"answer_index={index} is outside 0..{count - 1}")
        elif given is not None and given != letter:
            f.issue("disorganization", "broken_options", "answer",
                    f"answer {given!r} disagrees with answer_index={index} ({letter})")
    elif given is not None:
        letter = given if given in LETTERS[:count] else None
        if letter is None:
            f.issue("incompleteness", "answer_not_in_options", "answer", f"answer {given!r} is not an option letter")
    else:
        f.issue("incompleteness", "missing_field", "answer", "neither 'answer' nor 'answer_index' is given")
    return letter


@reader("mmlu_pro")
def read(path: Path, spec: DatasetSpec, split: str, display: str) -> Iterator[MCQARecord]:
    for where, obj in iter_rows(path, display):
        f = Fields(obj)
        question = f.text("question")
        raw = f.get("options")
        options = list(raw) if isinstance(raw, (list, tuple)) else None
        if raw is not None and not options:
            f.issue("incompleteness", "missing_options", "options", "field 'options' is empty or not a list")
        letter = None
        if options:
            letter = _answer(f, obj, len(options))
            kept = [i for i, o in enumerate(options) if o != PADDING]
            if letter is not None and len(kept) < len(options):
                position = LETTERS.index(letter)
                if position in kept:
                    letter = LETTERS[kept.index(position)]
                else:
                    f.issue("incompleteness", "answer_not_in_options", "answer_index",
                            f"the answer ({letter}) is an '{PADDING}' padding option")
                    letter = None
            options = [str(options[i]) for i in kept] or None
        yield MCQARecord(
            id=make_id(spec.name, split, obj.get("question_id")), dataset=spec.name, split=split,
            language=spec.language, question=question, options=options, answer=letter,
            meta={"category": obj.get("category"), "src": obj.get("src")}, origin=where, issues=f.issues,
        )
