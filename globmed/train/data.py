"""Training conversations from GlobMed records, with the paper's language randomization.

Every conversation is exactly what the bench sends (Task.messages: the target language's system
prompt and zero-shot prompt) followed by the answer a trained model should give (Task.target), so
train and test formats cannot drift apart. Conversations are in TRL's conversational
prompt/completion form (`prompt`: system + user messages, `completion`: the assistant message):
TRL then computes the loss on the completion (the answer) only, with any chat template.

Language randomization: an *instance* is one item of one dataset (the same id in every language
config). In `random` mode each instance appears once, in one language drawn from the languages it
exists in; the draw depends only on (seed, dataset, item id), so it is reproducible and does not
change when other items are added. In `all` mode each instance appears in every language.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import random
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from rich.console import Console
from rich.table import Table

from .. import languages, registry
from ..core.datafolder import DataFolder, config_name, open_data
from ..core.modelfolder import BUILT_DATA
from ..errors import GlobmedError
from ..sample import sources_folder
from ..tasks import get_task


@dataclass(frozen=True)
class Instance:
    dataset: str
    id: str
    language: str


# --------------------------------------------------------------------------------------------- data
def source_fingerprint(sources: Path) -> str:
    """Changes whenever a file under `sources` is added, removed or modified."""
    h = hashlib.sha256()
    for path in sorted(Path(sources).rglob("*")):
        if path.is_file():
            stat = path.stat()
            h.update(f"{path.relative_to(sources).as_posix()}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return h.hexdigest()[:16]


def resolve_data(data: str | None, sources: Path | None, workdir: Path, console: Console | None = None,
                 distributed: bool = True) -> str:
    """The built folder (or Hub id) to read: `data` as given, or `sources` built into WORKDIR/.cache/data.

    Under several processes (`distributed`) only the main one builds; the others wait, then reuse it."""
    if data:
        return str(data)
    assert sources is not None
    sources = sources_folder(sources)
    if not sources.is_dir():
        hint = "" if sources.is_absolute() else f" (relative to the current directory {Path.cwd()})"
        raise GlobmedError(f"{sources}: sources folder not found{hint}")
    out = Path(workdir) / BUILT_DATA
    stamp = out / ".fingerprint"
    with _main_first(distributed):
        fingerprint = source_fingerprint(sources)
        if not (stamp.exists() and stamp.read_text() == fingerprint):
            from ..hub.build import BuildSettings, build

            build(BuildSettings(sources=sources, out=out, overwrite=True), console=console or Console(stderr=True))
            stamp.write_text(fingerprint)
    open_data.cache_clear()
    return str(out)


def _main_first(distributed: bool) -> Any:
    if not distributed:
        return contextlib.nullcontext()
    from .scale import distributed_state

    return distributed_state().main_process_first()


def load_records(source: DataFolder, datasets: str | list[str], langs: str | list[str], split: str,
                 limit: int | None = None, tasks: Iterable[str] | None = None
                 ) -> dict[str, dict[str, dict[str, dict[str, Any]]]]:
    """dataset -> language -> item id -> row, for the selected configs present in `source`.

    `split` may list several splits (comma-separated): each config uses the first it has. A
    selected config without any of them is an error (training on the wrong split must never happen
    silently); `limit` keeps the first K item ids of each dataset (the same ids in every language)."""
    wanted_langs = languages.parse_languages(langs)
    wanted_splits = [s.strip() for s in split.split(",") if s.strip()]
    out: dict[str, dict[str, dict[str, dict[str, Any]]]] = {}
    for dataset in registry.parse_datasets(datasets):
        spec = registry.get(dataset)
        if tasks is not None and spec.task not in tasks:
            continue
        for lang in wanted_langs:
            config = config_name(dataset, lang)
            if config not in source.configs:
                continue
            splits = source.splits(config)
            chosen = next((s for s in wanted_splits if s in splits), None)
            if chosen is None:
                raise GlobmedError(f"{source.ref}: config {config} has no split {split!r} (it has {', '.join(splits)}); "
                                   f"choose with --split (a comma-separated list takes the first one present)")
            rows = source.items(config, chosen)
            out.setdefault(dataset, {})[lang] = {row["id"]: row for row in rows}
        if limit and dataset in out:
            first = next(iter(out[dataset].values()))
            keep = list(first)[:limit]
            out[dataset] = {lang: {i: rows[i] for i in keep if i in rows} for lang, rows in out[dataset].items()}
    if not out:
        raise GlobmedError(f"{source.ref}: none of the selected configs exist (datasets={datasets}, languages={langs})")
    return out


def assign_languages(records: Mapping[str, Mapping[str, Mapping[str, Any]]], mode: str, seed: int) -> list[Instance]:
    """One Instance per item (random mode: one language drawn from those the item exists in) or per
    item and language (all mode). Deterministic in (seed, dataset, item id)."""
    if mode not in ("random", "all"):
        raise GlobmedError(f"language mode must be random or all, not {mode!r}")
    order = {code: i for i, code in enumerate(languages.codes())}
    instances: list[Instance] = []
    for dataset in records:
        available: dict[str, list[str]] = defaultdict(list)
        for lang in sorted(records[dataset], key=lambda c: order.get(c, len(order))):
            for item_id in records[dataset][lang]:
                available[item_id].append(lang)
        for item_id, langs in available.items():
            if mode == "all":
                instances.extend(Instance(dataset, item_id, lang) for lang in langs)
            else:
                rng = random.Random(f"globmed-language-draw:{seed}:{dataset}:{item_id}")
                instances.append(Instance(dataset, item_id, rng.choice(langs)))
    return instances


def conversation(row: Mapping[str, Any], dataset: str, lang_code: str) -> dict[str, Any]:
    """The bench's prompt (system + user) and the target answer, in TRL's prompt/completion form."""
    spec, lang = registry.get(dataset), languages.get(lang_code)
    task = get_task(spec.task)
    return {"prompt": [dict(m) for m in task.messages(row, lang, spec)],
            "completion": [{"role": "assistant", "content": task.target(row, lang, spec)}],
            "id": row["id"], "dataset": dataset, "language": lang_code, "task": spec.task, "kind": "direct"}


def conversations(records: Mapping[str, Mapping[str, Mapping[str, Any]]], instances: list[Instance]) -> list[dict[str, Any]]:
    return [conversation(records[i.dataset][i.language][i.id], i.dataset, i.language) for i in instances]


def language_mix(rows: list[Mapping[str, Any]], mode: str | None = None, seed: int | None = None) -> dict[str, Any]:
    """Counts per language and per dataset x language (the report printed and saved with the model)."""
    order = {code: i for i, code in enumerate(languages.codes())}
    total = Counter(r["language"] for r in rows)
    per: dict[str, Counter] = defaultdict(Counter)
    for r in rows:
        per[r["dataset"]][r["language"]] += 1
    sort = lambda c: dict(sorted(c.items(), key=lambda kv: order.get(kv[0], len(order))))  # noqa: E731
    return {"mode": mode, "seed": seed, "conversations": len(rows), "languages": sort(total),
            "share": {k: round(v / len(rows), 4) for k, v in sort(total).items()} if rows else {},
            "datasets": {d: sort(c) for d, c in per.items()},
            "kinds": dict(Counter(r.get("kind", "direct") for r in rows))}


def print_mix(mix: dict[str, Any], console: Console) -> None:
    langs = list(mix["languages"])
    title = f"Training language mix ({mix['conversations']} conversations"
    title += f", mode {mix['mode']}, seed {mix['seed']})" if mix.get("mode") else ")"
    table = Table(title=title)
    table.add_column("dataset")
    for lang in langs:
        table.add_column(lang, justify="right")
    for dataset, counts in mix["datasets"].items():
        table.add_row(dataset, *[str(counts.get(lang, 0)) for lang in langs])
    table.add_row("[bold]all[/]", *[f"[bold]{mix['languages'][lang]}[/]" for lang in langs])
    table.add_row("share %", *[f"{100 * mix['share'][lang]:.1f}" for lang in langs])
    console.print(table)


# ------------------------------------------------------------------------------------- distillation
def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a jsonl / json / parquet file."""
    path = Path(path)
    if not path.is_file():
        raise GlobmedError(f"{path}: file not found")
    if path.suffix == ".parquet":
        import pyarrow.parquet as pq

        return pq.read_table(path).to_pylist()
    text = path.read_text(encoding="utf-8")
    if path.suffix == ".json":
        data = json.loads(text)
        return data if isinstance(data, list) else [data]
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise GlobmedError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return rows


def distill_conversations(paths: Iterable[Path]) -> list[dict[str, Any]]:
    """Conversations of distillation datasets: rows with `messages` (the last one the assistant's
    answer) or with `prompt` / `completion`, turned into prompt/completion form."""
    out = []
    for path in paths:
        for n, row in enumerate(read_rows(Path(path)), 1):
            if "messages" in row:
                messages = [dict(m) for m in row["messages"]]
                if not messages or messages[-1].get("role") != "assistant":
                    raise GlobmedError(f"{path}: row {n}: the last message must be the assistant's answer")
                prompt, completion = messages[:-1], messages[-1:]
            elif "prompt" in row and "completion" in row:
                prompt, completion = row["prompt"], row["completion"]
            else:
                raise GlobmedError(f"{path}: row {n}: needs `messages` (or `prompt` and `completion`)")
            out.append({"prompt": prompt, "completion": completion, "id": str(row.get("id", f"{Path(path).name}:{n}")),
                        "dataset": row.get("dataset") or "unknown", "language": row.get("language") or "unknown",
                        "task": row.get("task") or "unknown", "kind": "distill"})
    if not out:
        raise GlobmedError("the distillation data holds no conversations")
    return out
