"""The dataset registry: each GlobMed source as data (see datasets.yaml for the fields).

Extra registry files can be added with GLOBMED_REGISTRY_PATH (os.pathsep separated YAML files);
an entry there overrides a shipped one with the same name.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..yamlfile import Lines, read_yaml

HERE = Path(__file__).parent
TASKS = ("mcqa", "nli", "lfqa")
SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class FilePattern:
    """One way a release lays out a dataset's files: a glob under the sources folder ("{split}" stands for
    the split name in a file name, "**/" for any folders), and what holds for the files it matches."""

    pattern: str
    split: str | None = None  # the split of every matched file, when the file name has none
    params: dict[str, Any] = field(default_factory=dict)  # reader settings for this layout only
    options: int | None = None  # the maximum option count of this layout, where it differs from the dataset's
    note: str | None = None  # shown when this layout is the one found (e.g. "the 5-option version")


@dataclass(frozen=True)
class SkipRule:
    """Files that look like this dataset's but are not read, and why (shown by `data sources` and the build)."""

    pattern: str
    reason: str


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    task: str
    reader: str
    language: str
    files: tuple[str, ...]  # the patterns of `layouts`, in order
    licence: str
    redistributable: bool
    layouts: tuple[FilePattern, ...] = ()
    skip: tuple[SkipRule, ...] = ()
    companions: tuple[str, ...] = ()
    official: dict[str, tuple[FilePattern, ...]] = field(default_factory=dict)
    eval_split: str = "test"
    splits_note: str | None = None
    obtain: str | None = None
    split: str | None = None
    reference: str | None = None
    options: int | None = None
    labels: tuple[str, ...] = ()
    licence_name: str | None = None
    restriction: str | None = None
    relevance: dict[str, Any] | None = None
    select: dict[str, Any] | None = None
    params: dict[str, Any] = field(default_factory=dict)
    homepage: str | None = None
    citation: str | None = None

    @property
    def reference_language(self) -> str:
        return self.reference or self.language


def _patterns(name: str, key: tuple[str, ...], value: Any, lines: Lines) -> tuple[FilePattern, ...]:
    """A list of patterns, each a glob string or {pattern, split, params, options, note}."""
    where = lines.at(name, *key)
    if not isinstance(value, list) or not value:
        raise GlobmedError(f"{where}: entry {name!r}: field {'.'.join(key)!r} must be a non-empty list of patterns")
    out = []
    for item in value:
        if isinstance(item, str):
            item = {"pattern": item}
        if not isinstance(item, dict) or not isinstance(item.get("pattern"), str):
            raise GlobmedError(f"{where}: entry {name!r}: each item of {'.'.join(key)!r} must be a glob string or a "
                               f"mapping with 'pattern'")
        unknown = sorted(set(item) - set(FilePattern.__dataclass_fields__))
        if unknown:
            raise GlobmedError(f"{where}: entry {name!r}: unknown field(s) {', '.join(unknown)} in {'.'.join(key)!r}")
        if item.get("split") is not None and item["split"] not in SPLITS:
            raise GlobmedError(f"{where}: entry {name!r}: split {item['split']!r} must be one of {SPLITS}")
        out.append(FilePattern(item["pattern"], item.get("split"), dict(item.get("params") or {}), item.get("options"),
                               item.get("note")))
    return tuple(out)


def _skip_rules(name: str, value: Any, lines: Lines) -> tuple[SkipRule, ...]:
    rules = []
    for item in value or ():
        if not isinstance(item, dict) or set(item) != {"pattern", "reason"}:
            raise GlobmedError(f"{lines.at(name, 'skip')}: entry {name!r}: each item of 'skip' must be "
                               f"{{pattern: ..., reason: ...}}")
        rules.append(SkipRule(str(item["pattern"]), str(item["reason"])))
    return tuple(rules)


def _parse(name: str, data: dict[str, Any], lines: Lines) -> DatasetSpec:
    if not isinstance(data, dict):
        raise GlobmedError(f"{lines.at(name)}: entry {name!r} must be a mapping")
    known = set(DatasetSpec.__dataclass_fields__) - {"name", "layouts"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GlobmedError(f"{lines.at(name, unknown[0])}: entry {name!r}: unknown field(s) {', '.join(unknown)}")
    missing = [f.name for f in dataclasses.fields(DatasetSpec) if f.name != "name" and f.name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise GlobmedError(f"{lines.at(name)}: entry {name!r}: missing field(s) {', '.join(missing)}")
    layouts = _patterns(name, ("files",), data["files"], lines)
    official = data.get("official") or {}
    if not isinstance(official, dict):
        raise GlobmedError(f"{lines.at(name, 'official')}: entry {name!r}: field 'official' must map a language "
                           f"code to the patterns of its official translation")
    official = {str(lang): _patterns(name, ("official", str(lang)), pats, lines) for lang, pats in official.items()}
    for key in ("split", "eval_split"):
        if data.get(key) is not None and data[key] not in SPLITS:
            raise GlobmedError(f"{lines.at(name, key)}: entry {name!r}: field {key!r} must be one of {SPLITS}")
    spec = DatasetSpec(name=name, **{**data, "files": tuple(p.pattern for p in layouts), "layouts": layouts,
                                     "skip": _skip_rules(name, data.get("skip"), lines), "official": official,
                                     "companions": tuple(data.get("companions") or ()),
                                     "labels": tuple(data.get("labels") or ())})
    if spec.language in spec.official:
        raise GlobmedError(f"{lines.at(name, 'official', spec.language)}: entry {name!r}: {spec.language!r} is the "
                           f"source language, not a translation")
    if spec.task not in TASKS:
        raise GlobmedError(f"{lines.at(name, 'task')}: entry {name!r}: field 'task' must be one of {TASKS}, "
                           f"not {spec.task!r}")
    if spec.task == "nli" and not spec.labels:
        raise GlobmedError(f"{lines.at(name)}: entry {name!r}: an NLI dataset needs 'labels'")
    return spec


def files() -> list[Path]:
    """The registry files, in the order they are read (a later entry overrides an earlier one)."""
    return [HERE / "datasets.yaml", *(Path(p) for p in os.environ.get("GLOBMED_REGISTRY_PATH", "").split(os.pathsep) if p)]


@lru_cache(maxsize=None)
def _registry() -> dict[str, DatasetSpec]:
    out: dict[str, DatasetSpec] = {}
    for path in files():
        data, lines = read_yaml(path, "dataset registry")
        data = {} if data is None else data
        if not isinstance(data, dict):
            raise GlobmedError(f"{path}: the registry must be a mapping of dataset name: fields")
        for name, entry in data.items():
            out[name] = _parse(name, entry, lines)
    return out


def reload() -> None:
    _registry.cache_clear()


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> DatasetSpec:
    try:
        return _registry()[name]
    except KeyError:
        raise GlobmedError(f"unknown dataset {name!r}; known: {', '.join(names())}") from None


def parse_datasets(spec: str | list[str] | None) -> list[str]:
    """'all' / None -> every dataset; 'medqa,headqa' or a list -> those, validated."""
    if spec is None or spec == "all" or spec == ["all"]:
        return names()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = [s.strip() for s in items if s.strip()]
    for s in out:
        get(s)
    return out


def matches(rule: dict[str, Any] | None, meta: dict[str, Any]) -> bool:
    """Whether a record's meta satisfies a {field, in | not_in} rule (no rule: always)."""
    if not rule:
        return True
    value: Any = meta
    for part in rule["field"].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    if "in" in rule and value not in rule["in"]:
        return False
    return not ("not_in" in rule and value in rule["not_in"])


def restricted(datasets: list[str]) -> list[DatasetSpec]:
    """The datasets among `datasets` that may not be redistributed (unknown names are ignored)."""
    reg = _registry()
    return [reg[d] for d in datasets if d in reg and not reg[d].redistributable]
