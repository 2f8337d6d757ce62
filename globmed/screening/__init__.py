"""Screening: the paper's three rules, as named checks with a per-rule report.

Rules (each removal names one of them, the check, the source field and a reason):
  incompleteness   the item lacks something needed to answer or score it: the question, the
                   options, the answer key, the premise or hypothesis, the reference answer; an
                   answer key that is not among the options; an item that needs an image.
  irrelevance      the item is outside medicine: the registry's relevance rule for the dataset
                   (e.g. MMLU-Pro rows whose category is not "health") does not hold.
  disorganization  the item's structure or text is broken: a duplicate of an earlier item (or a
                   reused id), a broken option structure (empty, repeated or gapped options, more
                   options than the dataset has), malformed text (encoding damage, control characters).
No item is dropped silently: everything removed is listed with rule, check, field and reason.
The phrases by which a question presents a picture are data (images.yaml, per source language);
`python benchmarks/image_screening.py` measures them on real labelled MedQA/MedMCQA items.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import asdict, dataclass
from typing import Any, Callable, Iterable, Iterator

from ..records import Issue, MCQARecord, NLIRecord, Record, content_key, normalize_text
from ..registry import DatasetSpec, matches
from ..sources._io import dig
from . import images

RULES = {
    "incompleteness": "missing question/options/answer/premise/hypothesis/reference answer, answer not among "
                      "the options, or the item needs an image",
    "irrelevance": "outside medicine (the dataset's relevance rule in the registry)",
    "disorganization": "duplicate item or id, broken option structure, or malformed text",
}
RULE_ORDER = {rule: i for i, rule in enumerate(RULES)}

REQUIRED = {"mcqa": ("question", "options", "answer"), "nli": ("premise", "hypothesis", "label"),
            "lfqa": ("question", "answer")}
MOJIBAKE = re.compile(r"Ã[\u0080-\u00bf]|â€|\ufffd")
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


@dataclass(frozen=True)
class Removal:
    id: str
    dataset: str
    split: str
    origin: str
    rule: str
    check: str
    field: str
    reason: str


Check = Callable[[Record, DatasetSpec], Iterable[Issue]]


def check_required(record: Record, spec: DatasetSpec) -> Iterator[Issue]:
    for name in REQUIRED[record.task]:
        value = getattr(record, name)
        if value is None or value == "" or value == []:
            check = {"options": "missing_options", "answer": "missing_answer", "label": "missing_answer"}.get(name, "missing_field")
            yield Issue("incompleteness", check, name, f"'{name}' is missing or empty")


def check_answer(record: Record, spec: DatasetSpec) -> Iterator[Issue]:
    if isinstance(record, MCQARecord) and record.options and record.answer is not None:
        if record.answer_index is None or record.answer_index >= len(record.options):
            yield Issue("incompleteness", "answer_not_in_options", "answer",
                        f"answer {record.answer!r} is not among the {len(record.options)} options")
    if isinstance(record, NLIRecord) and record.label is not None and record.label not in spec.labels:
        yield Issue("incompleteness", "unknown_label", "label", f"label {record.label!r} is not one of {list(spec.labels)}")


def check_image(record: Record, spec: DatasetSpec) -> Iterator[Issue]:
    rule = images.load()
    for name, text in _texts(record):
        found = rule.find(text, record.language) if name in rule.fields else None
        if found:
            phrase, words = found
            yield Issue("incompleteness", "needs_image", name,
                        f"the {name} presents a picture the item does not include ({phrase}: {words!r})")
            return


def check_relevance(record: Record, spec: DatasetSpec) -> Iterator[Issue]:
    rule = spec.relevance
    if not matches(rule, record.meta):
        value = dig(record.meta, rule["field"])
        yield Issue("irrelevance", "off_topic", rule["field"], f"{rule['field']}={value!r} is not one of {rule['in']}")


def check_options(record: Record, spec: DatasetSpec) -> Iterator[Issue]:
    if not isinstance(record, MCQARecord) or not record.options:
        return
    options = record.options
    if len(options) < 2:
        yield Issue("disorganization", "broken_options", "options", f"only {len(options)} option")
    if spec.options and len(options) > spec.options:
        yield Issue("disorganization", "broken_options", "options", f"{len(options)} options; {spec.name} has at most {spec.options}")
    empty = [i for i, o in enumerate(options) if not (o or "").strip()]
    if empty:
        yield Issue("disorganization", "broken_options", "options", f"empty option(s) at position(s) {[i + 1 for i in empty]}")
    normalized = [normalize_text(o or "") for o in options]
    repeated = sorted({o for o in normalized if o and normalized.count(o) > 1})
    if repeated:
        yield Issue("disorganization", "broken_options", "options", f"repeated option text(s): {repeated}")


def check_text(record: Record, spec: DatasetSpec) -> Iterator[Issue]:
    for name, text in _texts(record):
        if MOJIBAKE.search(text):
            yield Issue("disorganization", "malformed_text", name, "encoding damage (mojibake or U+FFFD) in the text")
            return
        if CONTROL.search(text):
            yield Issue("disorganization", "malformed_text", name, "control characters in the text")
            return


CHECKS: tuple[Check, ...] = (check_required, check_answer, check_image, check_relevance, check_options, check_text)


def _texts(record: Record) -> Iterator[tuple[str, str]]:
    for name, value in record.texts().items():
        for text in value if isinstance(value, list) else [value]:
            if isinstance(text, str):
                yield name, text


class Screener:
    """Screens one dataset's records as they stream past; keeps counts and the removal list."""

    def __init__(self, spec: DatasetSpec):
        self.spec = spec
        self.read = self.kept = 0
        self.read_by_split: Counter[str] = Counter()
        self.kept_by_split: Counter[str] = Counter()
        self.removals: list[Removal] = []
        self._seen_content: dict[str, str] = {}
        self._seen_ids: dict[str, str] = {}

    def problems(self, record: Record) -> list[Issue]:
        found = list(record.issues)
        reported = {i.check for i in found}
        # A reader that found problems already named the missing source fields precisely.
        for check in (CHECKS[1:] if found else CHECKS):
            found += [i for i in check(record, self.spec) if i.check not in reported]
        texts = record.texts()
        if any(texts.values()):
            key = content_key(texts)
            if key in self._seen_content:
                found.append(Issue("disorganization", "duplicate_item", "*", f"duplicate of {self._seen_content[key]}"))
            else:
                self._seen_content[key] = f"{record.id} ({record.origin})"
                if record.id in self._seen_ids:
                    found.append(Issue("disorganization", "duplicate_id", "id",
                                       f"id {record.id!r} already used at {self._seen_ids[record.id]}"))
        self._seen_ids.setdefault(record.id, record.origin)
        return sorted(found, key=lambda i: RULE_ORDER[i.rule])

    def __call__(self, records: Iterable[Record]) -> Iterator[Record]:
        for record in records:
            self.read += 1
            self.read_by_split[record.split] += 1
            found = self.problems(record)
            if found:
                first = found[0]
                self.removals.append(Removal(record.id, record.dataset, record.split, record.origin,
                                             first.rule, first.check, first.field,
                                             "; ".join([first.reason] + [f"{i.check}: {i.reason}" for i in found[1:]])))
            else:
                self.kept += 1
                self.kept_by_split[record.split] += 1
                yield record

    def summary(self) -> dict[str, Any]:
        by_rule = Counter(r.rule for r in self.removals)
        by_check = Counter(f"{r.rule}/{r.check}" for r in self.removals)
        by_split = Counter((r.split, r.rule) for r in self.removals)
        splits = {split: {"read": n, "kept": self.kept_by_split[split],
                          "by_rule": {rule: by_split.get((split, rule), 0) for rule in RULES}}
                  for split, n in sorted(self.read_by_split.items())}
        return {"read": self.read, "kept": self.kept, "removed": len(self.removals),
                "by_rule": {rule: by_rule.get(rule, 0) for rule in RULES}, "by_check": dict(sorted(by_check.items())),
                "splits": splits}


def report(screeners: list[Screener]) -> dict[str, Any]:
    """The JSON screening report: rule definitions, per-dataset counts, every removal."""
    return {
        "rules": RULES,
        "datasets": {s.spec.name: s.summary() for s in screeners},
        "removed": [asdict(r) for s in screeners for r in s.removals],
    }
