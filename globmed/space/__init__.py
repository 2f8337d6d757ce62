"""The GlobMed Space: leaderboard, plots, model comparison and a multilingual demo over results datasets.

The Space reads only results datasets written by `globmed bench run` (local folders or Hub dataset
ids): the `results` config for the leaderboard and the plots, the `details.*` configs (downloaded on
first use) for the paired statistics. It never imports the runner or the backends at import time.

    globmed space [--port P] [--results PATH_OR_HUB_ID,...]      # run it locally
    globmed-push space --repo org/name [--results id1,id2]       # deploy it (one commit)

Results sources, in order: `--results`, then the GLOBMED_RESULTS environment variable (a Space
variable; comma-separated), then the shipped synthetic sample (sample_results/, here).

Everything the Space needs ships inside this package, so `globmed space` and `globmed-push space` work
after a plain `pip install`:

    repo/            the files of the Space's Hub repository (app.py, README.md with its front matter,
                     requirements.txt), uploaded by `globmed-push space`
    sample_results/  the synthetic results shown by default (dataset_scripts/make_sample_results.py)
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

HERE = Path(__file__).resolve().parent
SPACE_REPO = HERE / "repo"
SAMPLE_RESULTS = HERE / "sample_results"
RESULTS_ENV = "GLOBMED_RESULTS"


@dataclass
class SpaceSettings:
    results: list[str] = field(default_factory=list, metadata={
        "help": f"results datasets (local folders or Hub dataset ids), comma-separated; default: ${RESULTS_ENV}, "
                "else the shipped synthetic sample"})
    port: int = field(default=7860, metadata={"help": "port to serve on"})
    host: str = field(default="127.0.0.1", metadata={"help": "interface to bind (0.0.0.0 to share on a network)"})
    demo_url: str | None = field(default=None, metadata={
        "help": "Demo tab: model server URL (default: $GLOBMED_DEMO_URL); OpenAI-compatible or TGI"})
    demo_model: str | None = field(default=None, metadata={
        "help": "Demo tab: model name sent to the server, or the Inference Endpoint name (default: $GLOBMED_DEMO_MODEL)"})
    demo_backend: str | None = field(default=None, metadata={
        "help": "Demo tab: openai | tgi | endpoint | transformers | anthropic (default: $GLOBMED_DEMO_BACKEND, "
                "else openai)"})


def results_refs(explicit: list[str] | None = None, env: dict[str, str] | None = None,
                 default: Path | None = None) -> list[str]:
    """The results sources to show: explicit ones, else $GLOBMED_RESULTS, else `default` (the shipped
    sample)."""
    env = os.environ if env is None else env
    refs = [r.strip() for r in (explicit or []) if r and r.strip()]
    if not refs:
        refs = [r.strip() for r in env.get(RESULTS_ENV, "").split(",") if r.strip()]
    if not refs:
        refs = [str(default or SAMPLE_RESULTS)]
    return refs
