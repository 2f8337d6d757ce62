"""BioNLI: rows (csv, jsonl or parquet) with a premise (abstract sentences), a hypothesis (a conclusion,
original or perturbed) and a two-way label. Column names and the label map are registry params,
because BioNLI's releases name them differently; the release's CSV columns are supp_set, conclusion
and label_cat (StonyBrookNLP/BioNLI src/classifier.py), label_cat naming the perturbation."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

from ..records import NLIRecord, make_id
from ..registry import DatasetSpec
from . import reader
from ._io import Fields, iter_rows
from .mednli import check_label


@reader("bionli")
def read(path: Path, spec: DatasetSpec, split: str, display: str) -> Iterator[NLIRecord]:
    p = spec.params
    label_map = {str(k): v for k, v in p.get("label_map", {}).items()}
    for where, obj in iter_rows(path, display):
        f = Fields(obj)
        premise, hypothesis = f.text(p.get("premise", "premise")), f.text(p.get("hypothesis", "hypothesis"))
        raw = f.text(p.get("label", "label"))
        label = label_map.get(raw, raw) if raw is not None else None
        label = check_label(f, p.get("label", "label"), label, spec)
        meta = {"pmid": obj.get(p.get("id", "pmid")), "perturbation": obj.get("perturbation")}
        yield NLIRecord(
            id=make_id(spec.name, split, texts={"premise": premise, "hypothesis": hypothesis}), dataset=spec.name,
            split=split, language=spec.language, premise=premise, hypothesis=hypothesis, label=label,
            meta=meta, origin=where, issues=f.issues,
        )
