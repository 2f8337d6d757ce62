"""Readers of the GlobMed sources in their original public file formats.

Each reader turns one source file into unified records (globmed.records). It never drops an
item: problems it sees (a missing field, an answer key out of range) are attached to the
record as Issues, and screening removes the record and reports where and why.
Files that cannot be read at all (not UTF-8, truncated JSON) raise SourceError.
"""

from __future__ import annotations

import dataclasses
import importlib
from pathlib import Path
from typing import Callable, Iterator

from ..errors import GlobmedError
from ..records import Record
from ..registry import DatasetSpec, matches
from ._io import SchemaCheck
from .layout import Located, SourceFile, locate

Reader = Callable[[Path, DatasetSpec, str, str], Iterator[Record]]
READERS: dict[str, Reader] = {}
_MODULES = ("medqa", "headqa", "medexpqa", "mmlu_pro", "mednli", "bionli", "liveqa", "expertqa", "medmcqa", "pubmedqa")


def reader(name: str) -> Callable[[Reader], Reader]:
    def register(fn: Reader) -> Reader:
        READERS[name] = fn
        return fn

    return register


def get_reader(name: str) -> Reader:
    if not READERS:
        for module in _MODULES:
            importlib.import_module(f"{__name__}.{module}")
    try:
        return READERS[name]
    except KeyError:
        raise GlobmedError(f"no reader named {name!r}; known: {', '.join(sorted(READERS))}") from None


def find_files(root: Path, spec: DatasetSpec) -> list[tuple[Path, str]]:
    """The source files of `spec` under `root`, with their split (see layout.locate)."""
    return [(f.path, f.split) for f in locate(root, spec).files]


def read_files(files: list[SourceFile], spec: DatasetSpec) -> Iterator[Record]:
    """Every record of `files` (one dataset, or one of its official translations), in file order. A file
    whose rows mostly lack a field the reader needs is an error (SchemaCheck), not a file of incomplete items."""
    read = get_reader(spec.reader)
    hint = "the registry's params name this source's fields" if spec.params else ""
    for f in files:
        # a layout may carry its own reader settings (e.g. MedMCQA's Hub parquet counts cop from 0)
        file_spec = dataclasses.replace(spec, params={**spec.params, **f.pattern.params}) if f.pattern.params else spec
        schema = SchemaCheck(f.rel, spec.reader, hint)
        for record in read(f.path, file_spec, f.split, f.rel):
            schema.count(record.issues)
            if matches(spec.select, record.meta):
                yield record
        schema.check()


def read_dataset(root: Path, spec: DatasetSpec, located: Located | None = None) -> Iterator[Record]:
    """Every record of one dataset under the sources folder `root`, in file order."""
    yield from read_files((located or locate(root, spec)).files, spec)


def read_official(located: Located, language: str) -> Iterator[Record]:
    """The records of a dataset's official translation into `language`, read as the source is."""
    spec = dataclasses.replace(located.spec, language=language)
    yield from read_files(located.official.get(language, []), spec)
