"""Wall and CPU seconds of every test (setup, call and teardown together), as a pytest plugin:

    PYTHONPATH=benchmarks .venv/bin/python -m pytest -p timing_plugin -m "slow or timed" --test-times times.tsv

writes `times.tsv`, longest first: wall seconds, CPU seconds (this process and the children it waited
for: subprocesses, launchers, their workers; not servers still running, nor Slurm's daemons), test id.
CPU above wall means the test kept both cores busy; well below, it waited (a server, a sleep, the
network). With pytest-xdist each worker writes `<file>.<worker>`. It is how issue 17's test-time
figures were taken: which tests are heavy, and which could share the machine with others.
"""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

import pytest

_ROWS: list[tuple[float, float, str]] = []


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--test-times", metavar="FILE", help="write each test's wall and CPU seconds to FILE (TSV)")


def _cpu_seconds() -> float:
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    wall, cpu = time.perf_counter(), _cpu_seconds()
    yield
    _ROWS.append((time.perf_counter() - wall, _cpu_seconds() - cpu, item.nodeid))


def pytest_sessionfinish(session: pytest.Session) -> None:
    out = session.config.getoption("--test-times")
    if not out or not _ROWS:
        return
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    path = Path(f"{out}.{worker}" if worker else out)
    lines = [f"{w:.1f}\t{c:.1f}\t{nodeid}" for w, c, nodeid in sorted(_ROWS, reverse=True)]
    path.write_text("wall_s\tcpu_s\ttest\n" + "\n".join(lines) + "\n")
    wall, cpu = sum(r[0] for r in _ROWS), sum(r[1] for r in _ROWS)
    print(f"\ntest times: {len(_ROWS)} tests, {wall:.0f} s wall, {cpu:.0f} s CPU -> {path}")
