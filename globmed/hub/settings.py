"""Settings of the `globmed data` commands (a light module: the CLI imports it at start-up)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SOURCES_HELP = "folder with the original source files; `sample`: the shipped sample"
DATASETS_HELP = "comma-separated dataset names, or 'all'"


@dataclass
class SourcesSettings:
    """Settings of `globmed data sources`."""

    sources: Path = field(metadata={"help": SOURCES_HELP})
    datasets: str = field(default="all", metadata={"help": DATASETS_HELP})
    json: bool = field(default=False, metadata={"help": "print the listing as JSON"})


@dataclass
class RecordsSettings:
    """Settings of `globmed data records`."""

    sources: Path = field(metadata={"help": SOURCES_HELP})
    out: Path = field(metadata={"help": "JSON-lines file of the screened records (the input of `globmed translate`)"})
    datasets: str = field(default="all", metadata={"help": DATASETS_HELP})
    follow_symlinks: bool = field(default=False, metadata={"help": "read symlinks that lead outside the sources folder"})


@dataclass
class BuildSettings:
    sources: Path = field(metadata={"help": "folder with the original source files (see the registry's file patterns); `sample`: the shipped sample"})
    out: Path = field(metadata={"help": "output folder: a Hub-ready dataset repo"})
    translations: list[Path] = field(default_factory=list, metadata={
        "help": "translation folders (<dataset>/<lang>.jsonl), e.g. `globmed translate` output; "
                "<sources>/translations is always read first"})
    datasets: str = field(default="all", metadata={"help": DATASETS_HELP})
    languages: str = field(default="all", metadata={"help": "comma-separated language codes, or 'all'"})
    overwrite: bool = field(default=False, metadata={"help": "replace OUT if it exists (only once the new build is complete)"})
    allow_partial: bool = field(default=False, metadata={
        "help": "build even when a dataset (or split) ends with no rows or loses more than half of them to "
                "incompleteness or disorganization (irrelevance, a removal by design, does not count)"})
    name: str = field(default="GlobMed", metadata={"help": "pretty name in the dataset card"})
    follow_symlinks: bool = field(default=False, metadata={
        "help": "read symlinks that lead outside the sources or translation folders (refused by default)"})
