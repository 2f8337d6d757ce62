"""Languages are data: one YAML table per language in this folder (see en.yaml for the schema).

Extra folders can be added with the GLOBMED_LANGUAGES_PATH environment variable (os.pathsep
separated); a file there overrides a shipped one with the same code.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..yamlfile import read_yaml

HERE = Path(__file__).parent
REQUIRED = ("code", "name", "native_name", "resource", "script", "system", "mcqa", "nli", "lfqa", "extraction")
NLI_LABELS = ("entailment", "neutral", "contradiction")
EXTRACTION_FIELDS = ("answer_phrases", "option_words", "choice_verbs", "conclusion_markers", "copulas", "fillers",
                     "verdicts", "refusal_phrases", "letter_words", "negations", "negations_after", "conditionals")


@dataclass(frozen=True)
class Language:
    code: str
    name: str
    native_name: str
    resource: str
    script: str
    system: str
    mcqa: dict[str, str]
    nli: dict[str, Any]
    lfqa: dict[str, str]
    extraction: dict[str, list[str]]
    char_tokenized: bool = False
    disclaimer: str = ""
    reviewed: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def low_resource(self) -> bool:
        return self.resource == "low"

    def label_word(self, label: str) -> str:
        """The word shown in prompts for a canonical NLI label."""
        return self.nli["labels"][label][0]


def _search_path() -> list[Path]:
    extra = [Path(p) for p in os.environ.get("GLOBMED_LANGUAGES_PATH", "").split(os.pathsep) if p]
    return [HERE, *extra]


def _load(path: Path) -> Language:
    data, lines = read_yaml(path, "language table")
    if not isinstance(data, dict):
        raise GlobmedError(f"{path}: a language table must be a mapping")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise GlobmedError(f"{path}: missing field(s) {', '.join(missing)}")
    if data["code"] != path.stem:
        raise GlobmedError(f"{lines.at('code')}: field 'code' is {data['code']!r} but the file is named {path.name}")
    if not isinstance(data["nli"], dict):
        raise GlobmedError(f"{lines.at('nli')}: field 'nli' must be a mapping (labels, answer_format, ...)")
    labels = data["nli"].get("labels") or {}
    bad = [k for k in NLI_LABELS if not (isinstance(labels, dict) and labels.get(k))]
    if bad:
        raise GlobmedError(f"{lines.at('nli', 'labels')}: field 'nli.labels' lacks words for {', '.join(bad)}")
    if "{labels}" not in str(data["nli"].get("answer_format", "")):
        raise GlobmedError(f"{lines.at('nli', 'answer_format')}: field 'nli.answer_format' must contain {{labels}}")
    _check_extraction(data["extraction"], lines)
    known = {f for f in Language.__dataclass_fields__ if f != "extra"}
    return Language(**{k: v for k, v in data.items() if k in known},
                    extra={k: v for k, v in data.items() if k not in known})


def _check_extraction(extraction: Any, lines: Any) -> None:
    """The extraction section: known fields (see en.yaml's header), each a list of words."""
    if not isinstance(extraction, dict):
        raise GlobmedError(f"{lines.at('extraction')}: field 'extraction' must be a mapping of word lists")
    for name, words in extraction.items():
        if name not in EXTRACTION_FIELDS:
            raise GlobmedError(f"{lines.at('extraction', str(name))}: unknown field 'extraction.{name}' "
                               f"(known: {', '.join(EXTRACTION_FIELDS)})")
        if not isinstance(words, list) or not all(isinstance(w, str) and w.strip() for w in words):
            raise GlobmedError(f"{lines.at('extraction', str(name))}: field 'extraction.{name}' must be a list of words")


@lru_cache(maxsize=None)
def _tables() -> dict[str, Language]:
    tables: dict[str, Language] = {}
    for folder in _search_path():
        for path in sorted(folder.glob("*.yaml")):
            tables[path.stem] = _load(path)
    return tables


def table_path(code: str) -> Path:
    """The file the table of `code` was read from (a later folder on the search path wins)."""
    get(code)
    return [folder / f"{code}.yaml" for folder in _search_path() if (folder / f"{code}.yaml").is_file()][-1]


def reload() -> None:
    """Forget loaded tables (after GLOBMED_LANGUAGES_PATH changes)."""
    _tables.cache_clear()


def all_languages() -> list[Language]:
    """High-resource languages first, then low-resource ones, each group by code."""
    return sorted(_tables().values(), key=lambda lang: (lang.resource != "high", lang.code))


def codes() -> list[str]:
    return [lang.code for lang in all_languages()]


def get(code: str) -> Language:
    try:
        return _tables()[code]
    except KeyError:
        raise GlobmedError(f"unknown language {code!r}; known: {', '.join(codes())}") from None


def parse_languages(spec: str | list[str] | None) -> list[str]:
    """'all' / None -> every language; 'sw,zu' or a list -> those, validated."""
    if spec is None or spec == "all" or spec == ["all"]:
        return codes()
    items = spec.split(",") if isinstance(spec, str) else list(spec)
    out = [c.strip() for c in items if c.strip()]
    for c in out:
        get(c)
    return out
