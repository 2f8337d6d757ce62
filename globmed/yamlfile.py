"""YAML files people write by hand (settings, recipes, language tables, the dataset registry), read so that
every error can name the file, the line and the field.

`read_yaml(path, what)` parses once and returns the data with a `Lines` index: the line of each mapping
key, by its path of keys (`("nli", "labels")`). Errors of the file itself (unreadable, not YAML) are
GlobmedErrors naming FILE:LINE.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import GlobmedError


class Lines:
    """Where each key of a YAML file was written: `lines.at("nli", "labels")` -> "FILE:LINE"."""

    def __init__(self, path: Path, lines: dict[tuple[str, ...], int]):
        self.path, self.lines = path, lines

    def line(self, *keys: str) -> int | None:
        # the closest key written in the file: a missing field is named at the mapping that lacks it
        while keys and keys not in self.lines:
            keys = keys[:-1]
        return self.lines.get(keys)

    def at(self, *keys: str) -> str:
        line = self.line(*keys)
        return f"{self.path}:{line}" if line else str(self.path)


def _key_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int]) -> None:
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            path = prefix + (str(key.value),)
            out.setdefault(path, key.start_mark.line + 1)
            _key_lines(value, path, out)


def read_yaml(path: Path, what: str = "file") -> tuple[Any, Lines]:
    """The parsed document (None for an empty file) and the line of each key. `what` names the file's
    kind in errors ("settings", "language table", ...)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise GlobmedError(f"{path}: cannot read {what}: {exc}") from None
    loader = yaml.SafeLoader(text)
    try:  # one parse gives both the values and each key's line
        node = loader.get_single_node()
        data = loader.construct_document(node) if node is not None else None
    except yaml.MarkedYAMLError as exc:
        line = f":{exc.problem_mark.line + 1}" if exc.problem_mark else ""
        detail = "; ".join(str(x) for x in (exc.context, exc.problem) if x)
        raise GlobmedError(f"{path}{line}: cannot read {what}: not valid YAML ({detail})") from None
    except yaml.YAMLError as exc:
        raise GlobmedError(f"{path}: cannot read {what}: {exc}") from None
    finally:
        loader.dispose()
    lines: dict[tuple[str, ...], int] = {}
    if node is not None:
        _key_lines(node, (), lines)
    return data, Lines(path, lines)
