"""Attaching translations to source records.

A translation folder holds `<dataset>/<language>.jsonl`; each line is one translated record:
    {"id": "<the source record's id>", "<text field>": "...", ...}
with the text fields of the record's task (MCQA: context, question, options, explanation;
NLI: premise, hypothesis; long-form QA: question, answer). Answer keys and labels come from the
source and are never translated. Lines may carry more keys (the translation pipeline adds
"status" and its audit trail under "trace"); a line whose "status" is not "ok" is not used.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .records import Record
from .sources._io import iter_jsonl
from .structure import check_translation, expectations

META_KEYS = {"id", "language", "dataset", "task", "split", "status", "trace", "quality", "source_hash", "meta"}


@dataclass(frozen=True)
class TranslationProblem:
    id: str
    dataset: str
    language: str
    origin: str
    reason: str


def translation_files(folders: list[Path], dataset: str) -> dict[str, tuple[Path, str]]:
    """language -> (file, display name) for one dataset; later folders override earlier ones.
    The first folder is the sources' own `translations/`."""
    found: dict[str, tuple[Path, str]] = {}
    for i, folder in enumerate(folders):
        for path in sorted((folder / dataset).glob("*.jsonl")):
            # The sources' own folder is named as in the sources; user folders by the path they gave.
            found[path.stem] = (path, f"{folder.name}/{dataset}/{path.name}" if i == 0 else str(path))
    return found


def load(path: Path, display: str, problems: list[TranslationProblem] | None = None,
         dataset: str = "") -> dict[str, tuple[str, dict[str, Any]]]:
    """id -> (origin, line object) for one translation file; a repeated id keeps its first line and
    the repeats are reported."""
    table: dict[str, tuple[str, dict[str, Any]]] = {}
    for line, obj in iter_jsonl(path, display):
        rid, origin = str(obj.get("id")), f"{display}:{line}"
        if rid in table:
            if problems is not None:
                problems.append(TranslationProblem(rid, dataset, path.stem, origin,
                                                   f"repeated id (first at {table[rid][0]}); this line is not used"))
            continue
        table[rid] = (origin, obj)
    return table


def attach(records: list[Record], language: str, table: dict[str, tuple[str, dict[str, Any]]],
           problems: list[TranslationProblem], expected: dict[str, Any] | None = None) -> Iterator[Record]:
    """The translated records, in source order; bad or unusable lines go to `problems`. `expected`
    caches what each source record requires (structure.expectations) across its languages."""
    expected = {} if expected is None else expected
    known = set()
    for record in records:
        known.add(record.id)
        entry = table.get(record.id)
        if entry is None:
            continue
        origin, obj = entry
        status = obj.get("status", "ok")
        if status != "ok":
            problems.append(TranslationProblem(record.id, record.dataset, language, origin,
                                               f"translation status is {status!r}: {obj.get('error', 'no reason given')}"))
            continue
        texts = {k: v for k, v in obj.items() if k not in META_KEYS}
        if record.id not in expected:
            expected[record.id] = expectations(record)
        found = check_translation(record, texts, expected[record.id])
        if found:
            problems.append(TranslationProblem(record.id, record.dataset, language, origin, "; ".join(found)))
            continue
        # A field the translation leaves out (only optional ones pass the check) is dropped, not kept in the source language.
        yield record.translated(language, {name: texts.get(name) for name in record.text_fields})
    for rid, (origin, _) in table.items():
        if rid not in known:
            problems.append(TranslationProblem(rid, records[0].dataset if records else "", language, origin,
                                               "no kept source record has this id (unknown id, or the source item was screened out)"))
