"""MedMCQA: JSON lines (train.json, dev.json despite the name) or the Hub copy's parquet, with question,
opa..opd, cop (the correct option: counted from 1 in the original release, whose own loader takes
`cop - 1`, medmcqa/medmcqa dataset.py; from 0 in the Hub copy: params.cop_base) and exp (an explanation)."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..records import MCQARecord, make_id
from ..registry import DatasetSpec
from . import reader
from ._io import Fields, iter_rows, letter_for

OPTION_FIELDS = ("opa", "opb", "opc", "opd")


@reader("medmcqa")
def read(path: Path, spec: DatasetSpec, split: str, display: str) -> Iterator[MCQARecord]:
    base = int(spec.params.get("cop_base", 1))
    for where, obj in iter_rows(path, display):
        f = Fields(obj)
        options = [obj.get(k) for k in OPTION_FIELDS]
        for k, v in zip(OPTION_FIELDS, options):
            if v is None or not str(v).strip():
                f.issue("disorganization", "broken_options", k, f"option field '{k}' is missing or empty")
        options = [str(v) if v is not None else "" for v in options]
        cop, letter = f.get("cop"), None
        if cop is not None:
            letter = letter_for(cop - base, 4) if isinstance(cop, int) and not isinstance(cop, bool) else None
            if letter is None:
                f.issue("incompleteness", "answer_not_in_options", "cop",
                        f"cop={cop!r} is outside {base}..{base + 3}")
        yield MCQARecord(
            id=make_id(spec.name, split, obj.get("id")), dataset=spec.name, split=split, language=spec.language,
            question=f.text("question"), options=options, answer=letter, explanation=f.text("exp", required=False),
            meta={"subject": obj.get("subject_name"), "topic": obj.get("topic_name")},
            origin=where, issues=f.issues,
        )
