"""The licence guard: which registry datasets a folder's content derives from, read from the content.

Every file that would be uploaded is read (compressed files and archive members too, through
globmed.hub.content), case-insensitively:
- the names of its folders and data files, word by word (`MedNLI.en/`, `details.mednli.en/`, `mednli_dev.jsonl`;
  code and configuration files, e.g. a vendored `sources/mednli.py`, count by their folders only);
- every manifest (`globmed.json`) at any depth, and any JSON: `dataset`, `datasets`, `config_name` fields
  and record ids (`mednli-test-...`);
- every dataset card (`README.md`) at any depth: the config names of its YAML header;
- every parquet or Arrow file: the values of its `dataset` column and the prefix of its record ids
  (`id`), which every globmed record carries (`<dataset>-<split>-<key>`);
- JSON lines and CSV/TSV rows: their `dataset` and `id` fields.
A dataset counts as restricted when its registry entry says `redistributable: false`.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections import defaultdict
from functools import lru_cache
from pathlib import Path
from typing import Any, Iterable

import yaml

from .. import registry
from ..core import manifest
from ..errors import GlobmedError
from ..yamlfile import check_expansion
from .content import Part, batches, parts, schema_of, table_file

Derived = dict[str, list[str]]  # registry dataset -> where it was found (a few places)
SHOWN = 3  # places kept per dataset, for messages
JSON_KEYS = ("dataset", "datasets", "config_name", "config")
ID_KEYS = ("id", "item")
# Files whose name does not say what data they hold (code, configuration, docs): only their folders count.
NOT_DATA = {".py", ".pyi", ".pyc", ".pyx", ".so", ".js", ".mjs", ".ts", ".css", ".html", ".sh", ".toml", ".cfg",
            ".ini", ".yaml", ".yml", ".md", ".typed"}


class _Names:
    """Registry names found in text: as whole words (`_` and `.` separate words; `mmlu_pro` stays one)."""

    def __init__(self) -> None:
        self.names = {n.lower(): n for n in registry.names()}
        alternatives = "|".join(re.escape(n) for n in sorted(self.names, key=len, reverse=True))
        self._word = re.compile(rf"(?<![a-z0-9])({alternatives})(?![a-z0-9])")
        self._id = re.compile(rf"^({alternatives})-")

    def in_text(self, text: str) -> set[str]:
        return {self.names[m] for m in self._word.findall(text.lower())} if self.names else set()

    def of_id(self, value: Any) -> str | None:
        m = self._id.match(str(value).lower()) if isinstance(value, str) and self.names else None
        return self.names[m.group(1)] if m else None

    def named_by(self, value: Any) -> set[str]:
        """Datasets a field value names (`mednli`, `MedNLI`, `MedNLI (PhysioNet)`)."""
        return self.in_text(value) if isinstance(value, str) else set()


def derived_datasets(files: Iterable[Any]) -> Derived:
    """Registry datasets the planned `files` (path_in_repo, local) derive from, with where each was seen.
    A part byte-identical to a file of the shipped sample's sources (e.g. inside a vendored wheel) is the
    project's own machine-written sample, not a dataset's data, and does not count."""
    names = _Names()
    found: Derived = defaultdict(list)
    for f in files:
        rel = f.path_in_repo
        for part in parts(Path(f.local), rel):
            where = f"{rel} > {part.where}" if part.where else rel
            evidence = [(d, f"{where} (its path)") for d in _path_words(part.name if part.where else rel, names)]
            evidence += [(d, f"{where} ({how})") for d, how in _read(part, names)]
            if evidence and _shipped_sample(part):
                continue
            for d, seen in evidence:
                if len(found[d]) < SHOWN and seen not in found[d]:
                    found[d].append(seen)
    return {d: w for d, w in found.items() if w}


def _path_words(path: str, names: _Names) -> set[str]:
    """Datasets named by a path's folders, and by its file name unless the file is code or configuration."""
    p = Path(path)
    words = " ".join(p.parts[:-1])
    if p.suffix.lower() not in NOT_DATA:
        words += " " + p.name
    return names.in_text(words)


@lru_cache(maxsize=1)
def _sample_hashes() -> frozenset[str]:
    from ..sample import SOURCES

    return frozenset(hashlib.sha256(p.read_bytes()).hexdigest() for p in SOURCES.rglob("*") if p.is_file())


def _shipped_sample(part: Part, limit: int = 4 * 1024 * 1024) -> bool:
    with part.open() as fh:
        data = fh.read(limit + 1)
    return len(data) <= limit and hashlib.sha256(data).hexdigest() in _sample_hashes()


def _read(part: Part, names: _Names) -> Iterable[tuple[str, str]]:
    """(dataset, how it was seen) for one part, by what the part is."""
    lower = part.name.lower()
    if part.suffix in (".parquet", ".arrow"):
        yield from _table(part, names)
    elif part.suffix == ".json":
        yield from _json(part, names, "manifest" if Path(lower).name == manifest.NAME else "JSON")
    elif part.suffix == ".jsonl":
        yield from _jsonl(part, names)
    elif part.suffix in (".csv", ".tsv"):
        yield from _csv(part, names)
    elif Path(lower).name == "readme.md":
        yield from _card(part, names)


def _table(part: Part, names: _Names) -> Iterable[tuple[str, str]]:
    import pyarrow.compute as pc

    table = table_file(part)
    columns = {c.lower(): c for c in schema_of(table).names}
    wanted = [columns[c] for c in ("dataset", "id") if c in columns]
    if not wanted:
        return
    seen: set[str] = set()
    for batch in batches(table, wanted):
        for name, column in zip(batch.schema.names, batch.columns):
            for value in pc.unique(column).to_pylist():
                datasets = names.named_by(value) if name.lower() == "dataset" else {names.of_id(value)} - {None}
                for d in datasets - seen:
                    seen.add(d)
                    yield d, f"column {name!r}"


def _walk(obj: Any, names: _Names, depth: int = 0) -> Iterable[str]:
    """Datasets named by the known keys anywhere in a JSON value (iterative in spirit: bounded depth)."""
    if depth > 64:
        return
    if isinstance(obj, dict):
        for key, value in obj.items():
            k = str(key).lower()
            if k in JSON_KEYS:
                if isinstance(value, str):
                    yield from names.named_by(value)
                elif isinstance(value, dict):
                    for inner in value:
                        yield from names.named_by(inner)
                elif isinstance(value, list):
                    for inner in value:
                        if isinstance(inner, str):
                            yield from names.named_by(inner)
            elif k in ID_KEYS and (d := names.of_id(value)):
                yield d
            if isinstance(value, (dict, list)):
                yield from _walk(value, names, depth + 1)
    elif isinstance(obj, list):
        for value in obj:
            if isinstance(value, (dict, list)):
                yield from _walk(value, names, depth + 1)


def _json(part: Part, names: _Names, kind: str) -> Iterable[tuple[str, str]]:
    with part.open() as fh:
        raw = fh.read()
    try:
        data = json.loads(raw)
    except (ValueError, UnicodeDecodeError, RecursionError) as exc:
        if kind == "manifest":
            raise GlobmedError(f"{part.where or part.name}: broken manifest ({exc}); the licence guard cannot tell "
                               f"what the folder derives from") from None
        return
    for d in set(_walk(data, names)):
        yield d, kind


def _jsonl(part: Part, names: _Names) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    with part.open() as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except (ValueError, UnicodeDecodeError, RecursionError):
                continue
            for d in set(_walk(obj, names)) - seen:
                seen.add(d)
                yield d, "its records"


def _csv(part: Part, names: _Names) -> Iterable[tuple[str, str]]:
    seen: set[str] = set()
    with part.open() as fh:
        reader = csv.DictReader(io.TextIOWrapper(fh, encoding="utf-8", errors="replace", newline=""),
                                delimiter="\t" if part.suffix == ".tsv" else ",")
        try:
            for row in reader:
                for key, value in row.items():
                    k = (key or "").lower()
                    datasets = names.named_by(value) if k == "dataset" else (
                        {names.of_id(value)} - {None} if k in ID_KEYS else set())
                    for d in datasets - seen:
                        seen.add(d)
                        yield d, "its rows"
        except csv.Error:
            return


def _card(part: Part, names: _Names) -> Iterable[tuple[str, str]]:
    with part.open() as fh:
        text = fh.read().decode("utf-8", "replace")
    if not text.startswith("---"):
        return
    try:
        loader = yaml.SafeLoader(text.split("---", 2)[1])
        try:
            node = loader.get_single_node()
            if node is None:
                return
            check_expansion(node, part.where or part.name, "dataset card")
            meta = loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError:
        return
    for config in (meta.get("configs") or []) if isinstance(meta, dict) else []:
        if isinstance(config, dict):
            for d in names.named_by(str(config.get("config_name", ""))):
                yield d, "its configs"


def restricted(found: Derived) -> list[tuple[registry.DatasetSpec, list[str]]]:
    """The restricted datasets among `found`, with where each was seen."""
    return [(spec, found[spec.name]) for spec in registry.restricted(sorted(found))]


def check(folder: Path, files: Iterable[Any], public: bool, allow_restricted: bool) -> Derived:
    """Refuse (GlobmedError) a public push of restricted content, and a private one without
    --allow-restricted; returns what the files derive from."""
    found = derived_datasets(files)
    hits = restricted(found)
    if not hits:
        return found
    names = ", ".join(spec.name for spec, _ in hits)
    why = " ".join(spec.restriction or f"{spec.name} may not be redistributed." for spec, _ in hits)
    seen = "; ".join(f"{spec.name}: {', '.join(where)}" for spec, where in hits)
    if public:
        raise GlobmedError(
            f"refusing to publish {folder} publicly: it contains data derived from {names} (seen in {seen}). {why} "
            f"Rebuild without it (e.g. --datasets without {names}) to publish, or push privately with --allow-restricted.")
    if not allow_restricted:
        raise GlobmedError(
            f"{folder} contains data derived from {names} (seen in {seen}). {why} Pushing it even to a private repo "
            f"needs --allow-restricted, confirming everyone with access is entitled to it.")
    return found
