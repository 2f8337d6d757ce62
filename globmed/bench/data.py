"""Reading GlobMed configs for the bench: a local built folder (read straight from its parquet
files, as declared in its dataset card) or a Hub dataset id (through `datasets`)."""

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

SPLIT_PREFERENCE = ("test", "validation", "train")


@dataclass(frozen=True)
class Source:
    """Where items come from: a local folder or a Hub dataset id, with its revision."""

    ref: str
    local: Path | None
    configs: dict[str, dict[str, list[str]]]  # config -> split -> file patterns (local) / split names (Hub)
    revision: str


@lru_cache(maxsize=8)
def open_source(ref: str) -> Source:
    path = Path(ref)
    if path.is_dir():
        readme = path / "README.md"
        if not readme.exists():
            raise GlobmedError(f"{path}: not a built GlobMed folder (no README.md with configs)")
        text = readme.read_text(encoding="utf-8")
        meta = yaml.safe_load(text.split("---", 2)[1]) if text.startswith("---") else {}
        configs = {c["config_name"]: {f["split"]: [f["path"]] if isinstance(f["path"], str) else f["path"]
                                      for f in c["data_files"]} for c in (meta or {}).get("configs", [])}
        if not configs:
            raise GlobmedError(f"{readme}: the card declares no configs")
        manifest = path / "globmed.json"
        digest = hashlib.sha256(manifest.read_bytes() if manifest.exists() else text.encode()).hexdigest()[:16]
        return Source(str(path), path, configs, f"local-{digest}")
    from huggingface_hub import HfApi
    import datasets

    try:
        info = HfApi().dataset_info(ref)
        names = datasets.get_dataset_config_names(ref)
    except Exception as exc:  # network or not found: one line, the first of the client's message
        detail = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise GlobmedError(f"{ref}: neither a local folder nor a readable Hub dataset ({detail})") from None
    return Source(ref, None, {n: {} for n in names}, info.sha or "unknown")


def choose_split(source: Source, config: str, wanted: str) -> str:
    """`wanted` when the config has it, else the split the registry says the dataset is evaluated on
    (MedMCQA: validation, its public test set having no answers), else test, validation, train."""
    splits = list(source.configs.get(config, {}))
    if source.local is None:
        import datasets

        splits = datasets.get_dataset_split_names(source.ref, config)
    dataset = config.split(".", 1)[0]
    evaluated = registry.get(dataset).eval_split if dataset in registry.names() else None
    for split in (wanted, evaluated, *SPLIT_PREFERENCE):
        if split in splits:
            return split
    raise GlobmedError(f"{source.ref}: config {config} has no split {wanted!r} (has {splits})")


def load_items(source: Source, config: str, split: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of one config and split, in order (the first `limit` when given)."""
    if source.local is not None:
        import pyarrow.parquet as pq

        rows: list[dict[str, Any]] = []
        for pattern in source.configs[config][split]:
            for file in sorted(source.local.glob(pattern)):
                rows.extend(pq.read_table(file).to_pylist())
    else:
        import datasets

        rows = list(datasets.load_dataset(source.ref, config, split=split, revision=source.revision))
    for row in rows:
        if isinstance(row.get("meta"), str):
            row["meta"] = json.loads(row["meta"])
    return rows[:limit] if limit else rows
