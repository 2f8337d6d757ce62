"""The small machine-written sample shipped inside the package (see README.md here): the nine sources in
their original file formats (`sources/`) and a medical-terms dictionary (`dictionary/`).

It ships as package data so that `globmed demo` and `globmed train sft --recipe smoke` work after a plain
`pip install`, from any folder. Wherever a sources folder is asked for, the word `sample` names it.
"""

from __future__ import annotations

from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
DICTIONARY = HERE / "dictionary" / "medical_terms.tsv"
NAME = "sample"  # as a --sources value: this package's sources folder
MARKER = "SAMPLE.md"  # a sources folder holding this file is a demo sample, not GlobMed data (said in cards)


def sources_folder(value: str | Path) -> Path:
    """A --sources value as a folder: `sample` is the shipped sample; anything else is a path as given."""
    return SOURCES if str(value) == NAME else Path(value)
