"""`globmed data build`: sources -> records -> screened -> translations attached -> a Hub dataset repo.

The output folder (its layout: globmed.core.datafolder) holds one parquet file per `<dataset>.<language>`
config and split, a dataset card (README.md) whose YAML declares the configs, `globmed.json` (what was
built from what, for the push licence guard and for reproducibility) and `screening/` (the removal
report). It is built in a temporary folder and moved into place only when complete.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Iterator

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .. import __version__, languages, registry
from ..attach import ORIGINAL, TranslationProblem, attach, load_source, translation_sources
from ..core.datafolder import SCREENING_REPORT, config_name, split_file, write_manifest
from ..errors import GlobmedError
from ..io import atomic_dir, remove_stale_partials, write_json
from ..records import Record
from ..sample import MARKER as SAMPLE_MARKER, sources_folder
from ..screening import Screener, report
from ..sources import read_dataset
from ..sources._io import refuse_links_leaving
from ..sources.layout import Located, locate
from .card import write_card
from .guards import data_loss, missing_table
from .parquet import RowWriter, schema_for
from .settings import BuildSettings


@dataclass
class BuildResult:
    out: Path
    configs: dict[str, dict[str, int]]  # config -> split -> rows
    screening: dict[str, Any]
    translation_problems: list[TranslationProblem]
    missing_sources: list[str]
    partial: list[str] = field(default_factory=list)  # data-loss problems built anyway (--allow-partial)
    sources: Path | None = None


@dataclass
class ScreenedDataset:
    """One dataset's records in a sources folder, screened as they are read."""

    spec: registry.DatasetSpec
    located: Located  # its files found there (and those left out)
    screener: Screener  # counts and removals, complete once `records` is consumed
    records: Iterator[Record]  # the records kept, read lazily


def open_sources(path: Path, follow_symlinks: bool = False) -> Path:
    """The sources folder (`sample`: the shipped one), checked: it exists and, unless `follow_symlinks`,
    no symlink in it leads outside."""
    sources = sources_folder(path)
    if not sources.is_dir():
        raise GlobmedError(f"{sources}: sources folder not found")
    if not follow_symlinks:
        refuse_links_leaving(sources)
    return sources


def screen_dataset(sources: Path, name: str, required: bool = False) -> ScreenedDataset | None:
    """Dataset `name` read from `sources` (a folder checked by `open_sources`) and screened; None when the
    folder holds none of its files (an error when `required`: the dataset was asked for by name)."""
    spec = registry.get(name)
    located = locate(sources, spec)
    if not located.files:
        if required:
            raise GlobmedError(f"{sources}: no source files for {name} (looked for {', '.join(spec.files)})")
        return None
    screener = Screener(located.screening_spec)
    return ScreenedDataset(spec, located, screener, iter(screener(read_dataset(sources, spec, located))))


def build(settings: BuildSettings, console: Console | None = None) -> BuildResult:
    console = console or Console(stderr=True)
    out = Path(settings.out)
    if out.exists() and not settings.overwrite:
        raise GlobmedError(f"{out}: already exists (pass --overwrite to replace it)")
    sources = open_sources(settings.sources, settings.follow_symlinks)
    wanted = registry.parse_datasets(settings.datasets)
    langs = languages.parse_languages(settings.languages)
    folders = [sources / "translations", *map(Path, settings.translations)]
    for folder in folders[1:]:
        if not folder.is_dir():
            raise GlobmedError(f"{folder}: translation folder not found")
        if not settings.follow_symlinks:
            refuse_links_leaving(folder, "translation folder")
    explicit = settings.datasets not in (None, "all")

    configs: dict[str, dict[str, int]] = {}
    screeners: list[Screener] = []
    problems: list[TranslationProblem] = []
    missing: list[str] = []
    built: dict[str, dict[str, Any]] = {}
    losses: list[str] = []
    for folder in remove_stale_partials(out):
        console.print(f"[yellow]removed {escape(str(folder))}, left by a build that did not finish[/]")
    with atomic_dir(out, overwrite=settings.overwrite) as tmp:
        for name in wanted:
            screened = screen_dataset(sources, name, required=explicit)
            if screened is None:
                missing.append(name)
                continue
            spec, located, screener = screened.spec, screened.located, screened.screener
            screeners.append(screener)
            kept = list(screened.records)
            console.print(f"[bold]{name}[/]: read {screener.read}, kept {screener.kept}, removed {len(screener.removals)}")
            losses += data_loss(name, screener.summary())
            if losses and not settings.allow_partial:
                continue  # the build fails once every dataset is screened (for the table): nothing more to write
            if located.layout and located.layout.note:
                console.print(f"[yellow]{name}: {escape(located.layout.note)}[/]")
            if located.skipped:
                console.print(f"{name}: {len(located.skipped)} file(s) of the release not read, by design "
                              f"(`globmed data sources` says which and why)")
            files, notes = translation_sources(located, folders)
            for note in notes:
                console.print(f"[yellow]{escape(note)}[/]")
            for lang in sorted(set(files) - set(langs)):
                if lang not in languages.codes():
                    console.print(f"[yellow]{escape(files[lang].display)}: no language table for {lang!r}; skipped[/]")
            expected: dict[str, Any] = {}  # what each source text requires, shared by its languages
            screened_out = {r.id for r in screener.removals}
            for lang in langs:  # one language at a time, streamed to parquet: memory ~ one dataset + one file
                if lang == spec.language:
                    records: Iterable[Record] = kept
                elif lang in files:
                    records = attach(kept, lang, load_source(files[lang], name, problems, screened_out), problems,
                                     expected)
                else:
                    continue
                counts = _write_config(tmp, config_name(name, lang), spec.task, records)
                if counts:
                    configs[config_name(name, lang)] = counts
            provenance = {spec.language: ORIGINAL, **{lang: f.provenance for lang, f in files.items()}}
            built[name] = _dataset_entry(spec, {c: n for c, n in configs.items() if c.startswith(f"{name}.")},
                                         provenance)
        screening = report(screeners)
        if losses and not settings.allow_partial:
            print_screening(screening, console)
            if missing:
                console.print(missing_table([registry.get(m) for m in missing], sources))
            raise GlobmedError("\n".join([f"{len(losses)} dataset(s) or split(s) would lose most of their rows; "
                                           "nothing was written (pass --allow-partial to build anyway):", *losses]))
        for loss in losses:
            console.print(f"[yellow]built anyway (--allow-partial): {escape(loss)}[/]")
        screening["translation_problems"] = [p.__dict__ for p in problems]
        write_json(tmp / SCREENING_REPORT, screening)
        sample = (sources / SAMPLE_MARKER).read_text(encoding="utf-8") if (sources / SAMPLE_MARKER).exists() else None
        manifest = {
            "globmed_version": __version__,
            "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "sample": sample is not None, "datasets": built, "languages": langs,
            "screening": {k: v for k, v in screening["datasets"].items()},
            "translation_problems": len(problems), "missing_sources": missing, "partial": losses,
        }
        write_manifest(tmp, manifest)
        write_card(tmp, settings.name, configs, built, langs, screening, sample)
    return BuildResult(out, configs, screening, problems, missing, losses, sources)


def _write_config(root: Path, config: str, task: str, records: Iterable[Record]) -> dict[str, int]:
    writers: dict[str, RowWriter] = {}
    schema = schema_for(task)
    try:
        for record in records:
            if record.split not in writers:
                writers[record.split] = RowWriter(split_file(root, config, record.split), schema)
            writers[record.split].write(record.to_row())
    finally:
        for w in writers.values():
            w.close()
    return {split: w.count for split, w in writers.items()}


def _dataset_entry(spec: registry.DatasetSpec, configs: dict[str, dict[str, int]],
                   provenance: dict[str, str]) -> dict[str, Any]:
    built_langs = {c.split(".", 1)[1] for c in configs}
    return {
        "title": spec.title, "task": spec.task, "language": spec.language, "reference": spec.reference_language,
        "licence": spec.licence_name or spec.licence, "redistributable": spec.redistributable,
        "restriction": spec.restriction, "configs": configs, "eval_split": spec.eval_split,
        # language -> original / official (human translation shipped with the release) / machine
        "translations": {lang: kind for lang, kind in provenance.items() if lang in built_langs},
    }


def print_build_result(result: BuildResult, console: Console) -> None:
    """The per-config row-count table and the screening table."""
    langs = sorted({c.split(".", 1)[1] for c in result.configs}, key=lambda c: (
        languages.get(c).resource != "high", c) if c in languages.codes() else (True, c))
    datasets = sorted({c.split(".", 1)[0] for c in result.configs}, key=registry.names().index)
    table = Table(title=f"Rows per config ({result.out})")
    table.add_column("dataset")
    for lang in langs:
        low = lang in languages.codes() and languages.get(lang).low_resource
        table.add_column(f"[magenta]{lang}[/]" if low else lang, justify="right")
    for ds in datasets:
        cells = [str(sum(result.configs.get(f"{ds}.{lang}", {}).values()) or "-") for lang in langs]
        table.add_row(ds, *cells)
    console.print(table)
    print_screening(result.screening, console)
    if result.translation_problems:
        first = result.translation_problems[0]
        console.print(f"[yellow]{len(result.translation_problems)} translation(s) not used "
                      f"(see {escape(str(result.out / SCREENING_REPORT))}); first: {escape(first.origin)}: "
                      f"{escape(first.reason)}[/]")
    if result.partial:
        console.print(f"[yellow]built with --allow-partial although {len(result.partial)} dataset(s) or split(s) lost "
                      f"most of their rows: {escape('; '.join(result.partial))}[/]")
    if result.missing_sources:
        console.print(missing_table([registry.get(m) for m in result.missing_sources], result.sources or Path("SOURCES")))


def print_screening(screening: dict[str, Any], console: Console) -> None:
    """Rows read, kept and removed per rule, per dataset (and per split where a dataset has several)."""
    screen = Table(title="Screening (items removed per rule)")
    for col in ("dataset", "read", "kept", "incompleteness", "irrelevance", "disorganization"):
        screen.add_column(col, justify="left" if col == "dataset" else "right")
    for name, s in screening["datasets"].items():
        splits = s.get("splits", {})
        rows = [(name, s)] + ([(f"  {name} ({split})", v) for split, v in splits.items()] if len(splits) > 1 else [])
        for label, v in rows:
            screen.add_row(label, str(v["read"]), str(v["kept"]), *(str(v["by_rule"][r]) for r in
                                                                   ("incompleteness", "irrelevance", "disorganization")))
    console.print(screen)
