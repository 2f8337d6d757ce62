"""Structure checks between a source record and its translation.

Used by `data build` (every attached translation) and by the translation pipeline (before a
translation is accepted). A translation must keep the item's shape: the same option count and
order, no empty field, the answer key and labels untouched (they are never translated), and the
same numbers and units (a dose that changes is a dangerous translation error).

What a source text requires is computed once per record (`expectations`) and reused for every
target language: a build checks ~11 translations of each source item.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

from .records import Record

# Separators inside a number differ by language (38.5 / 38,5 / 1 000): compare digit strings.
_NUMBER = re.compile(r"\d+(?:[.,\u00a0\u202f\u2009 ]\d+)*")
_SEPARATORS = str.maketrans("", "", ".,\u00a0\u202f\u2009 ")
_UNITS = ("mg/dL", "mmol/L", "mg/kg", "µg", "mcg", "mg", "kg/m2", "kg/m²", "kg", "mL", "ml", "mmHg", "°C", "°F",
          "IU", "mEq/L", "g/dL", "cm", "mm", "bpm", "%")
# Not inside a word of an alphabetic script ("sàmm" holds no "mm"), but right after a digit is fine
# ("500mg"), and so is touching Chinese, Japanese or Korean text, which puts no space between words
# ("39.5 °Cの発熱", "164/112 mmHg이고").
_LETTER = r"[^\W\d_\u1100-\u11ff\u3000-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef]"
_UNIT = re.compile(r"(?<!" + _LETTER + r")(" + "|".join(re.escape(u) for u in _UNITS) + r")(?!" + _LETTER + r")")
_PLACEHOLDER = re.compile(r"\{[^{}\s]+\}|<[A-Z_]+>|\[[A-Z_]+\]")
OPTIONAL = {"explanation"}  # a translation may leave the gold explanation out (it is then dropped)

Expectation = tuple[Counter[str], Counter[str], frozenset[str]]  # numbers, units, placeholders of one text


def numbers(text: str) -> Counter[str]:
    return Counter([m.translate(_SEPARATORS) for m in _NUMBER.findall(text)])


def units(text: str) -> Counter[str]:
    return Counter(u.lower().replace("²", "2").replace("mcg", "µg") for u in _UNIT.findall(text))


def _expect(text: str) -> Expectation:
    return numbers(text), units(text), frozenset(_PLACEHOLDER.findall(text))


def expectations(source: Record) -> dict[str, list[Expectation]]:
    """What each source text requires of its translation (per field; per item for options)."""
    out = {}
    for name in source.text_fields:
        value = getattr(source, name)
        if value in (None, "", []):
            continue
        out[name] = [_expect(v or "") for v in value] if isinstance(value, list) else [_expect(value)]
    return out


def check_translation(source: Record, texts: dict[str, Any],
                      expected: dict[str, list[Expectation]] | None = None) -> list[str]:
    """Problems with `texts` as a translation of `source` (empty list: it may be kept)."""
    expected = expectations(source) if expected is None else expected
    problems: list[str] = []
    for name in source.text_fields:
        original, new = getattr(source, name), texts.get(name)
        if original in (None, "", []):
            continue
        if new in (None, "", []):
            if name not in OPTIONAL:
                problems.append(f"field '{name}' is missing or empty")
            continue
        if isinstance(original, list):
            if not isinstance(new, list) or len(new) != len(original):
                got = len(new) if isinstance(new, list) else type(new).__name__
                problems.append(f"field '{name}' must have {len(original)} items in the source order, got {got}")
                continue
            empty = [i + 1 for i, v in enumerate(new) if not (isinstance(v, str) and v.strip())]
            if empty:
                problems.append(f"field '{name}': empty item(s) at position(s) {empty}")
                continue
            targets = new
        elif not isinstance(new, str):
            problems.append(f"field '{name}' must be text, got {type(new).__name__}")
            continue
        else:
            targets = [new]
        for i, ((want_numbers, want_units, want_holders), dst) in enumerate(zip(expected[name], targets)):
            if not (want_numbers or want_units or want_holders):
                continue  # most texts: nothing that must survive verbatim
            where = f"field '{name}'" + (f" item {i + 1}" if isinstance(original, list) else "")
            missing = want_numbers - numbers(dst)
            if missing:
                problems.append(f"{where}: number(s) {sorted(missing)} of the source are missing or changed")
            lost = want_units - units(dst) if want_units else None
            if lost:
                problems.append(f"{where}: unit(s) {sorted(lost)} of the source are missing")
            gone = want_holders - set(_PLACEHOLDER.findall(dst)) if want_holders else None
            if gone:
                problems.append(f"{where}: placeholder(s) {sorted(gone)} are missing")
    extra = set(texts) - set(source.text_fields)
    if extra:
        problems.append(f"field(s) {sorted(extra)} are not translatable (answer keys and labels are never translated)")
    return problems
