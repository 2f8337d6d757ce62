"""Reading source files strictly: UTF-8 only, and errors that name the file and line.

Limits (each a SourceError naming the file, and the line where there is one):
- a line of a line-based file (JSON lines, CSV, TSV, text) may hold MAX_LINE_BYTES (8 MiB; a real
  item is a few KB); GLOBMED_MAX_LINE_BYTES raises it;
- a whole-document file (JSON, XML) may hold MAX_DOCUMENT_BYTES (512 MiB); GLOBMED_MAX_DOCUMENT_BYTES;
- a sources folder may not hold symlinks that lead outside it (`links_leaving`), unless the user says so
  (`--follow-symlinks`): a stray link would otherwise read, and publish, files from elsewhere.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator

from ..errors import GlobmedError, SourceError
from ..records import Issue

LFS_POINTER = b"version https://git-lfs.github.com/spec/"


def refuse_lfs_pointer(head: bytes, display: Path | str) -> None:
    """A clone without Git LFS leaves a small pointer file where the data should be (ExpertQA's
    r2_compiled_anon.jsonl is one): say so, rather than report a broken file."""
    if head.startswith(LFS_POINTER):
        raise SourceError(display, "this is a Git LFS pointer, not the data: fetch the file itself (`git lfs pull` "
                                   "in the cloned repository, or download it from the web page)", line=1)


MAX_LINE_BYTES = int(os.environ.get("GLOBMED_MAX_LINE_BYTES") or 8 * 1024 * 1024)
MAX_DOCUMENT_BYTES = int(os.environ.get("GLOBMED_MAX_DOCUMENT_BYTES") or 512 * 1024 * 1024)
LINE_FORMATS = (".jsonl", ".csv", ".tsv", ".txt")


def _too_long(display: str, lineno: int) -> SourceError:
    return SourceError(display, f"line longer than {MAX_LINE_BYTES:,} bytes, the limit for one source line "
                                f"(GLOBMED_MAX_LINE_BYTES raises it); is this the right file?", line=lineno)


def lines(fh: Any, display: str) -> Iterator[tuple[int, bytes]]:
    """(line number, raw line) of a binary file, never holding more than one line of MAX_LINE_BYTES."""
    lineno = 0
    while raw := fh.readline(MAX_LINE_BYTES + 1):
        lineno += 1
        if len(raw) > MAX_LINE_BYTES and not (len(raw) == MAX_LINE_BYTES + 1 and raw.endswith(b"\n")):
            raise _too_long(display, lineno)
        yield lineno, raw


def _check_size(path: Path, display: str) -> None:
    size = path.stat().st_size
    if size > MAX_DOCUMENT_BYTES:
        raise SourceError(display, f"{size:,} bytes; a source document may hold {MAX_DOCUMENT_BYTES:,} "
                                   f"(GLOBMED_MAX_DOCUMENT_BYTES raises it)")


def links_leaving(root: Path) -> list[tuple[Path, str]]:
    """Every symlink under `root` whose target lies outside it (or is missing), with that target."""
    root = Path(root)
    base = root.resolve()
    out = []
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            if path.is_symlink():
                target = path.resolve()
                if not target.is_relative_to(base) or not target.exists():
                    out.append((path, str(target)))
    return out


def refuse_links_leaving(root: Path, what: str = "sources folder") -> None:
    """A GlobmedError naming the symlinks that leave `root` (the CLI's --follow-symlinks skips this check)."""
    leaving = links_leaving(root)
    if leaving:
        shown = "; ".join(f"{p} -> {t}" for p, t in leaving[:5]) + (f"; and {len(leaving) - 5} more" if len(leaving) > 5 else "")
        raise GlobmedError(f"{root}: the {what} holds symlinks that lead outside it: {shown}. Replace them with "
                           f"the files, or pass --follow-symlinks to read them anyway.")


def decode(raw: bytes, path: Path | str, line: int | None = None) -> str:
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        where = line if line is not None else raw.count(b"\n", 0, exc.start) + 1
        raise SourceError(path, f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); re-encode the file as UTF-8",
                          line=where) from None


def read_text(path: Path, display: str) -> str:
    """The whole file as text, within the limits (document size; line length for line-based formats)."""
    path = Path(path)
    _check_size(path, display)
    if path.suffix.lower() in LINE_FORMATS:
        with open(path, "rb") as fh:
            for _ in lines(fh, display):
                pass
    raw = path.read_bytes()
    refuse_lfs_pointer(raw[:64], display)
    return decode(raw, display).removeprefix("\ufeff")


def load_json(path: Path, display: str) -> Any:
    try:
        return json.loads(read_text(path, display))
    except json.JSONDecodeError as exc:
        raise SourceError(display, f"invalid JSON: {exc.msg} at column {exc.colno} (is the file truncated?)",
                          line=exc.lineno) from None


def iter_jsonl(path: Path, display: str) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is an error naming it."""
    with open(path, "rb") as fh:
        for lineno, raw in lines(fh, display):
            text = decode(raw, display, lineno)
            if lineno == 1:
                refuse_lfs_pointer(raw, display)
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            try:
                obj = json.loads(text)
            except json.JSONDecodeError as exc:
                raise SourceError(display, f"invalid JSON: {exc.msg} at column {exc.colno} (truncated line?)",
                                  line=lineno) from None
            if not isinstance(obj, dict):
                raise SourceError(display, f"expected a JSON object, got {type(obj).__name__}", line=lineno)
            yield lineno, obj


def iter_rows(path: Path, display: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """("file:line" or "file:row N", row) for each row of a JSON-lines, CSV or parquet file."""
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        with open(path, "rb") as fh:
            refuse_lfs_pointer(fh.read(64), display)
        try:
            pf = pq.ParquetFile(path)
        except Exception as exc:  # pyarrow raises several types for a broken file
            raise SourceError(display, f"not a readable parquet file: {exc}") from None
        n = 0
        for batch in pf.iter_batches(batch_size=4096):
            for row in batch.to_pylist():
                n += 1
                yield f"{display}:row {n}", row
    elif path.suffix == ".csv":
        rows = csv.DictReader(io.StringIO(read_text(path, display), newline=""))
        try:
            for row in rows:
                yield f"{display}:{rows.line_num}", row
        except csv.Error as exc:
            raise SourceError(display, f"broken CSV: {exc}", line=rows.line_num) from None
    else:
        for line, obj in iter_jsonl(path, display):
            yield f"{display}:{line}", obj


def dig(obj: Any, dotted: str) -> Any:
    """obj['a']['b'] for 'a.b'; None when any step is missing."""
    for part in dotted.split("."):
        if not isinstance(obj, dict):
            return None
        obj = obj.get(part)
    return obj


@dataclass(frozen=True)
class MissingField(Issue):
    """A required source field that the raw item does not have (absent or null), with the fields it
    does have: the schema check tells a file with other field names from a few incomplete rows."""

    seen: tuple[str, ...] = ()


class Fields:
    """Reads fields of one raw item, collecting an Issue for each missing or ill-typed one.

    Required fields read through `text`/`get` are what the schema check counts: a file where most
    rows lack one is an error naming the fields expected and seen, not a screening entry per row.
    `seen` names the fields the raw item has when `obj` is not the raw item itself (XML elements)."""

    def __init__(self, obj: dict[str, Any], seen: Iterable[str] | None = None):
        self.obj = obj
        self.seen = tuple(seen) if seen is not None else tuple(k for k, v in obj.items() if v is not None)
        self.issues: list[Issue] = []

    def text(self, name: str, required: bool = True) -> str | None:
        value = dig(self.obj, name)
        if value is None and required:
            self.missing(name, f"field '{name}' is missing or empty")
            return None
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                self.issue("incompleteness", "missing_field", name, f"field '{name}' is missing or empty")
            return None
        if not isinstance(value, (str, int, float)):
            self.issue("disorganization", "malformed_text", name, f"field '{name}' should be text, got {type(value).__name__}")
            return None
        return str(value)

    def get(self, name: str, required: bool = True) -> Any:
        value = dig(self.obj, name)
        if value is None and required:
            self.missing(name, f"field '{name}' is missing")
        return value

    def issue(self, rule: str, check: str, field: str, reason: str) -> None:
        self.issues.append(Issue(rule, check, field, reason))

    def missing(self, name: str, reason: str) -> None:
        self.issues.append(MissingField("incompleteness", "missing_field", name, reason, self.seen))


class SchemaCheck:
    """Counts, over one source file, the rows that lack each required field. Most rows lacking one
    means the file is not in the shape the reader expects (other field names, another release):
    `check()` then raises, naming the file, the fields expected and the fields the rows have."""

    def __init__(self, display: str, reader: str, hint: str = ""):
        self.display, self.reader, self.hint = display, reader, hint
        self.rows = 0
        self.lacking: Counter[str] = Counter()
        self.seen: Counter[str] = Counter()

    def count(self, issues: Iterable[Issue]) -> None:
        self.rows += 1
        missing = [i for i in issues if isinstance(i, MissingField)]
        for field in {i.field for i in missing}:
            self.lacking[field] += 1
        if missing:
            self.seen.update(missing[0].seen)

    def check(self) -> None:
        mostly = sorted(f for f, n in self.lacking.items() if n * 2 > self.rows)
        if not mostly:
            return
        counts = ", ".join(f"'{f}' ({self.lacking[f]} of {self.rows} rows)" for f in mostly)
        seen = ", ".join(f"'{k}'" for k, _ in sorted(self.seen.items(), key=lambda kv: (-kv[1], kv[0]))) or "none"
        raise SourceError(self.display, f"most rows lack the field(s) the {self.reader} reader expects: {counts}; "
                                        f"the rows have the fields {seen}" + (f" ({self.hint})" if self.hint else ""))


def letter_for(index: int | None, count: int) -> str | None:
    from ..records import LETTERS

    if index is None or not 0 <= index < min(count, len(LETTERS)):
        return None
    return LETTERS[index]
