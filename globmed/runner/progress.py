"""The progress bar of a run: requests done of the total, the rate, elapsed time and ETA.

The rate is the requests answered in this run (those found in the store do not count) over the time
since the run started, and the ETA follows from it. rich's own speed is a different number: it averages
only the samples of the last 30 s and leaves out the first of them. A local model answers a batch of
requests within a millisecond of each other, so when a batch takes longer than 30 s, that window holds a
single burst and the rate came out as thousands of requests per second ("22069.9 req/s" after 64
requests in 373 s, issue 18). An average over the whole run has no such window.
"""

from __future__ import annotations

from typing import Any, Callable

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, ProgressColumn, Task, TextColumn, TimeElapsedColumn
from rich.text import Text


def answer_rate(task: Task) -> float | None:
    """Requests answered per second since the task started (None before the first answer)."""
    answered = task.fields.get("answered", 0)
    elapsed = task.finished_time if task.finished else task.elapsed
    return answered / elapsed if answered and elapsed else None


class _RateColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = answer_rate(task)
        return Text(f"{rate:.2f} req/s" if rate is not None else "- req/s", style="progress.data.speed")


class _EtaColumn(ProgressColumn):
    def render(self, task: Task) -> Text:
        rate = answer_rate(task)
        if task.finished or task.total is None or rate is None:
            return Text("ETA -:--:--" if not task.finished else "", style="progress.remaining")
        seconds = int((task.total - task.completed) / rate)
        return Text(f"ETA {seconds // 3600}:{seconds // 60 % 60:02d}:{seconds % 60:02d}", style="progress.remaining")


class RunProgress:
    """One run's bar; `advance(answered=False)` for a request found in the store."""

    def __init__(self, description: str, total: int, console: Console | None = None,
                 get_time: Callable[[], float] | None = None):
        self.progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                                 _RateColumn(), TimeElapsedColumn(), _EtaColumn(),
                                 console=console or Console(stderr=True), transient=False, get_time=get_time)
        self.description, self.total = description, total
        self.answered = 0
        self.task_id: Any = None

    def __enter__(self) -> "RunProgress":
        self.progress.__enter__()
        self.task_id = self.progress.add_task(self.description, total=self.total, answered=0)
        return self

    def __exit__(self, *exc: Any) -> None:
        self.progress.__exit__(*exc)

    def advance(self, answered: bool = True) -> None:
        self.answered += answered
        self.progress.update(self.task_id, advance=1, answered=self.answered)

    @property
    def task(self) -> Task:
        return self.progress.tasks[0]
