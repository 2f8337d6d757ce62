"""The fixed schema of a results folder's configs, as `datasets` Features written into each parquet file.

Every column has its type whatever the values: a column whose values are all missing (no cost without a
price, no BERTScore, every answer parsed) is still float64 or string, never `null`; the NLI label
columns (`gold`, `pred`) are ClassLabels over the dataset's labels, so `load_dataset` shows the names.
The Features go into the parquet metadata (the `huggingface` key), where `datasets` reads them back.

A row with a column that has no type here is an error, never silently dropped: a new column is added here.
"""

from __future__ import annotations

from typing import Any, Iterable, Mapping, Sequence

import pyarrow as pa
from datasets import ClassLabel, Features, List, Value

from ..errors import GlobmedError
from .campaign import META_FIELDS

STRING, INT, FLOAT, BOOL = Value("string"), Value("int64"), Value("float64"), Value("bool")
MESSAGE = {"role": STRING, "content": STRING}

RESULTS = Features({
    "model": STRING, "dataset": STRING, "language": STRING, "task": STRING, "reference_language": STRING,
    "translation": STRING,  # original / official (human) / machine, joined with "/" when mixed
    "run": INT, "mode": STRING, "split": STRING,
    "n": INT, "answered": INT, "correct": INT, "accuracy": FLOAT, "unparsed": INT, "errors": INT, "missing": INT,
    "unparsed_judge": INT, "accuracy_judge": FLOAT,  # the judge's, apart (globmed.bench.judge); null without one
    "unparsed_rate": FLOAT, "error_rate": FLOAT,
    "truncated": INT, "truncated_rate": FLOAT,  # answers cut at the token budget (finish reason length)
    "finish_reasons": STRING, "max_tokens": INT,  # finish reason counts as JSON; the task's token budget
    "tokens_in": INT, "tokens_out": INT, "cost_usd": FLOAT,
    "decoding": STRING,  # sampling (the model's own settings, seeded per run) or greedy
    "globmed_version": STRING, "backend": STRING, "model_id": STRING, "model_revision": STRING, "base_url": STRING,
    "prompt_template_hash": STRING, "generation": STRING, "temperature": FLOAT, "seed": INT, "data": STRING,
    "data_revision": STRING, "started": STRING, "finished": STRING,
    "rouge1": FLOAT, "rougeL": FLOAT, "bleu1": FLOAT, "bertscore": FLOAT,
    **{key: FLOAT if key in ("params_b", "active_params_b") else STRING for key in META_FIELDS},
    "meta": STRING,
})

_DETAILS = {
    "model": STRING, "run": INT, "id": STRING, "prompt_hash": STRING,
    "prompt": List(MESSAGE),  # every message as sent: system and user
    "output": STRING, "reasoning": STRING, "scores": List(FLOAT), "pred": STRING, "pred_judge": STRING, "gold": STRING,
    "correct": BOOL, "unparsed": BOOL, "error": STRING, "finish_reason": STRING,
    "tokens_in": INT, "tokens_out": INT, "latency": FLOAT,
    "rouge1": FLOAT, "rougeL": FLOAT, "bleu1": FLOAT, "bertscore": FLOAT,
    "translation": STRING,  # original / official (human) / machine
}
DETAIL_COLUMNS = tuple(_DETAILS)


def details_features(task: str, labels: Sequence[str] = ()) -> Features:
    """The details of one dataset: NLI answers are class labels over its labels; MCQA letters and
    long-form answers are strings."""
    features = dict(_DETAILS)
    if task == "nli":
        features["pred"] = features["pred_judge"] = features["gold"] = ClassLabel(names=list(labels))
    return Features(features)


def table(rows: Iterable[Mapping[str, Any]], features: Features, config: str) -> pa.Table:
    """An arrow table with exactly `features` (ClassLabel values given as names are encoded)."""
    rows = list(rows)
    extra = sorted({key for row in rows for key in row} - set(features))
    if extra:
        raise GlobmedError(f"{config}: column(s) {', '.join(extra)} have no type in globmed/bench/schema.py; "
                           "add them there (nothing is written without a type)")
    labels = {name: f for name, f in features.items() if isinstance(f, ClassLabel)}
    if labels:
        rows = [{**row, **{name: _encode(f, row.get(name), config, name) for name, f in labels.items()}} for row in rows]
    return pa.Table.from_pylist(rows, schema=features.arrow_schema)


def _encode(feature: ClassLabel, value: Any, config: str, column: str) -> int | None:
    if value is None or isinstance(value, int):
        return value
    try:
        return feature.str2int(value)
    except ValueError:
        raise GlobmedError(f"{config}: {column} {value!r} is not one of the labels {feature.names}") from None
