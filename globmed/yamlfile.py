"""YAML files people write by hand (settings, recipes, language tables, the dataset registry), read so that
every error can name the file, the line and the field.

`read_yaml(path, what)` parses once and returns the data with a `Lines` index: the line of each mapping
key, by its path of keys (`("nli", "labels")`). Errors of the file itself (unreadable, not YAML) are
GlobmedErrors naming FILE:LINE.

Limits: aliases may repeat values, but a document may hold at most MAX_VALUES values once every alias
is expanded (a few hundred bytes of nested aliases otherwise expand to billions), and no alias may
contain itself; nesting deeper than Python's recursion limit is refused too. Hand-written settings,
recipes, language tables and the registry hold a few thousand values at most.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from .errors import GlobmedError

MAX_VALUES = 100_000  # values (scalars, lists, mappings) after alias expansion


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


def _key_lines(node: yaml.Node, prefix: tuple[str, ...], out: dict[tuple[str, ...], int],
               seen: set[int] | None = None) -> None:
    """The line of each key; a node reached again through an alias is not walked twice."""
    seen = set() if seen is None else seen
    if isinstance(node, yaml.MappingNode) and id(node) not in seen:
        seen.add(id(node))
        for key, value in node.value:
            path = prefix + (str(key.value),)
            out.setdefault(path, key.start_mark.line + 1)
            _key_lines(value, path, out, seen)


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.MappingNode):
        return [n for pair in node.value for n in pair]
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    return []


def check_expansion(node: yaml.Node, where: str, what: str) -> None:
    """Refuse a document whose aliases expand past MAX_VALUES values, or an alias inside itself.
    Sizes are counted per distinct node (memoised), so the check itself stays small."""
    sizes: dict[int, int] = {}
    open_: set[int] = set()
    stack: list[tuple[yaml.Node, bool]] = [(node, False)]
    while stack:
        current, finished = stack.pop()
        ident = id(current)
        if finished:
            open_.discard(ident)
            sizes[ident] = size = 1 + sum(sizes[id(c)] for c in _children(current))
            if size > MAX_VALUES:
                raise GlobmedError(f"{where}:{current.start_mark.line + 1}: cannot read {what}: its aliases expand to "
                                   f"more than {MAX_VALUES:,} values (the limit); write the values out")
            continue
        if ident in sizes:
            continue
        if ident in open_:
            raise GlobmedError(f"{where}:{current.start_mark.line + 1}: cannot read {what}: an alias refers to "
                               f"a value that contains it (a recursive alias)")
        open_.add(ident)
        stack.append((current, True))
        stack.extend((c, False) for c in _children(current) if id(c) not in sizes)


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
        if node is not None:
            check_expansion(node, str(path), what)
        data = loader.construct_document(node) if node is not None else None
    except RecursionError:
        raise GlobmedError(f"{path}: cannot read {what}: nested too deeply") from None
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
