"""Errors that name where bad input is (file, line and field), and the exit status of each kind.

Exit status of every command (`globmed`, `globmed-push`):
  0  done
  1  runtime failure: the network, the Hub, a server or a damaged request store failed
  2  usage or bad input: a wrong flag or setting, a file that cannot be read, a refused push
  3  finished, but some requests failed: they are recorded as errors; rerun the same command to complete
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

EXIT_RUNTIME, EXIT_USAGE, EXIT_INCOMPLETE = 1, 2, 3
EXIT_STATUS_HELP = ("Exit status: 0 done; 1 runtime failure (network, Hub, server, damaged request store); "
                    "2 usage or bad input; 3 finished with failed requests (rerun the same command to complete).")


class GlobmedError(Exception):
    """An error the user can fix; the CLI prints it on one line without a traceback and exits non-zero."""

    exit_code = EXIT_USAGE


class RuntimeFailure(GlobmedError):
    """Something outside the input failed while running (the Hub, the network, a damaged store)."""

    exit_code = EXIT_RUNTIME


class IncompleteRun(GlobmedError):
    """The work finished, but some requests failed and are recorded as errors: a rerun completes it."""

    exit_code = EXIT_INCOMPLETE


class SourceError(GlobmedError):
    """A source file that cannot be read: not UTF-8, broken JSON/XML, wrong top-level structure."""

    def __init__(self, path: Path | str, message: str, line: int | None = None, field: str | None = None):
        self.path, self.line, self.field = str(path), line, field
        where = self.path + (f":{line}" if line is not None else "")
        what = f"field '{field}': " if field else ""
        super().__init__(f"{where}: {what}{message}")


def run_app(app: Any) -> None:
    """Run a typer app; a GlobmedError becomes one line on stderr and its exit status."""
    try:
        app()
    except GlobmedError as exc:
        from rich.console import Console
        from rich.markup import escape

        # soft_wrap: the message stays one line whatever the terminal width (logs, pipes)
        Console(stderr=True, soft_wrap=True).print(f"[red]error:[/] {escape(str(exc))}")
        sys.exit(exc.exit_code)
