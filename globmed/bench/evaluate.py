"""`globmed bench run`: plan the requests, run them through the runner, then score.

For each model: every selected `<dataset>.<language>` config present in DATA, every item, every
run (seeded `seed + run`). The plan (which request answers which item and run) is written to the
store first, then only requests not yet answered are sent. Scoring reads the store alone.

Defaults are the paper's protocol (globmed/bench/paper.yaml): its six NLI/MCQA benchmarks in every
language, five runs. The runs are independent samples: no temperature is sent unless asked for, so
each model samples at its own recommended settings (the API's default; vLLM/SGLang apply the model's
generation_config.json) with seed `seed + run` where the API takes a seed. `--greedy` (temperature 0)
gives deterministic runs instead; the results record which (`decoding`), and the report says when the
runs came out identical.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table

from .. import __version__, languages, registry
from ..backends import Request, make_backend
from ..backends.base import DEFAULT_TIMEOUT
from ..core.datafolder import DataFolder, config_name, open_data
from ..core.resultsfolder import ResultsFolder
from ..errors import GlobmedError, IncompleteRun
from ..runner import DEFAULT_DEADLINE, Session, Store, estimate_tokens, request_key
from ..tasks import get_task, template_hash
from .paper import bench_datasets
from .resolve import ResolvedRun, entries_from, resolve


@dataclass
class BenchSettings:
    data: str = field(metadata={"help": "a built GlobMed folder or a Hub dataset id"})
    out: Path = field(metadata={"help": "results folder (also holds the crash-safe request store)"})
    backend: str = field(default="openai", metadata={"help": "openai | tgi | endpoint | anthropic | transformers"})
    model: str | None = field(default=None, metadata={"help": "model id / path / endpoint name"})
    models: Path | None = field(default=None, metadata={"help": "campaign YAML: evaluate many models as one job"})
    only: list[str] = field(default_factory=list, metadata={"help": "with --models: just these model names"})
    name: str | None = field(default=None, metadata={"help": "display name of the model (default: --model)"})
    base_url: str | None = field(default=None, metadata={"help": "server URL (OpenAI-compatible, TGI)"})
    api_key_env: str | None = field(default=None, metadata={"help": "environment variable holding the API key"})
    revision: str | None = field(default=None, metadata={"help": "model revision to record (or load, locally)"})
    datasets: str = field(default="paper", metadata={
        "help": "comma-separated datasets; paper = the paper's six NLI/MCQA benchmarks (bionli, mednli, headqa, "
                "medexpqa, medqa, mmlu_pro); all = every dataset (adds long-form QA, MedMCQA, PubMedQA)"})
    languages: str = field(default="all", metadata={"help": "comma-separated language codes, or all"})
    split: str = field(default="test", metadata={"help": "split to evaluate (falls back to validation, train)"})
    runs: int = field(default=5, metadata={"help": "independent runs per model x dataset x language"})
    temperature: float | None = field(default=None, metadata={
        "help": "sampling temperature (recorded); default: none sent, so each model samples at its recommended "
                "settings (independent runs)"})
    greedy: bool = field(default=False, metadata={
        "help": "greedy decoding (temperature 0) for every model whose API takes a temperature: the runs repeat"})
    top_p: float | None = field(default=None, metadata={"help": "nucleus sampling"})
    seed: int = field(default=0, metadata={"help": "base seed; run r uses seed + r where the backend allows"})
    max_tokens: int | None = field(default=None, metadata={
        "help": "max new tokens for MCQA/NLI (default: the task's answer budget, 32, plus 4096 for a reasoning model)"})
    max_tokens_lfqa: int | None = field(default=None, metadata={
        "help": "max new tokens for long-form QA (default: 1024, plus 4096 for a reasoning model)"})
    reasoning_effort: str | None = field(default=None, metadata={"help": "e.g. minimal (GPT-5 in the paper)"})
    enable_thinking: bool | None = field(default=None, metadata={"help": "chat-template thinking switch (Qwen3)"})
    mode: str = field(default="generate", metadata={"help": "generate (any chat API) | loglik (where supported)"})
    concurrency: int | None = field(default=None, metadata={
        "help": "requests in flight, at least 1 (default: an adaptive window)"})
    rpm: float | None = field(default=None, metadata={"help": "request rate limit per minute"})
    tpm: float | None = field(default=None, metadata={"help": "token rate limit per minute"})
    max_retries: int = field(default=6, metadata={"help": "retries of 408/429/5xx/timeouts"})
    timeout: float = field(default=DEFAULT_TIMEOUT, metadata={
        "help": "seconds one attempt may take, whole answer included (remote backends)"})
    deadline: float = field(default=DEFAULT_DEADLINE, metadata={
        "help": "seconds one request may take across all its retries; then it is recorded as an error"})
    repair: bool = field(default=False, metadata={
        "help": "salvage the readable rows of a damaged request store (the damaged file is kept beside it)"})
    limit: int | None = field(default=None, metadata={"help": "first K items per config (for a quick look); 0: all"})
    batch_size: int | None = field(default=None, metadata={"help": "transformers backend batch size"})
    price_input: float | None = field(default=None, metadata={"help": "USD per 1M input tokens (cost)"})
    price_output: float | None = field(default=None, metadata={"help": "USD per 1M output tokens (cost)"})
    bertscore_model: str | None = field(default=None, metadata={
        "help": "also score long-form QA with BERTScore using this model (needs `pip install bert-score`)"})
    bertscore_layers: int | None = field(default=None, metadata={"help": "BERTScore layer (when bert-score does not know the model)"})
    meta: list[str] = field(default_factory=list, metadata={
        "help": "model metadata key=value, e.g. access=open-weight,params_b=8; reasoning=true gives the larger token budget"})
    judge: str | None = field(default=None, metadata={
        "help": "ask this model which answer an output gives, only where the rules leave it unparsed "
                "(details column pred_judge; accuracy stays the rules')"})
    judge_backend: str = field(default="openai", metadata={"help": "the judge's backend (as --backend)"})
    judge_base_url: str | None = field(default=None, metadata={"help": "the judge's server URL"})
    judge_api_key_env: str | None = field(default=None, metadata={"help": "environment variable holding the judge's API key"})
    dry_run: bool = field(default=False, metadata={"help": "estimate requests, tokens and cost; send nothing"})
    progress: bool = field(default=True, metadata={"help": "show a progress bar"})

    def __post_init__(self) -> None:
        if self.mode not in ("generate", "loglik"):
            raise ValueError(f"--mode must be generate or loglik, not {self.mode!r}")
        if not self.models and not self.model:
            raise ValueError("give --model (with --backend) or --models FILE.yaml")
        if self.runs < 1:
            raise ValueError("--runs must be at least 1")
        if self.timeout <= 0 or self.deadline <= 0:
            raise ValueError("--timeout and --deadline must be positive numbers of seconds")
        if self.concurrency is not None and self.concurrency < 1:
            raise ValueError("--concurrency must be at least 1 (leave it out for the adaptive window)")
        for name in ("rpm", "tpm"):
            if getattr(self, name) is not None and getattr(self, name) <= 0:
                raise ValueError(f"--{name} must be a positive number (leave it out for no limit)")
        for name in ("max_tokens", "max_tokens_lfqa"):
            if getattr(self, name) is not None and getattr(self, name) < 1:
                raise ValueError(f"--{name.replace('_', '-')} must be at least 1 (leave it out for the task's budget)")
        if self.limit is not None and self.limit < 0:
            raise ValueError("--limit must be 0 (every item) or more")
        if self.max_retries < 0:
            raise ValueError("--max-retries must be 0 or more")


@dataclass
class ConfigPlan:
    dataset: str
    language: str
    split: str
    items: list[dict[str, Any]]


def plan_configs(data: DataFolder, settings: BenchSettings, folder: ResultsFolder) -> list[ConfigPlan]:
    """The configs to evaluate, with their items (also cached in OUT so scoring needs no network)."""
    plans = []
    wanted_langs = languages.parse_languages(settings.languages)
    for dataset in bench_datasets(settings.datasets):
        for lang in wanted_langs:
            config = config_name(dataset, lang)
            if config not in data.configs:
                continue
            split = data.choose_split(config, settings.split)
            items = data.items(config, split, settings.limit or None)
            folder.cache_items(data.revision, config, split, items)
            plans.append(ConfigPlan(dataset, lang, split, items))
    if not plans:
        raise GlobmedError(f"{data.ref}: none of the selected configs exist (datasets={settings.datasets}, "
                           f"languages={settings.languages})")
    return plans


def missing_configs(data: DataFolder, settings: BenchSettings) -> dict[str, list[str]]:
    """Selected dataset -> the selected languages DATA lacks (e.g. MedNLI, which may not be redistributed)."""
    wanted_langs = languages.parse_languages(settings.languages)
    missing = {d: [lang for lang in wanted_langs if config_name(d, lang) not in data.configs]
               for d in bench_datasets(settings.datasets)}
    return {d: langs for d, langs in missing.items() if langs}


def report_missing(data: DataFolder, missing: dict[str, list[str]], settings: BenchSettings, console: Console) -> None:
    """One line per selected dataset that DATA lacks in some language: what is skipped and why it may be."""
    wanted = languages.parse_languages(settings.languages)
    for dataset, langs in missing.items():
        spec = registry.get(dataset)
        what = "not in DATA" if len(langs) == len(wanted) else f"not in DATA in {', '.join(langs)}"
        why = (f" ({spec.title} may not be redistributed: build it from your own copy with `globmed data build`)"
               if not spec.redistributable else "")
        console.print(f"[yellow]{dataset}: {what}{why}; skipped[/] ({data.ref})")


def build_requests(plans: list[ConfigPlan], run: ResolvedRun, supports_loglik: bool
                   ) -> Iterator[tuple[ConfigPlan, dict[str, Any], int, Request]]:
    """Every (config, item, run, request), rendered lazily."""
    for plan in plans:
        spec, lang = registry.get(plan.dataset), languages.get(plan.language)
        task = get_task(spec.task)
        loglik = run.mode == "loglik" and supports_loglik and task.choices is not None
        for item in plan.items:
            messages = task.messages(item, lang, spec)
            choices = task.choices(item, lang, spec) if loglik and task.choices else ()
            for r in range(run.runs):
                yield plan, item, r, Request(messages=messages, settings=run.generation(spec.task, r), choices=choices)


def _key(identity: dict[str, Any], plan: ConfigPlan, item: dict[str, Any], run: int, request: Request) -> str:
    return request_key({"backend": identity, "request": request.payload(), "dataset": plan.dataset,
                        "language": plan.language, "item": item["id"], "run": run})


def run_bench(settings: BenchSettings, console: Console | None = None, summary: bool = True) -> Path:
    """Evaluate, score and (with `summary`) print the per-language table; returns OUT."""
    from .scoring import print_scores, score

    console = console or Console()
    folder = ResultsFolder(settings.out)
    data = open_data(settings.data)
    missing = missing_configs(data, settings)
    report_missing(data, missing, settings, console)
    runs = [resolve(entry, settings) for entry in entries_from(settings)]  # every setting checked before any work
    plans = plan_configs(data, settings, folder)
    if settings.dry_run:
        dry_run(runs, plans, console)
        return folder.path
    store = folder.open_store(repair=settings.repair)
    report_repair(store, console)
    manifest = folder.read_manifest(create=True)
    failed = 0
    try:
        for run in runs:
            failed += _evaluate(run, data, plans, store, manifest, folder, console, missing)
    finally:
        store.close()
    score(folder.path)
    if settings.judge:
        from .judge import JudgeSpec

        judge_unparsed(folder.path, JudgeSpec(settings.judge, settings.judge_backend, settings.judge_base_url,
                                              settings.judge_api_key_env), console, settings.progress)
    if summary:
        print_scores(folder.path, console)
    if failed:  # results are written, but the run is not complete: say so with the exit status
        raise IncompleteRun(f"{failed} request(s) failed; they are recorded as errors in {folder.path} (never scored "
                            f"as wrong answers). Rerun the same command to retry them.")
    return folder.path


def _evaluate(run: ResolvedRun, data: DataFolder, plans: list[ConfigPlan], store: Store, manifest: dict[str, Any],
              folder: ResultsFolder, console: Console, missing: dict[str, list[str]]) -> int:
    """Plan and run one model's requests; returns how many failed."""
    entry = run.entry
    backend = make_backend(entry.backend, entry.model, **run.backend_options)
    with Session(backend, store, concurrency=run.window, rpm=run.rpm, tpm=run.tpm, max_retries=run.max_retries,
                 deadline=run.deadline, progress=run.progress, description=run.name) as session:
        identity = session.identity
        eid = run.evaluation_id(identity, data, sorted({registry.get(p.dataset).task for p in plans}))
        keys = _write_plan(session, eid, build_requests(plans, run, backend.supports_loglik))
        total = len(keys)
        evaluation = _evaluation_record(run, identity, data, plans, missing, backend.supports_loglik)
        manifest["evaluations"][eid] = evaluation
        folder.write_manifest(manifest)

        # The same order as the plan, so the keys computed there pair up (requests are rendered again
        # lazily: keeping them all would hold every prompt x run in memory).
        pairs: Iterator[tuple[str, Request]] = (
            (key, req) for key, (_, _, _, req) in zip(keys, build_requests(plans, run, backend.supports_loglik)))
        if backend.prefers_sorted:  # local batching: long prompts together, little padding
            pairs = iter(sorted(pairs, key=lambda kr: -len(kr[1].messages[-1]["content"])))
        stats = session.execute((session.job(key, req) for key, req in pairs), total)
    evaluation["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    evaluation["last_run"] = {"requests": total, "cached": stats.cached, "sent": stats.done + stats.errors,
                              "errors": stats.errors, "retries": stats.retries, "seconds": round(stats.elapsed, 3)}
    folder.write_manifest(manifest)
    console.print(f"[bold]{entry.name}[/]: {stats.done} answered, {stats.cached} from the store, "
                  f"{stats.errors} errors, {stats.retries} retries in {stats.elapsed:.1f} s "
                  f"({stats.throughput:.1f} req/s)")
    return stats.errors


def _evaluation_record(run: ResolvedRun, identity: dict[str, Any], data: DataFolder, plans: list[ConfigPlan],
                       missing: dict[str, list[str]], supports_loglik: bool) -> dict[str, Any]:
    """What the manifest says about one evaluation (scoring and the report read it)."""
    entry = run.entry
    tasks = sorted({registry.get(p.dataset).task for p in plans})
    return {
        "name": entry.name, "backend": entry.backend, "model": entry.model, "identity": identity,
        "api_key_env": entry.api_key_env,  # the variable's name (never its value): the push scan checks it
        "meta": entry.meta, "price": entry.price, "mode": run.mode, "runs": run.runs,
        "temperature": run.temperature, "seed": run.seed,
        # per task (budgets differ): run 0's settings, later runs differ only in the seed
        "generations": {task: asdict(run.generations[task]) for task in tasks},
        "decoding": run.decoding(supports_loglik), "missing_configs": missing, "note": entry.note,
        "data": data.ref, "data_revision": data.revision, "split": run.split,
        "configs": [{"dataset": p.dataset, "language": p.language, "split": p.split, "items": len(p.items)} for p in plans],
        "template_hashes": {config_name(p.dataset, p.language): template_hash(languages.get(p.language),
                                                                               registry.get(p.dataset).task)
                            for p in plans},
        "globmed_version": __version__, "started": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "bertscore": dict(run.bertscore) if run.bertscore else None,
    }


def report_repair(store: Store, console: Console) -> None:
    if store.repaired:
        kept = store.repaired["kept"]
        console.print(f"repaired {store.path}: kept {kept['responses']} responses, {kept['errors']} errors and "
                      f"{kept['plan']} plan rows; the damaged file is {store.repaired['moved_to']}")


def _write_plan(session: Session, eid: str,
                requests: Iterator[tuple[ConfigPlan, dict[str, Any], int, Request]]) -> list[str]:
    """Record which request answers which item and run; returns the request keys in plan order (64 bytes
    each: the prompts themselves are not kept)."""
    identity = session.identity
    keys: list[str] = []

    def rows() -> Iterator[Any]:
        for plan, item, run, request in requests:
            keys.append(_key(identity, plan, item, run, request))
            yield plan.dataset, plan.language, item["id"], run, keys[-1], request.messages

    session.put_plan(eid, rows())
    return keys


def dry_run(runs: list[ResolvedRun], plans: list[ConfigPlan], console: Console) -> None:
    """Requests, rough tokens (UTF-8 bytes / 3.5 in; max_tokens as the output ceiling) and cost per model."""
    table = Table(title="Dry run: nothing is sent")
    for col in ("model", "requests", "input tokens (est.)", "output tokens (max)", "cost USD (max)"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for run in runs:
        n = tok_in = tok_out = 0
        for _, _, _, req in build_requests(plans, run, supports_loglik=True):
            n += 1
            tok_in += estimate_tokens(req.messages)
            tok_out += 1 if req.choices else req.settings.max_tokens
        price = run.entry.price
        cost = "-" if not price else f"{(tok_in * price.get('input', 0) + tok_out * price.get('output', 0)) / 1e6:,.2f}"
        table.add_row(run.name, f"{n:,}", f"{tok_in:,}", f"{tok_out:,}", cost)
    console.print(table)
    for run in runs:
        console.print(f"{run.name}: {run.decoding(True)}" + (f"; note: {run.entry.note}" if run.entry.note else ""))


def judge_unparsed(out: Path, spec: Any, console: Console, progress: bool = True) -> dict[str, Any]:
    """Ask the judge (a globmed.bench.judge.JudgeSpec) about every unparsed output in OUT that it has not
    answered yet, then re-score."""
    from .scoring import score

    folder = ResultsFolder(out)
    manifest = folder.read_manifest()
    backend = spec.make()
    manifest["judge"] = {"model": spec.model, "backend": spec.backend, "identity": backend.identity(),
                         "max_tokens": spec.max_tokens}
    folder.write_manifest(manifest)
    pending = score(folder.path, judge_pending=True)["judge_pending"]
    store = folder.open_store()
    try:
        with Session(backend, store, progress=progress, description=f"judge {spec.model}") as session:
            stats = session.execute([session.job(key, request) for key, request in pending.items()], len(pending))
    finally:
        store.close()
    result = score(folder.path)
    console.print(f"judge [bold]{spec.model}[/]: asked about {len(pending)} unparsed output(s) "
                  f"({stats.errors} errors); its readings are in the column pred_judge")
    return result
