"""PubMedQA (ori_pqal.json): one JSON object {pmid: {QUESTION, CONTEXTS, final_decision,
LONG_ANSWER, ...}}. Read as three-option MCQA (yes / no / maybe) over the abstract's context.

The 1,000 expert-labelled items are not all test: the official test set is the 500 PMIDs of
test_ground_truth.json beside ori_pqal.json (the file the release's evaluation.py scores against);
the other 500 are the release's cross-validation set. params: split_ids (that file's name), listed
(the split of the PMIDs it lists), others (the split of the rest)."""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Any, Iterator

from ..errors import SourceError
from ..records import MCQARecord, make_id
from ..registry import DatasetSpec
from . import reader
from ._io import Fields, letter_for, load_json

DECISIONS = ["yes", "no", "maybe"]


def _splits(path: Path, display: str, spec: DatasetSpec, doc: dict[str, Any]) -> dict[str, str] | None:
    """PMID -> split from the ids file beside the data file (None: no such param)."""
    name = spec.params.get("split_ids")
    if not name:
        return None
    ids_path, ids_display = path.with_name(name), PurePosixPath(display).with_name(name).as_posix()
    if not ids_path.is_file():
        raise SourceError(display, f"the official split is defined by {name}, which should lie beside this file "
                                   f"({ids_display}); it ships in the same folder of the release ({spec.homepage})")
    listed = load_json(ids_path, ids_display)
    if not isinstance(listed, (dict, list)):
        raise SourceError(ids_display, "expected a JSON object keyed by PMID (or a list of PMIDs)")
    unknown = [pmid for pmid in listed if str(pmid) not in doc]
    if unknown:
        raise SourceError(ids_display, f"{len(unknown)} PMID(s) are not in {path.name} (first: {unknown[0]}); "
                                       f"the two files are from different releases")
    chosen = {str(pmid) for pmid in listed}
    return {pmid: spec.params.get("listed", "test") if pmid in chosen else spec.params.get("others", "train")
            for pmid in doc}


@reader("pubmedqa")
def read(path: Path, spec: DatasetSpec, split: str, display: str) -> Iterator[MCQARecord]:
    doc = load_json(path, display)
    if not isinstance(doc, dict):
        raise SourceError(display, "expected a top-level object keyed by PMID")
    splits = _splits(path, display, spec, doc)
    for pmid, item in doc.items():
        split = splits[pmid] if splits else split
        where = f"{display}:$.{pmid}"
        if not isinstance(item, dict):
            raise SourceError(where, "expected an object")
        f = Fields(item)
        contexts = f.get("CONTEXTS")
        context = " ".join(c for c in contexts if isinstance(c, str)) if isinstance(contexts, list) else None
        if contexts is not None and not context:
            f.issue("incompleteness", "missing_field", "CONTEXTS", "field 'CONTEXTS' has no text")
        decision = f.text("final_decision")
        letter = None
        if decision is not None:
            letter = letter_for(DECISIONS.index(decision) if decision in DECISIONS else None, 3)
            if letter is None:
                f.issue("incompleteness", "answer_not_in_options", "final_decision",
                        f"final_decision {decision!r} is not one of {DECISIONS}")
        yield MCQARecord(
            id=make_id(spec.name, split, pmid), dataset=spec.name, split=split, language=spec.language,
            context=context or None, question=f.text("QUESTION"), options=list(DECISIONS), answer=letter,
            explanation=f.text("LONG_ANSWER", required=False), meta={"year": item.get("YEAR")},
            origin=where, issues=f.issues,
        )
