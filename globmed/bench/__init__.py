"""GlobMed-Bench. From Python, with the settings of the CLI:

    import globmed.bench
    out = globmed.bench.run(data="globmed", out="results", backend="openai", base_url="http://localhost:8000/v1",
                            model="Qwen/Qwen3-8B", languages="en,sw", runs=1)
    # or: globmed.bench.run(globmed.bench.BenchSettings(...))  -- the dataclass behind `globmed bench run`
    globmed.bench.score(out)   # re-score every answer from the request store, offline (`bench report --rescore`)

`run` and `score` are the modules bench/run.py and bench/score.py, callable as their command; they are
imported on first use, so `import globmed.bench` stays light.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["BenchSettings", "run", "score"]


def __getattr__(name: str) -> Any:
    if name in ("run", "score"):
        return importlib.import_module(f"{__name__}.{name}")
    if name == "BenchSettings":
        return importlib.import_module(f"{__name__}.run").BenchSettings
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
