"""`globmed demo`: the main job end to end on the shipped sample, offline.

1. Build GlobMed from the sample sources into WORKDIR/globmed and print the row counts.
2. Load a config back with `load_dataset("globmed", ...)` from WORKDIR, as a user would.
3. Build a tiny random-weight model locally (nothing can be downloaded) and run GlobMed-Bench on
   the built folder with the transformers backend (log-likelihood mode: one forward pass per
   item), then print the per-language results table and write the report with its figures.
A random model scores near chance: the demo shows the machinery, not a model's quality.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from rich.console import Console


@dataclass
class DemoSettings:
    sources: Path = field(default=Path("sample"), metadata={
        "help": "sources folder; `sample`: the sample shipped inside the package"})
    workdir: Path = field(default=Path("demo"), metadata={"help": "where the demo writes everything"})
    load_config: str = field(default="medqa.zu", metadata={"help": "the config loaded back with load_dataset"})
    runs: int = field(default=5, metadata={"help": "bench runs per model x dataset x language"})
    bench: bool = field(default=True, metadata={"help": "also run the benchmark with a tiny local model"})


@contextmanager
def _cwd(path: Path) -> Iterator[None]:
    old = Path.cwd()
    os.chdir(path)
    try:
        yield
    finally:
        os.chdir(old)


def run(settings: DemoSettings, console: Console) -> None:
    from .hub.build import BuildSettings, build, print_build_result

    workdir = Path(settings.workdir).resolve()
    built = workdir / "globmed"
    console.rule("1. Build GlobMed from the sample sources")
    result = build(BuildSettings(sources=settings.sources, out=built, overwrite=True), console=console)
    print_build_result(result, console)

    console.rule(f'2. load_dataset("globmed", "{settings.load_config}")')
    import datasets

    with _cwd(workdir):
        ds = datasets.load_dataset("globmed", settings.load_config, split="test")
    console.print(ds)
    first = ds[0]
    console.print({k: first[k] for k in ("id", "question", "options", "answer") if k in first})
    if not settings.bench:
        return

    console.rule("3. GlobMed-Bench with a tiny local model (random weights: near-chance scores)")
    from .bench.report import report
    from .bench.run import BenchSettings, run_bench
    from .tiny_model import build_tiny_model, sample_texts

    model = workdir / "tiny-model"
    if not (model / "config.json").exists():
        build_tiny_model(model, sample_texts(built))
    results = workdir / "results"
    run_bench(BenchSettings(data=str(built), out=results, backend="transformers", model=str(model),
                            name="tiny-random (demo)", mode="loglik", runs=settings.runs, max_tokens_lfqa=24,
                            datasets="all",  # the demo shows every task, long-form QA included
                            meta=["access=open-weight", "domain=general", "reasoning=false", "params_b=0.0003"]),
              console)
    report(results, console=console)
    console.print(f"[green]done[/]: data in {built}, results in {results} (report: {results / 'report' / 'report.md'})")
