"""What makes a build fail instead of losing data quietly.

A dataset (or one of its splits) that ends with no rows, or that loses more than half of its rows
to incompleteness or disorganization, is almost always a reading problem (another release's layout,
the wrong file, a file read twice), not bad data. Removals by design (irrelevance: MMLU-Pro outside
health, ExpertQA outside the dataset's field) do not count: they are subtracted from the rows the
dataset could have kept before the half is taken.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.markup import escape
from rich.table import Table

from ..registry import DatasetSpec

LOST = ("incompleteness", "disorganization")  # what counts as lost; irrelevance is by design


def data_loss(name: str, summary: dict[str, Any]) -> list[str]:
    """One line per problem of a dataset's screening summary (whole dataset first, then each split)."""
    problems = []
    parts = [(name, summary)] + [(f"{name} ({split})", s) for split, s in sorted(summary.get("splits", {}).items())
                                 if len(summary.get("splits", {})) > 1]
    for label, s in parts:
        by_rule = s["by_rule"]
        could_keep = s["read"] - by_rule.get("irrelevance", 0)
        lost = sum(by_rule.get(rule, 0) for rule in LOST)
        reasons = ", ".join(f"{rule} {by_rule[rule]}" for rule in LOST if by_rule.get(rule))
        if s["kept"] == 0:
            why = f"removed {lost}: {reasons}" if lost else "no rows of this dataset in its files"
            problems.append(f"{label}: 0 rows kept of {s['read']} read ({why})")
        elif lost * 2 > could_keep:
            problems.append(f"{label}: {lost} of {could_keep} rows removed ({reasons}), more than half")
    return problems


def missing_table(specs: list[DatasetSpec], sources: Path) -> Table:
    """The datasets with no source files, and where their files go under the sources folder."""
    table = Table(title=escape(f"No source files found: not built (put the files under {sources})"), title_justify="left")
    table.add_column("dataset")
    table.add_column("where its files go (any one pattern; {split}: train, dev, test)")
    for spec in specs:
        table.add_row(spec.name, escape("\n".join(f"{sources}/{pattern}" for pattern in spec.files)))
    return table
