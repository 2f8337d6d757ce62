"""Settings of `globmed bench report` and `globmed bench compare` (one dataclass per command; see
globmed.settings). A light module: the CLI imports it at start-up."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

CORRECTIONS = ("holm", "bh")
CORRECTION_HELP = "multiple-comparison correction: holm or bh"


def _check_correction(value: str) -> None:
    if value not in CORRECTIONS:
        raise ValueError(f"--correction must be holm or bh, not {value!r}")


@dataclass
class ReportSettings:
    out: Path = field(metadata={"help": "a results folder written by `globmed bench run`", "positional": True})
    rescore: bool = field(default=False, metadata={
        "help": "re-score every answer from the request store first (no network)"})
    correction: str = field(default="holm", metadata={"help": CORRECTION_HELP})
    paper: bool = field(default=False, metadata={
        "help": "each model the paper reports beside its headline figure: overall accuracy, the paper's, the gap "
                "(also OUT/report/paper.json)"})
    judge: str | None = field(default=None, metadata={
        "help": "ask this model about outputs the rules leave unparsed (only those it has not answered yet; "
                "column pred_judge)"})
    judge_backend: str = field(default="openai", metadata={"help": "the judge's backend (as bench run's --backend)"})
    judge_base_url: str | None = field(default=None, metadata={"help": "the judge's server URL"})
    judge_api_key_env: str | None = field(default=None, metadata={
        "help": "environment variable holding the judge's API key"})
    repair: bool = field(default=False, metadata={
        "help": "salvage the readable rows of a damaged request store first"})

    def __post_init__(self) -> None:
        _check_correction(self.correction)

    def judge_spec(self) -> Any:
        """The judge to ask (a bench.judge.JudgeSpec), or None without --judge."""
        if not self.judge:
            return None
        from .judge import JudgeSpec

        return JudgeSpec(self.judge, self.judge_backend, self.judge_base_url, self.judge_api_key_env)


@dataclass
class CompareSettings:
    out_a: Path = field(metadata={"help": "results folder of model A", "positional": True})
    out_b: Path = field(metadata={"help": "results folder of model B (may be the same folder)", "positional": True})
    model_a: str | None = field(default=None, metadata={"help": "model name in OUT_A (when it holds several)"})
    model_b: str | None = field(default=None, metadata={"help": "model name in OUT_B (when it holds several)"})
    correction: str = field(default="holm", metadata={"help": CORRECTION_HELP})

    def __post_init__(self) -> None:
        _check_correction(self.correction)
