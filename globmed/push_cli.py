"""`globmed-push`: publish a built dataset, bench results, a model or the Space, each as one commit."""

from __future__ import annotations

from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from .errors import EXIT_STATUS_HELP, GlobmedError, run_app
from .hub.push import PushSettings, push_folder
from .settings import settings_command

app = typer.Typer(no_args_is_help=True, pretty_exceptions_show_locals=False, add_completion=False,
                  help="Publish globmed folders to the Hugging Face Hub (one commit each, private by default).",
                  epilog=EXIT_STATUS_HELP)
console = Console()


@app.callback()
def _group() -> None:
    """Publish globmed folders to the Hugging Face Hub (one commit each, private by default)."""


def report(result: dict[str, Any]) -> None:
    table = Table(title=f"{'Would upload' if 'commit' not in result else 'Uploaded'} to {result['repo_type']} "
                        f"{result['repo']} ({'private' if result['private'] else 'public'})")
    table.add_column("file")
    table.add_column("bytes", justify="right")
    for path, size in result["files"]:
        table.add_row(path, f"{size:,}")
    console.print(table)
    console.print(f"{len(result['files'])} files, {result['bytes']:,} bytes")
    if "commit" in result:
        if result.get("deleted"):
            console.print(f"removed stale files: {', '.join(result['deleted'])}")
        console.print(f"[green]one commit: {result['commit']}[/] {result['url']}")


@settings_command(app, "data", PushSettings, help="Publish a folder built by `globmed data build` as a dataset repo.")
def push_data(settings: PushSettings) -> None:
    report(push_folder(settings, "dataset"))


@settings_command(app, "results", PushSettings,
                  help="Publish a `globmed bench run` results folder (configs results + details.*) as a dataset repo.")
def push_results(settings: PushSettings) -> None:
    from .core.resultsfolder import ResultsFolder

    if not ResultsFolder(settings.folder).is_results_folder():
        raise GlobmedError(f"{settings.folder}: not a results folder (no results/); run `globmed bench run` first")
    report(push_folder(settings, "dataset"))


def main() -> None:
    run_app(app)


@settings_command(app, "model", PushSettings,
                  help="Publish a model trained by `globmed train sft` (weights or adapter + model card) as a model repo.")
def push_model(settings: PushSettings) -> None:
    from .core import modelfolder

    modelfolder.check(settings.folder)
    report(push_folder(settings, "model"))


from .space.push import SpacePushSettings  # noqa: E402


@settings_command(app, "space", SpacePushSettings,
                  help="Create or update the GlobMed Space in one commit; results ids become its GLOBMED_RESULTS variable.")
def push_space(settings: SpacePushSettings) -> None:
    from .space.push import push_space as _push

    result = _push(settings)
    report(result)
    for key, value in result["variables"].items():
        console.print(f"Space variable {key} = {escape(value)}" + ("" if "commit" in result else " (would be set)"))
