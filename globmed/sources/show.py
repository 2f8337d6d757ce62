"""Printing `globmed data sources`: per dataset, what was found under the sources folder and what was not."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape

SHOWN = 3  # files shown per group; the rest are counted


def _files(items: list[str]) -> str:
    more = f" and {len(items) - SHOWN} more" if len(items) > SHOWN else ""
    return ", ".join(escape(i) for i in items[:SHOWN]) + more


def print_report(reports: list[dict[str, Any]], folder: Path, console: Console) -> None:
    console.print(f"Sources folder: {escape(str(folder))}")
    for r in reports:
        status = "[green]found[/]" if r["found"] else "[red]no files[/]"
        console.print(f"\n[bold]{r['dataset']}[/] ({escape(r['title'])}, source language {r['language']}): {status}")
        by_split: dict[str, list[str]] = defaultdict(list)
        for f in r["found"]:
            by_split[f["split"]].append(f["file"])
        for split, files in by_split.items():
            console.print(f"  read ({split}): {_files(files)}")
        if r["note"]:
            console.print(f"  [yellow]note: {escape(r['note'])}[/]")
        for lang, files in r["official_translations"].items():
            console.print(f"  official {lang} translation: {_files([f['file'] for f in files])}")
        if r["companions"]:
            console.print(f"  read with them: {_files(r['companions'])}")
        reasons: dict[str, list[str]] = defaultdict(list)
        for item in r["not_read"]:
            reasons[item["reason"]].append(item["file"])
        for reason, files in reasons.items():
            console.print(f"  not read, {escape(reason)}: {_files(files)}")
        if r["unmatched"]:
            console.print(f"  [yellow]matching no pattern: {_files(r['unmatched'])}[/]")
        console.print(f"  patterns tried, best first: {escape(' | '.join(r['patterns']))}")
        for lang, patterns in r["official_patterns"].items():
            console.print(f"  official {lang} translation patterns: {escape(' | '.join(patterns))}")
        for step in r.get("todo", []):
            console.print(f"  [red]to do:[/] {escape(step)}")
