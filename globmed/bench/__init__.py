"""GlobMed-Bench. From Python, with the settings of the CLI:

    import globmed.bench
    out = globmed.bench.run(data="globmed", out="results", backend="openai", base_url="http://localhost:8000/v1",
                            model="Qwen/Qwen3-8B", languages="en,sw", runs=1)
    # or: globmed.bench.run(globmed.bench.BenchSettings(...))  -- the dataclass behind `globmed bench run`
    globmed.bench.score(out)   # re-score every answer from the request store, offline (`bench report --rescore`)

The work is in bench/evaluate.py (plan, request, score) and bench/scoring.py; both are imported on first
use, so `import globmed.bench` stays light.
"""

from __future__ import annotations

import importlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.console import Console

    from .evaluate import BenchSettings

__all__ = ["BenchSettings", "run", "score"]


def run(settings: BenchSettings | None = None, /, console: Console | None = None, **values: Any) -> Path:
    """`globmed bench run` from Python: a BenchSettings, or its fields as keyword arguments (checked as the
    CLI checks flags). Tables go to `console` (default: stdout). Returns the results folder (OUT), whose
    configs load with datasets.load_dataset(str(OUT), "results") and "details.<dataset>.<language>"."""
    from ..api import settings_from
    from .evaluate import BenchSettings, run_bench

    return run_bench(settings_from(BenchSettings, settings, values, "globmed.bench.run"), console)


def score(out: str | Path, judge_pending: bool = False) -> dict[str, Any]:
    """Re-score a results folder from its request store alone (offline), as `bench report --rescore` does:
    details per item and run, results per run; returns the rows written ({"results": n, "details": m, m
    over every details config}). With `judge_pending` it writes nothing and returns {"judge_pending": the
    judge requests still to send}."""
    from .scoring import score as score_folder

    return score_folder(Path(out), judge_pending)


def __getattr__(name: str) -> Any:
    if name == "BenchSettings":
        return importlib.import_module(f"{__name__}.evaluate").BenchSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
