"""What is available, and where each thing comes from: `globmed list datasets|languages|campaigns|recipes`.

Each listing is rows of plain values (the CLI prints them as a table or as JSON); `file` is always the
file the entry was read from, so an entry added through GLOBMED_REGISTRY_PATH or GLOBMED_LANGUAGES_PATH
shows its own file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import yaml

from .errors import GlobmedError

CAMPAIGNS = Path(__file__).resolve().parent / "campaigns"


@dataclass
class ListSettings:
    """Settings of `globmed list`."""

    what: str = field(metadata={"help": "datasets | languages | campaigns | recipes", "positional": True})
    json: bool = field(default=False, metadata={"help": "every field, as JSON (for scripts)"})


def datasets() -> list[dict[str, Any]]:
    from . import registry
    from .yamlfile import read_yaml

    origin: dict[str, Path] = {}
    for path in registry.files():
        data, _ = read_yaml(path, "dataset registry")
        origin.update({name: path for name in (data or {})})
    rows = []
    for name in registry.names():
        spec = registry.get(name)
        rows.append({"name": name, "title": spec.title, "task": spec.task, "language": spec.language,
                     "reference_language": spec.reference_language, "licence": spec.licence_name or spec.licence,
                     "redistributable": spec.redistributable, "source": spec.homepage, "files": list(spec.files),
                     "file": str(origin[name])})
    return rows


def languages() -> list[dict[str, Any]]:
    from . import languages as langs

    return [{"code": lang.code, "name": lang.name, "native_name": lang.native_name, "resource": lang.resource,
             "script": lang.script, "reviewed": lang.reviewed or None, "file": str(langs.table_path(lang.code))}
            for lang in langs.all_languages()]


def campaigns() -> list[dict[str, Any]]:
    rows = []
    for path in sorted(CAMPAIGNS.glob("*.yaml")):
        try:
            models = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("models") or []
        except yaml.YAMLError as exc:
            raise GlobmedError(f"{path}: cannot read campaign: {exc}") from None
        rows.append({"name": path.stem, "description": _first_comment(path), "models": len(models),
                     "confirmed": sum(1 for m in models if isinstance(m, dict) and m.get("confirmed")),
                     "backends": sorted({str(m.get("backend")) for m in models if isinstance(m, dict)}),
                     "file": str(path)})
    return rows


def recipes() -> list[dict[str, Any]]:
    from .train.settings import recipe_names, recipe_path

    rows = []
    for name in recipe_names():
        path = recipe_path(name)
        model = (yaml.safe_load(path.read_text(encoding="utf-8")) or {}).get("model")
        rows.append({"name": name, "description": _first_comment(path), "model": model, "file": str(path)})
    return rows


def _first_comment(path: Path) -> str:
    """The file's first comment line, without a leading "NAME:" (how recipes and campaigns describe themselves)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    first = lines[0].lstrip("# ").strip() if lines and lines[0].startswith("#") else ""
    for prefix in (f"{path.stem}:", f"{path.name}:"):
        if first.startswith(prefix):
            first = first[len(prefix):].strip()
    return first


LISTINGS: dict[str, Callable[[], list[dict[str, Any]]]] = {
    "datasets": datasets, "languages": languages, "campaigns": campaigns, "recipes": recipes}
# the columns the table shows (JSON has every field)
COLUMNS = {
    "datasets": ("name", "task", "language", "licence", "source", "file"),
    "languages": ("code", "name", "native_name", "resource", "script", "file"),
    "campaigns": ("name", "models", "confirmed", "description", "file"),
    "recipes": ("name", "model", "description", "file"),
}


def listing(what: str) -> list[dict[str, Any]]:
    try:
        return LISTINGS[what]()
    except KeyError:
        raise GlobmedError(f"nothing called {what!r} to list; choose one of {', '.join(LISTINGS)}") from None
