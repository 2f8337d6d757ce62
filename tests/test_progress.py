"""The run's progress bar (globmed/runner/progress.py): its rate is the requests answered over the
time since the start, whatever the bursts. The issue's run read "22069.9 req/s" after 64 requests in
373 s: a local model answers a batch of 16 within a millisecond, and rich's own speed only looks at
the last 30 s, which then hold one burst."""

from __future__ import annotations

import asyncio
import io
import re

from rich.console import Console

from globmed.backends import GenerationSettings, Request, make_backend
from globmed.runner import Job, Store, execute, request_key
from globmed.runner.progress import RunProgress, answer_rate


def _bursts(progress: RunProgress, clock: list[float], bursts: int, size: int, gap: float) -> None:
    for _ in range(bursts):
        clock[0] += gap
        for _ in range(size):
            clock[0] += 4e-5  # a batch's answers resolve microseconds apart
            progress.advance(answered=True)


def _render(progress: RunProgress) -> str:
    out = io.StringIO()
    Console(file=out, width=200, color_system=None).print(progress.progress.make_tasks_table(progress.progress.tasks))
    return out.getvalue()


def test_rate_after_bursts_is_answers_over_elapsed_time():
    """The issue's run: 64 requests in four batches of 16, 93 s apart (373 s in all)."""
    clock = [0.0]
    progress = RunProgress("smollm2", 64, Console(file=io.StringIO()), get_time=lambda: clock[0])
    with progress:
        _bursts(progress, clock, bursts=4, size=16, gap=93.0)
    task = progress.task
    assert task.finished and task.completed == 64
    assert task.speed > 10_000  # the cause: rich's 30 s window holds one burst, microseconds wide
    assert abs(answer_rate(task) - 64 / clock[0]) < 1e-9  # ours: 0.17 req/s
    line = _render(progress)
    assert re.search(r"\b0\.17 req/s", line), line


def test_requests_from_the_store_do_not_count_as_answered():
    """A resumed run: 48 requests found in the store at once, then 16 answered in 10 s."""
    clock = [0.0]
    progress = RunProgress("resume", 64, Console(file=io.StringIO()), get_time=lambda: clock[0])
    with progress:
        for _ in range(48):
            progress.advance(answered=False)
        _bursts(progress, clock, bursts=1, size=16, gap=10.0)
    assert abs(answer_rate(progress.task) - 16 / clock[0]) < 1e-9
    assert "1.60 req/s" in _render(progress)


def test_eta_follows_the_rate_while_running():
    clock = [0.0]
    progress = RunProgress("eta", 64, Console(file=io.StringIO()), get_time=lambda: clock[0])
    with progress:
        _bursts(progress, clock, bursts=1, size=16, gap=100.0)  # 16 in ~100 s: 48 left take ~300 s
        assert re.search(r"ETA 0:0[45]:\d\d", _render(progress)), _render(progress)


def test_a_real_run_reports_the_rate_of_its_own_stats(openai_server, tmp_path):
    """execute() with the bar on, against the loopback server: the final rate is the run's throughput."""
    server = openai_server(latency=0.05)
    backend = make_backend("openai", "scripted-model", base_url=server.base_url)
    jobs = [Job(request_key({"i": i}), Request(messages=({"role": "user", "content": f"q{i}"},),
                                                settings=GenerationSettings(max_tokens=8))) for i in range(24)]
    out = io.StringIO()
    store = Store(tmp_path / "requests.sqlite")

    async def go():
        try:
            return await execute(jobs, len(jobs), backend, store, concurrency=8, description="run",
                                 console=Console(file=out, width=200, color_system=None))
        finally:
            await backend.aclose()

    try:
        stats = asyncio.run(go())
    finally:
        store.close()
    shown = float(re.findall(r"([\d.]+) req/s", out.getvalue())[-1])
    assert stats.done == 24
    assert abs(shown - stats.throughput) <= 0.25 * stats.throughput + 0.01, (shown, stats.throughput)
