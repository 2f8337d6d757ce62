"""A results folder: the OUT of `globmed bench run`, a Hub-ready dataset (`globmed-push results OUT`).

    OUT/
      globmed.json                         manifest, kind globmed-results: one entry per evaluation id
                                           (model, identity, decoding, data and its revision, configs, ...),
                                           the datasets the results derive from (the push licence guard), the judge
      README.md                            the dataset card: configs `results` and `details.<dataset>.<language>`
      results/train-00000-of-00001.parquet one row per model x dataset x language x run
      details.<dataset>.<language>/train-00000-of-00001.parquet
                                           one row per item and run: prompt, output, prediction, correctness
      report/                              `globmed bench report`: report.md, cells.json, tests.json, figures
      .cache/requests.sqlite               the request store: the plan, every prompt, response and error
      .cache/items/<data revision>/<dataset>.<language>.<split>.jsonl
                                           the items evaluated, so scoring needs neither DATA nor the network

`.cache/` is never published. Everything but `.cache/` and `report/` is written by scoring, from the
store and the items cache alone (`globmed bench report OUT --rescore`). A Hub results dataset has the
same files (a snapshot of them reads as a ResultsFolder).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Iterator

from .. import __version__
from ..errors import GlobmedError
from ..io import atomic_path
from . import CACHE, REQUEST_STORE, manifest

if TYPE_CHECKING:
    import pyarrow as pa

    from ..runner.store import Store

KIND = "globmed-results"
RESULTS_CONFIG = "results"  # the config of per-run rows
DETAILS_PREFIX = "details"  # details.<dataset>.<language>: the configs of per-item rows
CONFIG_FILE = "train-00000-of-00001.parquet"  # each config is one file of one split, "train"
CARD = "README.md"
ITEMS = Path(CACHE) / "items"
REPORT = "report"


def details_config(dataset: str, language: str) -> str:
    return f"{DETAILS_PREFIX}.{dataset}.{language}"


def config_pattern(config: str) -> str:
    """A config's files as the card declares them (relative to OUT)."""
    return f"{config}/train-*"


class ResultsFolder:
    """OUT and its parts (see the module docstring); every reader and writer of results goes through it."""

    def __init__(self, path: Path | str):
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ResultsFolder({str(self.path)!r})"

    # -- the manifest ---------------------------------------------------------------------------------
    def read_manifest(self, create: bool = False) -> dict[str, Any]:
        """OUT/globmed.json; with `create`, a new empty one when OUT has none (a first run), else an error."""
        data = manifest.read(self.path, KIND, "a results folder")
        if data is not None:
            return data
        if not create:
            raise GlobmedError(f"{self.path}: no results here ({manifest.NAME} missing); run `globmed bench run` first")
        return {"kind": KIND, "globmed_version": __version__, "evaluations": {}, "datasets": []}

    def write_manifest(self, data: dict[str, Any]) -> None:
        # what the results derive from: read by the push licence guard
        data["datasets"] = sorted({c["dataset"] for e in data["evaluations"].values() for c in e["configs"]})
        manifest.write(self.path, KIND, data)

    # -- the request store and the items cache --------------------------------------------------------
    @property
    def store_path(self) -> Path:
        return self.path / REQUEST_STORE

    def open_store(self, repair: bool = False) -> Store:
        from ..runner.store import Store

        return Store(self.store_path, repair=repair)

    def items_path(self, revision: str, config: str, split: str) -> Path:
        return self.path / ITEMS / revision / f"{config}.{split}.jsonl"

    def cache_items(self, revision: str, config: str, split: str, items: list[dict[str, Any]]) -> None:
        """Add the items the cache lacks (a run with --limit caches only the first K; a later, larger run
        into the same OUT must find all of its items there too)."""
        path = self.items_path(revision, config, split)
        cached = path.read_text(encoding="utf-8").splitlines() if path.exists() else []
        ids = {json.loads(line)["id"] for line in cached}
        new = [json.dumps(r, ensure_ascii=False) for r in items if r["id"] not in ids]
        if new:
            with atomic_path(path) as tmp:
                tmp.write_text("".join(line + "\n" for line in cached + new), encoding="utf-8")

    def read_items(self, revision: str, config: str, split: str) -> dict[str, dict[str, Any]]:
        """Item id -> row, as the run cached them."""
        path = self.items_path(revision, config, split)
        if not path.exists():
            raise GlobmedError(f"{path}: the items of this evaluation are missing; rerun `globmed bench run`")
        return {row["id"]: row for row in map(json.loads, path.read_text(encoding="utf-8").splitlines())}

    # -- the configs (parquet) ------------------------------------------------------------------------
    def config_file(self, config: str) -> Path:
        return self.path / config / CONFIG_FILE

    def write_config(self, config: str, table: pa.Table) -> None:
        import pyarrow.parquet as pq

        with atomic_path(self.config_file(config)) as tmp:
            pq.write_table(table, tmp, compression="zstd")

    def has_results(self) -> bool:
        """Whether the `results` config has a file (what the Space needs to show OUT)."""
        return any((self.path / RESULTS_CONFIG).glob("*.parquet"))

    def is_results_folder(self) -> bool:
        """Whether OUT has a `results` config folder, even an empty one (`globmed-push results` then lets its
        guards read whatever else is there: a damaged folder is refused for what it holds)."""
        return (self.path / RESULTS_CONFIG).is_dir()

    def read_results(self) -> list[dict[str, Any]]:
        """Every row of the `results` config."""
        path = self.config_file(RESULTS_CONFIG)
        if not path.exists():
            raise GlobmedError(f"{self.path}: no results parquet; run `globmed bench run` or "
                               f"`globmed bench report --rescore`")
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()

    def results_files(self) -> list[Path]:
        return sorted((self.path / RESULTS_CONFIG).glob("*.parquet"))

    def details(self) -> Iterator[tuple[str, str, list[Path]]]:
        """(dataset, language, parquet files) of every details config, in name order."""
        for folder in sorted(self.path.glob(f"{DETAILS_PREFIX}.*")):
            _, dataset, language = folder.name.split(".", 2)
            yield dataset, language, sorted(folder.glob("*.parquet"))

    @property
    def card_path(self) -> Path:
        return self.path / CARD

    @property
    def report_dir(self) -> Path:
        return self.path / REPORT

    # -- a results dataset on the Hub -----------------------------------------------------------------
    @staticmethod
    def hub_patterns(details: bool = False) -> list[str]:
        """What to download of a Hub results dataset: the results config (and the details configs), the
        manifest and the card."""
        parts = [f"{RESULTS_CONFIG}/*.parquet"] + ([f"{DETAILS_PREFIX}.*/*.parquet"] if details else [])
        return [*parts, manifest.NAME, CARD]
