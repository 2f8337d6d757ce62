"""Settings of `globmed models fetch` (from the CLI or `--config FILE.yaml`, as every command's)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class FetchSettings:
    """Settings of `globmed models fetch`."""

    name: str = field(metadata={"help": "a model of the registry (`globmed models list`)", "positional": True})
    cache_dir: Path | None = field(default=None, metadata={
        "help": "where converted models go (default: $GLOBMED_CACHE/models, else ~/.cache/globmed/models)"})
    force: bool = field(default=False, metadata={"help": "convert again even when a current copy is cached"})
