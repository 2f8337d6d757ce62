"""Reading the models' structured answers robustly.

Models wrap JSON in code fences, add a sentence before or after it, leave trailing commas, number
options ("A. ...") or return them as {"A": ..., "B": ...}. `parse_fields` accepts all of that and
returns the record's text fields, or a clear reason why the answer is not usable.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..records import LETTERS

_FENCE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.S)
_THINK = re.compile(r"<think>.*?</think>", re.S | re.I)
_TRAILING_COMMA = re.compile(r",\s*([}\]])")
_LETTER_PREFIX = re.compile(r"^\s*(?:\(?[A-Ja-j]\)|[A-Ja-j][.:)]|\d{1,2}[.:)])\s+")


def _candidates(text: str) -> list[str]:
    text = _THINK.sub("", text or "").strip()
    found = [m.group(1).strip() for m in _FENCE.finditer(text)]
    start = text.find("{")
    if start >= 0:
        depth, in_str, esc = 0, False, False
        for i in range(start, len(text)):
            c = text[i]
            if in_str:
                if esc:
                    esc = False
                elif c == "\\":
                    esc = True
                elif c == '"':
                    in_str = False
            elif c == '"':
                in_str = True
            elif c == "{":
                depth += 1
            elif c == "}":
                depth -= 1
                if depth == 0:
                    found.append(text[start:i + 1])
                    break
        end = text.rfind("}")
        if end > start:
            found.append(text[start:end + 1])
    found.append(text)
    return found


def parse_json_object(text: str) -> dict[str, Any] | None:
    """The first JSON object found in a model's answer, or None."""
    for cand in _candidates(text):
        for attempt in (cand, _TRAILING_COMMA.sub(r"\1", cand)):
            try:
                obj = json.loads(attempt, strict=False)
            except (json.JSONDecodeError, ValueError):
                continue
            if isinstance(obj, dict):
                return obj
    return None


def _as_options(value: Any, expected: int | None, source: list[str] | None) -> Any:
    if isinstance(value, dict):  # {"A": "...", "B": "..."} -> list in letter (or numeric) order
        keys = list(value)
        if all(isinstance(k, str) and k.strip().upper()[:1] in LETTERS and len(k.strip()) <= 2 for k in keys):
            keys = sorted(keys, key=lambda k: k.strip().upper())
        elif all(str(k).strip().isdigit() for k in keys):
            keys = sorted(keys, key=lambda k: int(str(k)))
        value = [value[k] for k in keys]
    if isinstance(value, list):
        out = []
        for item in value:
            if isinstance(item, dict):  # {"letter": "A", "text": "..."}
                item = next((v for k, v in item.items() if k.lower() in ("text", "option", "value", "translation")), None)
            if isinstance(item, str):
                had_prefix = source is not None and any(_LETTER_PREFIX.match(s or "") for s in source)
                if not had_prefix:
                    item = _LETTER_PREFIX.sub("", item, count=1)
                item = item.strip()
            out.append(item)
        return out
    return value


def parse_fields(text: str | None, fields: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None, list[str]]:
    """(texts, problem, ignored keys): `fields` are the source's non-empty text fields (name -> value).

    Keys are matched case-insensitively; keys that are not text fields of the record are ignored
    (and returned, for the audit trail); values are stripped; options become a list.
    """
    obj = parse_json_object(text or "")
    if obj is None:
        snippet = " ".join((text or "").split())[:120]
        return None, f"the answer is not a JSON object (it begins: {snippet!r})" if snippet else "the answer is empty", []
    # Some models nest the fields ({"translation": {...}}).
    if not any(k.lower() in fields for k in obj) and len(obj) == 1 and isinstance(next(iter(obj.values())), dict):
        obj = next(iter(obj.values()))
    lowered = {str(k).strip().lower(): v for k, v in obj.items()}
    out: dict[str, Any] = {}
    for name, source in fields.items():
        if name not in lowered:
            continue
        value = lowered[name]
        if isinstance(source, list):
            value = _as_options(value, len(source), source)
        elif isinstance(value, str):
            value = value.strip()
        out[name] = value
    ignored = sorted(k for k in lowered if k not in fields)
    absent = [n for n in fields if n not in out]
    if absent and len(absent) == len(fields):
        return None, f"the JSON object has none of the keys {', '.join(fields)} (got {', '.join(map(str, obj)) or 'none'})", ignored
    return out, None, ignored
