"""Attaching translations to source records.

Two kinds, each translated record saying which in its meta ("provenance"):
- official: a release's own human translation, shipped in the source's format (MedExpQA's en/fr/it
  files, HEAD-QA's HEAD_EN); the registry's `official` field says where (one mechanism for every
  dataset). It is read with the dataset's reader, and its items join the source's by id.
- machine: a translation folder holding `<dataset>/<language>.jsonl`; each line is one translated record:
    {"id": "<the source record's id>", "<text field>": "...", ...}
  with the text fields of the record's task (MCQA: context, question, options, explanation;
  NLI: premise, hypothesis; long-form QA: question, answer). Lines may carry more keys (the
  translation pipeline adds "status" and its audit trail under "trace"; "provenance" names another
  kind than "machine"); a line whose "status" is not "ok" is not used.
Answer keys and labels come from the source and are never translated; an official translation whose
own answer key differs from the source's is not used (its items are misaligned).
An official translation of a language replaces a machine one: it is the better text.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from .records import MCQARecord, NLIRecord, Record
from .sources import read_official
from .sources._io import iter_jsonl
from .sources.layout import Located
from .structure import check_translation, expectations

META_KEYS = {"id", "language", "dataset", "task", "split", "status", "trace", "quality", "source_hash", "meta",
             "provenance", "answer_key"}
ORIGINAL, OFFICIAL, MACHINE = "original", "official", "machine"


@dataclass(frozen=True)
class TranslationProblem:
    id: str
    dataset: str
    language: str
    origin: str
    reason: str


@dataclass(frozen=True)
class TranslationSource:
    """Where one language's translation of a dataset comes from."""

    language: str
    provenance: str  # OFFICIAL or MACHINE
    display: str  # the file(s), as shown to the user
    path: Path | None = None  # a machine translation's jsonl file
    located: Located | None = None  # an official translation: the dataset's located files


def translation_sources(located: Located, folders: list[Path]) -> tuple[dict[str, TranslationSource], list[str]]:
    """language -> where its translation comes from, and notes on machine translations an official one replaces."""
    chosen = {lang: TranslationSource(lang, MACHINE, display, path=path)
              for lang, (path, display) in translation_files(folders, located.spec.name).items()}
    notes = []
    for lang, files in located.official.items():
        display = ", ".join(f.rel for f in files)
        if lang in chosen:
            notes.append(f"{chosen[lang].display}: not used; the release's official {lang} translation is ({display})")
        chosen[lang] = TranslationSource(lang, OFFICIAL, display, located=located)
    return chosen, notes


def answer_key(record: Record) -> str | None:
    """What a translation must not change: an MCQA item's answer letter, an NLI item's label."""
    if isinstance(record, MCQARecord):
        return record.answer
    return record.label if isinstance(record, NLIRecord) else None


def official_table(located: Located, language: str, problems: list[TranslationProblem],
                   screened_out: set[str] | frozenset[str] = frozenset()) -> dict[str, tuple[str, dict[str, Any]]]:
    """id -> (origin, translation line) for an official translation, read with the dataset's reader.
    The versions of source items that screening removed (`screened_out`: their removal is reported
    already, e.g. HEAD-QA's questions that need an image) are passed over."""
    table: dict[str, tuple[str, dict[str, Any]]] = {}
    for record in read_official(located, language):
        if record.id in screened_out:
            continue
        if record.issues:  # what screening would remove in the source is not a usable translation either
            problems.append(TranslationProblem(record.id, record.dataset, language, record.origin,
                                               "; ".join(i.reason for i in record.issues)))
            continue
        if record.id in table:
            problems.append(TranslationProblem(record.id, record.dataset, language, record.origin,
                                               f"repeated id (first at {table[record.id][0]}); this item is not used"))
            continue
        table[record.id] = (record.origin, {"id": record.id, **record.texts(), "provenance": OFFICIAL,
                                            "answer_key": answer_key(record)})
    return table


def load_source(source: TranslationSource, dataset: str, problems: list[TranslationProblem],
                screened_out: set[str] | frozenset[str] = frozenset()) -> dict[str, tuple[str, dict[str, Any]]]:
    if source.provenance == OFFICIAL and source.located is not None:
        return official_table(source.located, source.language, problems, screened_out)
    assert source.path is not None
    return load(source.path, source.display, problems, dataset)


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
        if "answer_key" in obj and obj["answer_key"] != answer_key(record):
            problems.append(TranslationProblem(record.id, record.dataset, language, origin,
                                               f"its answer key {obj['answer_key']!r} differs from the source's "
                                               f"{answer_key(record)!r} (a different item under the same id?)"))
            continue
        if record.id not in expected:
            expected[record.id] = expectations(record)
        found = check_translation(record, texts, expected[record.id])
        if found:
            problems.append(TranslationProblem(record.id, record.dataset, language, origin, "; ".join(found)))
            continue
        # A field the translation leaves out (only optional ones pass the check) is dropped, not kept in the source language.
        translated = record.translated(language, {name: texts.get(name) for name in record.text_fields})
        translated.meta = {**record.meta, "provenance": obj.get("provenance") or MACHINE}
        yield translated
    for rid, (origin, _) in table.items():
        if rid not in known:
            problems.append(TranslationProblem(rid, records[0].dataset if records else "", language, origin,
                                               "no kept source record has this id (unknown id, or the source item was screened out)"))
