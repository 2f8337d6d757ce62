"""Per-stage prompt templates: plain text files with [system] / [user] sections and {{name}} placeholders.

The shipped templates are in globmed/translate/prompts/ (draft.txt, review.txt, refine.txt, fix.txt,
backtranslate.txt); `--prompts DIR` replaces any of them with a file of the same name in DIR. Lines
starting with "#" (before a section or at the top) are comments. A template's text is part of every
request it renders, so editing a template changes the store keys: the affected stages are sent again.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import GlobmedError

HERE = Path(__file__).parent / "prompts"
STAGES = ("draft", "review", "refine", "fix", "backtranslate")
# Each stage's direction: (the language of the text it translates, the language it answers in). The
# answer skeleton ({{output_format}}) and {{input_language}} / {{output_language}} follow it.
DIRECTION = {"draft": ("source", "target"), "review": ("source", "target"), "refine": ("source", "target"),
             "fix": ("source", "target"), "backtranslate": ("target", "source")}
_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+)\s*\}\}")
_SECTION = re.compile(r"^\[(system|user|assistant)\]\s*$")


@dataclass(frozen=True)
class Template:
    name: str
    path: str
    sections: tuple[tuple[str, str], ...]  # (role, text)

    @property
    def placeholders(self) -> set[str]:
        return {m for _, text in self.sections for m in _PLACEHOLDER.findall(text)}

    @property
    def hash(self) -> str:
        return hashlib.sha256(repr(self.sections).encode()).hexdigest()[:12]

    def render(self, values: dict[str, Any]) -> tuple[dict[str, str], ...]:
        missing = self.placeholders - set(values)
        if missing:
            raise GlobmedError(f"{self.path}: no value for placeholder(s) {', '.join(sorted(missing))}")
        return tuple({"role": role, "content": _PLACEHOLDER.sub(lambda m: str(values[m.group(1)]), text)}
                     for role, text in self.sections)


def parse(text: str, path: str, name: str) -> Template:
    sections: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        m = _SECTION.match(line)
        if m:
            sections.append((m.group(1), []))
        elif sections:
            sections[-1][1].append(line)
        elif line.strip() and not line.startswith("#"):
            raise GlobmedError(f"{path}: text before the first [system] or [user] section")
    if not sections or sections[-1][0] != "user":
        raise GlobmedError(f"{path}: a template needs a [user] section, last")
    return Template(name, path, tuple((role, "\n".join(lines).strip()) for role, lines in sections))


def load(prompts_dir: Path | None = None) -> dict[str, Template]:
    """The stage templates, the shipped ones replaced by same-named files in `prompts_dir`."""
    out = {}
    for stage in STAGES:
        path = HERE / f"{stage}.txt"
        if prompts_dir is not None:
            if not Path(prompts_dir).is_dir():
                raise GlobmedError(f"{prompts_dir}: prompts folder not found")
            if (Path(prompts_dir) / f"{stage}.txt").is_file():
                path = Path(prompts_dir) / f"{stage}.txt"
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise GlobmedError(f"{path}: cannot read template: {exc}") from None
        out[stage] = parse(text, str(path), stage)
    return out
