"""Readers of the GlobMed sources in their original public file formats.

Each reader turns one source file into unified records (globmed.records). It never drops an
item: problems it sees (a missing field, an answer key out of range) are attached to the
record as Issues, and screening removes the record and reports where and why.
Files that cannot be read at all (not UTF-8, truncated JSON) raise SourceError.
"""

from __future__ import annotations

import importlib
import re
from pathlib import Path
from typing import Callable, Iterator

from ..errors import GlobmedError
from ..records import Record
from ..registry import DatasetSpec, matches
from ._io import SchemaCheck

Reader = Callable[[Path, DatasetSpec, str, str], Iterator[Record]]
READERS: dict[str, Reader] = {}
_MODULES = ("medqa", "headqa", "medexpqa", "mmlu_pro", "mednli", "bionli", "liveqa", "expertqa", "medmcqa", "pubmedqa")

SPLIT_ALIASES = {"dev": "validation", "valid": "validation", "val": "validation"}


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
    """The source files of `spec` under `root`, with their split: the first pattern that matches wins."""
    for pattern in spec.files:
        glob = pattern.replace("{split}", "*")
        regex = re.compile(
            "^" + re.escape(pattern).replace(r"\*\*/", "(?:.*/)?").replace(r"\*", "[^/]*")
            .replace(r"\{split\}", "(?P<split>[^/]+?)") + "$"
        )
        found = []
        for path in sorted(root.glob(glob)):
            if not path.is_file():
                continue
            m = regex.match(path.relative_to(root).as_posix())
            if not m:
                continue
            split = m.groupdict().get("split") or spec.split or "test"
            found.append((path, SPLIT_ALIASES.get(split, split)))
        if found:
            return found
    return []


def read_dataset(root: Path, spec: DatasetSpec) -> Iterator[Record]:
    """Every record of one dataset under the sources folder `root`, in file order. A file whose rows
    mostly lack a field the reader needs is an error (SchemaCheck), not a file of incomplete items."""
    read = get_reader(spec.reader)
    hint = "the registry's params name this source's fields" if spec.params else ""
    for path, split in find_files(root, spec):
        display = path.relative_to(root).as_posix()
        schema = SchemaCheck(display, spec.reader, hint)
        for record in read(path, spec, split, display):
            schema.count(record.issues)
            if matches(spec.select, record.meta):
                yield record
        schema.check()
