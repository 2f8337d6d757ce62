"""Image dependence: does an item's question present a picture the text cannot carry?

The phrases are data (images.yaml, one table per source language); this module compiles them
once and finds the first one in a text. A phrase can be cancelled by what comes just before it
(`unless_before`: "studies have shown"), right after it (`unless_after`: "shown to be"), or by
content given as text right after it (`unless_text_follows`: "values are shown below:\nNa 141").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..yamlfile import Lines, read_yaml

HERE = Path(__file__).resolve().parent / "images.yaml"
_PLACEHOLDER = re.compile(r"<(\w+)>")
_KEYS = {"pattern", "anchors", "unless_before", "unless_after", "unless_text_follows"}
# A line of values ("Sodium 141 mEq/L", "Hemoglobin: 9 g/dL"): short, with a digit or a colon.
_DATA_LINE = re.compile(r"^[^\n]{0,80}?(?:\d|:)[^\n]{0,60}$")
# A heading over values ("Complete blood count"): short, and not a sentence.
_HEADING = re.compile(r"^[^\n.?!]{1,50}$")


@dataclass(frozen=True)
class Phrase:
    name: str
    pattern: re.Pattern[str]
    unless_before: re.Pattern[str] | None = None
    unless_after: re.Pattern[str] | None = None
    unless_text_follows: bool = False
    anchors: tuple[str, ...] = ()  # lowercase words one of which the pattern cannot match without

    def search(self, text: str, lowered: str | None = None) -> re.Match[str] | None:
        if self.anchors:
            lowered = text.lower() if lowered is None else lowered
            if not any(a in lowered for a in self.anchors):
                return None  # a substring test is ~100x cheaper than the regular expression
        for m in self.pattern.finditer(text):
            if self.unless_before and self.unless_before.search(text[max(0, m.start() - 80):m.start()]):
                continue
            if self.unless_after and self.unless_after.match(text[m.end():]):
                continue
            if self.unless_text_follows and text_follows(text[m.end():]):
                continue
            return m
        return None


@dataclass(frozen=True)
class ImageRule:
    fields: tuple[str, ...]
    phrases: dict[str, tuple[Phrase, ...]]  # language -> phrases

    def find(self, text: str, language: str) -> tuple[str, str] | None:
        """(phrase name, the words that matched) of the first phrase found in `text`, else None."""
        lowered = text.lower()
        for phrase in self.phrases.get(language, ()):
            m = phrase.search(text, lowered)
            if m:
                return phrase.name, m.group(0).strip()
        return None


def text_follows(rest: str) -> bool:
    """True when the text after a phrase gives the content itself: its clause ends in a colon or dash
    followed by words ("shown in the following table: Urine test ..."), or a new line of values follows
    ("are shown below.\\n\\nSerum:\\nNa+: 139 mEq/L"), or the clause lists numbers ("given below 250, 320, 190")."""
    clause = re.match(r"[^.:?!\n]{0,120}", rest)
    if len(re.findall(r"\d+(?:[.,]\d+)?", clause.group(0))) >= 3:
        return True
    m = re.match(r"([.:;\-–]?)[ \t]*((?:\n[ \t]*)*)", rest[clause.end():])
    after = rest[clause.end() + m.end():]
    if not after.strip():
        return False
    if m.group(1) in (":", "-", "–"):
        return bool(re.match(r"\w", after))  # "table:\nUrine test ..." "below: Test Positive ..."
    return bool(m.group(2)) and _values_follow(after)


def _values_follow(text: str) -> bool:
    """The lines after a line break are values (perhaps under a heading), not the question going on."""
    lines = [line.strip() for line in text.split("\n") if line.strip()][:3]
    if not lines:
        return False
    if _DATA_LINE.match(lines[0]):
        return True
    return bool(_HEADING.match(lines[0])) and any(_DATA_LINE.match(line) for line in lines[1:])


def _compile(value: Any, words: dict[str, str], where: str, anchored: str = "") -> re.Pattern[str]:
    if not isinstance(value, str) or not value:
        raise GlobmedError(f"{where}: expected a regular expression (a non-empty string)")
    unknown = sorted(set(_PLACEHOLDER.findall(value)) - set(words))
    if unknown:
        raise GlobmedError(f"{where}: unknown word fragment(s) {', '.join(f'<{u}>' for u in unknown)}; "
                           f"known: {', '.join(sorted(words))}")
    expanded = _PLACEHOLDER.sub(lambda m: words[m.group(1)], value)
    if anchored == "end" and not expanded.endswith("$"):
        raise GlobmedError(f"{where}: unless_before must end with $ (it is matched against the text just before)")
    if anchored == "start" and not expanded.startswith("^"):
        raise GlobmedError(f"{where}: unless_after must start with ^ (it is matched against the text right after)")
    try:
        return re.compile(expanded, re.IGNORECASE)
    except re.error as exc:
        raise GlobmedError(f"{where}: not a valid regular expression ({exc})") from None


def parse(data: Any, lines: Lines) -> ImageRule:
    if not isinstance(data, dict) or not isinstance(data.get("phrases"), dict):
        raise GlobmedError(f"{lines.at()}: expected a mapping with 'fields', 'words' and 'phrases'")
    words = data.get("words") or {}
    if not isinstance(words, dict) or not all(isinstance(v, str) for v in words.values()):
        raise GlobmedError(f"{lines.at('words')}: 'words' must map names to regular expression fragments")
    fields = data.get("fields") or ["question"]
    phrases: dict[str, tuple[Phrase, ...]] = {}
    for language, table in data["phrases"].items():
        if not isinstance(table, dict):
            raise GlobmedError(f"{lines.at('phrases', language)}: expected a mapping of phrase names")
        found = []
        for name, spec in table.items():
            at = lines.at("phrases", language, name)
            if not isinstance(spec, dict) or "pattern" not in spec:
                raise GlobmedError(f"{at}: phrase '{name}' needs a 'pattern'")
            unknown = sorted(set(spec) - _KEYS)
            if unknown:
                raise GlobmedError(f"{at}: unknown key(s) {', '.join(unknown)} in phrase '{name}'; known: {', '.join(sorted(_KEYS))}")
            before, after = spec.get("unless_before"), spec.get("unless_after")
            anchors = spec.get("anchors") or []
            if not isinstance(anchors, list) or not all(isinstance(a, str) and a and a == a.lower() for a in anchors):
                raise GlobmedError(f"{lines.at('phrases', language, name, 'anchors')}: 'anchors' must be a list of "
                                   "lowercase words")
            found.append(Phrase(
                name, _compile(spec["pattern"], words, lines.at("phrases", language, name, "pattern")),
                _compile(before, words, lines.at("phrases", language, name, "unless_before"), "end") if before else None,
                _compile(after, words, lines.at("phrases", language, name, "unless_after"), "start") if after else None,
                bool(spec.get("unless_text_follows", False)), tuple(anchors),
            ))
        phrases[str(language)] = tuple(found)
    return ImageRule(tuple(fields), phrases)


@lru_cache(maxsize=4)
def load(path: Path = HERE) -> ImageRule:
    data, lines = read_yaml(path, "image phrase table")
    return parse(data, lines)
