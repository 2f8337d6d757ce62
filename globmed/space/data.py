"""Results datasets for the Space, read: local results folders or Hub dataset ids (through
globmed.core.resultsfolder), merged into one frame of results rows; the per-item correctness of their
details configs, for the statistics, on first use (a Hub dataset's details are downloaded then).

Only pandas/pyarrow and globmed's light modules are imported here; the statistics (globmed.bench.report,
which pulls scipy and the scorers) are imported on first use. What the leaderboard computes from the
rows is globmed.space.leaderboard.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import pandas as pd

from ..core.resultsfolder import ResultsFolder

MODEL_FIELDS = ("model_id", "access", "domain", "reasoning", "params_b", "active_params_b", "base_model", "family",
                "provider")
COLUMNS = ("model", "dataset", "language", "task", "run", "n", "answered", "correct", "accuracy", "unparsed", "errors",
           *MODEL_FIELDS)

Correctness = dict[str, dict[tuple[str, str], dict[str, list[bool | None]]]]  # model -> (dataset, lang) -> id -> runs


class ResultsError(Exception):
    """A results source that cannot be read (the message is safe to show)."""


@dataclass
class ResultsSource:
    """One results dataset the Space shows: a local results folder, or a Hub id read from its snapshot."""

    ref: str  # what the user gave: a folder or a Hub dataset id
    folder: ResultsFolder  # for a Hub id: the snapshot holding what was downloaded so far
    hub: bool = False
    renames: dict[str, str] = field(default_factory=dict)  # model name in the source -> shown name

    def ensure_details(self) -> None:
        if self.hub:
            self.folder = _download(self.ref, details=True)


def _download(repo_id: str, details: bool = False) -> ResultsFolder:
    from huggingface_hub import snapshot_download

    try:
        return ResultsFolder(snapshot_download(repo_id, repo_type="dataset",
                                               allow_patterns=ResultsFolder.hub_patterns(details)))
    except Exception as exc:  # offline, not found, gated...: say which source and why, never a token
        raise ResultsError(f"cannot download results dataset {repo_id!r} from the Hub ({type(exc).__name__})") from None


def open_results(ref: str) -> ResultsSource:
    path = Path(ref).expanduser()
    if path.is_dir():
        folder = ResultsFolder(path)
        if not folder.has_results():
            raise ResultsError(f"{ref}: no results here (results/*.parquet missing); run `globmed bench run` first")
        return ResultsSource(ref, folder)
    if ref.count("/") == 1 and not ref.startswith((".", "/", "~")):
        return ResultsSource(ref, _download(ref), hub=True)
    raise ResultsError(f"{ref}: not a folder, and not a Hub dataset id (org/name)")


def read_frame(folder: ResultsFolder) -> pd.DataFrame:
    """The results rows of one folder, the columns the Space uses (missing ones as None)."""
    import pyarrow.parquet as pq

    frames = []
    for file in folder.results_files():
        table = pq.read_table(file)
        frames.append(table.select([c for c in COLUMNS if c in table.column_names]).to_pandas())
    if not frames:
        raise ResultsError(f"{folder.path}: no results parquet")
    frame = pd.concat(frames, ignore_index=True)
    for col in COLUMNS:
        if col not in frame:
            frame[col] = None
    return frame[list(COLUMNS)]


@dataclass
class Loaded:
    frame: pd.DataFrame  # every results row with a model, models renamed where two sources share a name
    sources: list[ResultsSource]
    warnings: list[str]  # one line per source that could not be read


def load(refs: Iterable[str]) -> Loaded:
    """One or more results datasets, merged. Sources that fail are reported in `warnings`."""
    sources: list[ResultsSource] = []
    warnings: list[str] = []
    frames = []
    seen: set[str] = set()
    for ref in refs:
        try:
            source = open_results(ref)
            frame = read_frame(source.folder)
        except ResultsError as exc:
            warnings.append(str(exc))
            continue
        except Exception as exc:  # a broken parquet: keep the Space up, say which source
            warnings.append(f"{ref}: cannot read results ({type(exc).__name__})")
            continue
        for name in frame["model"].dropna().unique():
            shown = name if name not in seen else f"{name} [{ref}]"
            if shown != name:
                source.renames[name] = shown
            seen.add(shown)
        frame["model"] = frame["model"].map(source.renames).fillna(frame["model"])
        sources.append(source)
        frames.append(frame)
    rows = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(COLUMNS))
    return Loaded(rows[rows["model"].notna()], sources, warnings)


def load_correctness(sources: list[ResultsSource], warnings: list[str]) -> Correctness:
    """Per shown model: (dataset, language) -> item id -> correctness per run, from the details configs
    (downloaded first for a Hub source). A source that fails adds a line to `warnings`."""
    from ..bench.report import load_correctness as read_correctness

    merged: Correctness = {}
    for source in sources:
        try:
            source.ensure_details()
            table = read_correctness(source.folder.path)
        except ResultsError as exc:
            warnings.append(str(exc))
            continue
        for model, cells in table.items():
            merged[source.renames.get(model, model)] = dict(cells)
    return merged
