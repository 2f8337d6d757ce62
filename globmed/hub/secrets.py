"""The secret scan run on every file before it is published: nothing holding a token or key leaves.

What it reads: each file's raw bytes, and what the file holds decoded (globmed.hub.content): parquet and
Arrow cell values (nested ones too) and schema metadata, the content of compressed files (.gz .bz2 .xz
.zst .lz4), the members of .zip/.tar archives.
What it looks for:
- the values of the Hub token used for the push, of every environment variable whose name marks a
  secret (`*_TOKEN`, `*_KEY`, `*_SECRET`, `*PASSWORD*`, `*CREDENTIALS*`, ...), and of the variables named
  by `--api-key-env` or a campaign entry (read from every results manifest in the folder and from the
  shipped campaigns), whatever they are called;
- values with the shape of known keys: Hugging Face (hf_), OpenAI (sk-, sk-proj-), Anthropic (sk-ant-),
  AWS access key ids (AKIA/ASIA), GitHub (ghp_, github_pat_), Google (AIza), Slack (xox?-), private keys.
Matching runs in RE2 (pyarrow.compute) over 4 MiB chunks: about 100 MB/s here, whatever the content.
A finding names the file, where in it, and what kind of secret; never the value.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

from ..core import manifest
from ..errors import GlobmedError
from .content import Part, batches, binary_values, chunks, parts, schema_of, table_file

SECRET_NAME = re.compile(r"(^|_)(TOKEN|KEY|SECRET|PASSWORD|PASSWD|PASSPHRASE|CREDENTIALS?|APIKEY|AUTH)S?(_|$)", re.I)
MIN_LENGTH = 8  # shorter values are not secrets worth matching (and would match everywhere)
# (kind, pattern): the shape of known keys, as bytes patterns (RE2 and Python re alike)
KEY_SHAPES = [
    ("a Hugging Face token (hf_...)", r"hf_[A-Za-z0-9]{30,}"),
    ("an Anthropic API key (sk-ant-...)", r"sk-ant-[A-Za-z0-9_-]{20,}"),
    ("an OpenAI-style API key (sk-...)", r"sk-[A-Za-z0-9_-]{20,}"),
    ("an AWS access key id (AKIA...)", r"(?:AKIA|ASIA)[A-Z0-9]{16}"),
    ("a GitHub token (ghp_...)", r"gh[pousr]_[A-Za-z0-9]{36,}"),
    ("a GitHub token (github_pat_...)", r"github_pat_[A-Za-z0-9_]{50,}"),
    ("a Google API key (AIza...)", r"AIza[0-9A-Za-z_-]{35}"),
    ("a Slack token (xox...)", r"xox[abposr]-[A-Za-z0-9-]{10,}"),
    ("a private key", r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
]
_BOUNDARY = r"(?:^|[^A-Za-z0-9_-])"  # a key starts a word (RE2 has no lookbehind)
OVERLAP = 1024  # bytes repeated between chunks: longer than any secret we match


@dataclass(frozen=True)
class Finding:
    file: str
    where: str
    what: str
    variable: str | None = None

    def message(self) -> str:
        where = f" ({self.where})" if self.where else ""
        unset = f", or unset {self.variable} if its value is not a secret" if self.variable else ""
        return (f"{self.file}{where}: holds {self.what}, a secret; refusing to upload anything. Remove it from the "
                f"file first{unset}.")


def _literal(value: bytes) -> str:
    """A byte string as an RE2/Python pattern that matches exactly it (Latin-1 mode: one byte, one char)."""
    return "".join(chr(b) if chr(b).isalnum() and b < 128 else f"\\x{b:02x}" for b in value)


def campaign_variables() -> set[str]:
    """The api_key_env names of the shipped campaigns."""
    from ..yamlfile import read_yaml

    names = set()
    for path in sorted((Path(__file__).resolve().parents[1] / "campaigns").glob("*.yaml")):
        data = read_yaml(path, "campaign")[0] or {}
        for entry in [data.get("defaults") or {}, *(data.get("models") or [])]:
            if isinstance(entry, dict) and isinstance(entry.get("api_key_env"), str):
                names.add(entry["api_key_env"])
    return names


def manifest_variables(files: Iterable[Any]) -> set[str]:
    """The api_key_env names recorded in the results manifests (globmed.json, any depth) among `files`."""
    names = set()
    for f in files:
        if Path(f.path_in_repo).name.lower() != manifest.NAME:
            continue
        try:
            data = json.loads(Path(f.local).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue  # the licence guard reports a broken manifest
        for ev in (data.get("evaluations") or {}).values() if isinstance(data, dict) else []:
            if isinstance(ev, dict) and isinstance(ev.get("api_key_env"), str):
                names.add(ev["api_key_env"])
    return names


def secrets_to_find(token: str | None, variables: Iterable[str] = ()) -> dict[str, tuple[str, str | None]]:
    """value -> (what it is, the variable holding it): the push token, every secret-looking environment
    variable, and the named `variables` whatever they are called."""
    named = set(variables)
    out: dict[str, tuple[str, str | None]] = {}
    for name, value in sorted(os.environ.items()):
        if (name in named or SECRET_NAME.search(name)) and len(value) >= MIN_LENGTH:
            out.setdefault(value, (f"the value of the environment variable {name}", name))
    if token:
        out[token] = ("the Hugging Face token used for this push", None)
    return out


class SecretScan:
    def __init__(self, secrets: dict[str, tuple[str, str | None]]):
        self.secrets = {v.encode("utf-8"): what for v, what in secrets.items() if v}
        # one RE2 pattern finds any hit (values anywhere; key shapes where a word starts); Python's re then
        # says which on the few chunks or values that hold one
        values = "|".join(_literal(v) for v in sorted(self.secrets, key=len, reverse=True))
        shapes = _BOUNDARY + "(?:" + "|".join(p for _, p in KEY_SHAPES) + ")"
        self.pattern = f"(?:{values})|{shapes}" if values else shapes
        self._values = re.compile(values.encode("latin-1")) if values else None
        self._shapes = [(what, re.compile(rf"(?<![A-Za-z0-9_-]){p}".encode())) for what, p in KEY_SHAPES]

    # -- what a hit is --------------------------------------------------------------------------------
    def _identify(self, data: bytes, start: int = 0) -> tuple[int, str, str | None] | None:
        """(position, what, variable) of the first secret in data[start:], or None."""
        best: tuple[int, str, str | None] | None = None
        if self._values is not None and (m := self._values.search(data, start)):
            what, variable = self.secrets[m.group(0)]
            best = (m.start(), what, variable)
        for what, pattern in self._shapes:
            if (m := pattern.search(data, start)) and (best is None or m.start() < best[0]):
                best = (m.start(), what, None)
        return best

    def _first(self, array: Any) -> int:
        """Index of the first value of a binary Arrow array holding a secret, or -1 (RE2, vectorised)."""
        import pyarrow.compute as pc

        hits = pc.match_substring_regex(array, self.pattern)
        index = pc.index(hits, True).as_py()
        return -1 if index is None else index

    # -- files ----------------------------------------------------------------------------------------
    def scan(self, path: Path, name: str) -> Finding | None:
        """The first secret in a file (raw bytes, then each decoded part), or None."""
        for part in parts(Path(path), name):
            found = self._scan_bytes(part) or self._scan_table(part)
            if found:
                where, what, variable = found
                inside = f"{part.where}: " if part.where else ""
                return Finding(name, inside + where, what, variable)
        return None

    def _scan_bytes(self, part: Part) -> tuple[str, str, str | None] | None:
        import pyarrow as pa

        for offset, data in chunks(part, OVERLAP):
            if self._first(pa.array([data], pa.large_binary())) >= 0:
                hit = self._identify(data)
                if hit:
                    return f"byte {offset + hit[0]:,}", hit[1], hit[2]
        return None

    def _scan_table(self, part: Part) -> tuple[str, str, str | None] | None:
        table = table_file(part)
        if table is None:
            return None
        schema = schema_of(table)
        for key, value in (schema.metadata or {}).items():
            hit = self._identify(key + b"\n" + value)
            if hit:
                return "schema metadata", hit[1], hit[2]
        row0 = 0
        for batch in batches(table):
            for name, column in zip(batch.schema.names, batch.columns):
                for values, nested in binary_values(column):
                    i = self._first(values)
                    if i < 0:
                        continue
                    hit = self._identify(values[i].as_py() or b"")
                    if hit is None:  # the match needs the value's neighbour: report the value itself
                        hit = (0, "a secret", None)
                    rows = f"rows {row0:,}-{row0 + batch.num_rows - 1:,}" if nested else f"row {row0 + i:,}"
                    return f"column {name!r}, {rows}", hit[1], hit[2]
            row0 += batch.num_rows
        return None


def scan_files(files: Iterable[Any], token: str | None) -> None:
    """Refuse (GlobmedError) when any planned file holds a secret; the message never shows its value."""
    files = list(files)
    variables = manifest_variables(files) | campaign_variables()
    scan = SecretScan(secrets_to_find(token, variables))
    for f in files:
        found = scan.scan(Path(f.local), f.path_in_repo)
        if found:
            raise GlobmedError(found.message())
