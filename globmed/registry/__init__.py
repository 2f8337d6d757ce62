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


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    task: str
    reader: str
    language: str
    files: tuple[str, ...]
    licence: str
    redistributable: bool
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


def _parse(name: str, data: dict[str, Any], lines: Lines) -> DatasetSpec:
    if not isinstance(data, dict):
        raise GlobmedError(f"{lines.at(name)}: entry {name!r} must be a mapping")
    known = set(DatasetSpec.__dataclass_fields__) - {"name"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GlobmedError(f"{lines.at(name, unknown[0])}: entry {name!r}: unknown field(s) {', '.join(unknown)}")
    missing = [f.name for f in dataclasses.fields(DatasetSpec) if f.name != "name" and f.name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise GlobmedError(f"{lines.at(name)}: entry {name!r}: missing field(s) {', '.join(missing)}")
    spec = DatasetSpec(name=name, **{**data, "files": tuple(data["files"] or ()), "labels": tuple(data.get("labels") or ())})
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
