"""A built GlobMed folder (`globmed data build --out DATA`), or the same dataset on the Hub.

    DATA/
      README.md                                  the dataset card; its YAML `configs` list every config's files
      globmed.json                               manifest, kind globmed-data: what was built from what
                                                 (datasets, languages, licences, screening counts, partial)
      <dataset>.<language>/<split>-00000-of-00001.parquet
                                                 one config per dataset x language (`medqa.zu`), one file per split
      screening/report.json                      every item the screening removed, and why

A config loads with `datasets.load_dataset(DATA, "medqa.zu")`; on the Hub the repo has the same files.
`open_data(ref)` reads a local folder straight from its parquet files (as its card declares them) and a
Hub id through `datasets`; bench, training, the review sheets and the Space read GlobMed through it.
The builder (globmed.hub.build) writes a folder with `split_file`, `write_manifest` and the card
(globmed.hub.card, with `split_pattern`).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from .. import registry
from ..errors import GlobmedError
from . import manifest

KIND = "globmed-data"
CARD = "README.md"
SCREENING_REPORT = Path("screening") / "report.json"
SPLIT_PREFERENCE = ("test", "validation", "train")


def config_name(dataset: str, language: str) -> str:
    return f"{dataset}.{language}"


def split_file(root: Path, config: str, split: str) -> Path:
    """Where the builder writes one config's split (one file per split)."""
    return Path(root) / config / f"{split}-00000-of-00001.parquet"


def split_pattern(config: str, split: str) -> str:
    """The split's files as the card declares them (relative to the folder)."""
    return f"{config}/{split}-*"


def read_manifest(root: Path) -> dict[str, Any] | None:
    """DATA/globmed.json (kind globmed-data); None when the folder has none."""
    return manifest.read(root, KIND, "a built GlobMed folder")


def write_manifest(root: Path, data: dict[str, Any]) -> Path:
    return manifest.write(root, KIND, data)


@dataclass(frozen=True)
class DataFolder:
    """GlobMed to read from: a local built folder (`path`) or a Hub dataset id (`path` None), at a revision."""

    ref: str  # what the user gave: a folder or a Hub dataset id
    path: Path | None
    configs: dict[str, dict[str, list[str]]]  # config -> split -> file patterns (local) / {} (Hub: asked per config)
    revision: str  # local: a digest of the manifest (of the card without one); Hub: the commit sha

    def splits(self, config: str) -> list[str]:
        if self.path is not None:
            return list(self.configs.get(config, {}))
        import datasets

        return list(datasets.get_dataset_split_names(self.ref, config))

    def choose_split(self, config: str, wanted: str) -> str:
        """`wanted` when the config has it, else the split the registry says the dataset is evaluated on
        (MedMCQA: validation, its public test set having no answers), else test, validation, train."""
        splits = self.splits(config)
        dataset = config.split(".", 1)[0]
        evaluated = registry.get(dataset).eval_split if dataset in registry.names() else None
        for split in (wanted, evaluated, *SPLIT_PREFERENCE):
            if split in splits:
                return split
        raise GlobmedError(f"{self.ref}: config {config} has no split {wanted!r} (has {splits})")

    def items(self, config: str, split: str, limit: int | None = None) -> list[dict[str, Any]]:
        """The rows of one config and split, in order (the first `limit` when given), `meta` decoded."""
        if self.path is not None:
            import pyarrow.parquet as pq

            rows: list[dict[str, Any]] = []
            for pattern in self.configs[config][split]:
                for file in sorted(self.path.glob(pattern)):
                    rows.extend(pq.read_table(file).to_pylist())
        else:
            import datasets

            rows = list(datasets.load_dataset(self.ref, config, split=split, revision=self.revision))
        for row in rows:
            if isinstance(row.get("meta"), str):
                row["meta"] = json.loads(row["meta"])
        return rows[:limit] if limit else rows

    def manifest(self) -> dict[str, Any] | None:
        """The build manifest of a local folder (None for a Hub id or a folder without one)."""
        return read_manifest(self.path) if self.path is not None else None


@lru_cache(maxsize=8)
def open_data(ref: str) -> DataFolder:
    """A local built folder (its card's configs) or, failing that, a Hub dataset id."""
    path = Path(ref)
    if path.is_dir():
        return _local(ref, path)
    import datasets
    from huggingface_hub import HfApi

    try:
        info = HfApi().dataset_info(ref)
        names = datasets.get_dataset_config_names(ref)
    except Exception as exc:  # network or not found: one line, the first of the client's message
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GlobmedError(f"{ref}: neither a local folder nor a readable Hub dataset ({detail})") from None
    return DataFolder(ref, None, {n: {} for n in names}, info.sha or "unknown")


def _local(ref: str, path: Path) -> DataFolder:
    card = path / CARD
    if not card.exists():
        raise GlobmedError(f"{path}: not a built GlobMed folder (no {CARD} with configs)")
    text = card.read_text(encoding="utf-8")
    meta = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
    configs = {c["config_name"]: {f["split"]: [f["path"]] if isinstance(f["path"], str) else f["path"]
                                  for f in c["data_files"]} for c in (meta or {}).get("configs", [])}
    if not configs:
        raise GlobmedError(f"{card}: the card declares no configs")
    # The revision names this build: the results' items cache and evaluation ids are keyed by it.
    manifest_file = path / manifest.NAME
    digest = hashlib.sha256(manifest_file.read_bytes() if manifest_file.exists() else text.encode()).hexdigest()[:16]
    return DataFolder(ref, path, configs, f"local-{digest}")
