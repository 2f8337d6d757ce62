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

import asyncio
import datetime as dt
import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.table import Table

from .. import __version__, languages, registry
from ..backends import GenerationSettings, Request, backend_class, make_backend
from ..backends.base import DEFAULT_TIMEOUT
from ..errors import GlobmedError, IncompleteRun
from ..io import atomic_path, write_json
from ..runner import DEFAULT_DEADLINE, Job, RateLimiter, Store, execute, request_key
from .campaign import ModelEntry, load_campaign
from .data import Source, choose_split, load_items, open_source
from .paper import bench_datasets
from .tasks import get_task, prompt_hash, template_hash

STORE = Path(".cache") / "requests.sqlite"
MANIFEST = "globmed.json"


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
    concurrency: int | None = field(default=None, metadata={"help": "requests in flight (default: adaptive)"})
    rpm: float | None = field(default=None, metadata={"help": "request rate limit per minute"})
    tpm: float | None = field(default=None, metadata={"help": "token rate limit per minute"})
    max_retries: int = field(default=6, metadata={"help": "retries of 408/429/5xx/timeouts"})
    timeout: float = field(default=DEFAULT_TIMEOUT, metadata={
        "help": "seconds one attempt may take, whole answer included (remote backends)"})
    deadline: float = field(default=DEFAULT_DEADLINE, metadata={
        "help": "seconds one request may take across all its retries; then it is recorded as an error"})
    repair: bool = field(default=False, metadata={
        "help": "salvage the readable rows of a damaged request store (the damaged file is kept beside it)"})
    limit: int | None = field(default=None, metadata={"help": "first K items per config (for a quick look)"})
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


@dataclass
class ConfigPlan:
    dataset: str
    language: str
    split: str
    items: list[dict[str, Any]]


def entries_from(settings: BenchSettings) -> list[ModelEntry]:
    if settings.models:
        return load_campaign(settings.models, settings.only or None)
    meta: dict[str, Any] = {}
    for pair in settings.meta:
        key, _, value = pair.partition("=")
        meta[key.strip()] = _parse_scalar(value.strip())
    options = {k: v for k, v in (("revision", settings.revision), ("batch_size", settings.batch_size)) if v is not None}
    price = ({"input": settings.price_input or 0.0, "output": settings.price_output or 0.0}
             if settings.price_input is not None or settings.price_output is not None else None)
    return [ModelEntry(name=settings.name or settings.model or "", backend=settings.backend, model=settings.model or "",
                       base_url=settings.base_url, api_key_env=settings.api_key_env, options=options,
                       concurrency=settings.concurrency, rpm=settings.rpm, tpm=settings.tpm, price=price, meta=meta)]


def _parse_scalar(value: str) -> Any:
    for cast in (int, float):
        try:
            return cast(value)
        except ValueError:
            pass
    return {"true": True, "false": False, "null": None}.get(value.lower(), value)


def generation_for(entry: ModelEntry, settings: BenchSettings, task: str, run: int) -> GenerationSettings:
    gen = dict(entry.generation)
    ctk = dict(gen.pop("chat_template_kwargs", None) or {})
    if settings.enable_thinking is not None and "enable_thinking" not in ctk:
        ctk["enable_thinking"] = settings.enable_thinking
    effort = gen.pop("reasoning_effort", settings.reasoning_effort)
    max_tokens = gen.pop("max_tokens", None) or settings.max_tokens
    lfqa_tokens = gen.pop("max_tokens_lfqa", None) or settings.max_tokens_lfqa
    if task == "lfqa":  # free answers need their own (usually larger) budget
        max_tokens = lfqa_tokens
    if not max_tokens:  # nothing set: the task's budget, larger for a model that reasons first
        max_tokens = get_task(task).budget(reasons_first(entry, ctk, effort))
    temperature = _temperature(entry, settings)
    top_p = gen.pop("top_p", settings.top_p)
    return GenerationSettings(
        max_tokens=max_tokens, temperature=temperature, top_p=None if temperature == 0 else top_p,
        seed=settings.seed + run, stop=tuple(gen.pop("stop", ()) or ()), reasoning_effort=effort,
        chat_template_kwargs=ctk or None, token_param=gen.pop("token_param", "max_tokens"),
        extra_body=gen.pop("extra_body", None) or None,
    )


def reasons_first(entry: ModelEntry, chat_template_kwargs: dict[str, Any], effort: str | None) -> bool:
    """Whether the model thinks before it answers: a chat-template thinking switch decides (Qwen3's
    enable_thinking=false makes a reasoning model answer at once), then a reasoning effort, then the
    model's metadata (`reasoning: true` in a campaign, --meta reasoning=true)."""
    for key in ("enable_thinking", "thinking"):
        if key in chat_template_kwargs:
            return bool(chat_template_kwargs[key])
    if effort and str(effort).lower() != "none":
        return True
    return entry.meta.get("reasoning") in (True, "true", "True", 1)


def generations(entry: ModelEntry, settings: BenchSettings, tasks: list[str]) -> dict[str, dict[str, Any]]:
    """The generation settings of each task (run 0; later runs differ only in the seed): recorded with the results."""
    return {task: asdict(generation_for(entry, settings, task, 0)) for task in tasks}


def _temperature(entry: ModelEntry, settings: BenchSettings) -> float | None:
    """None: no temperature is sent (the model's own sampling, or an API that takes none)."""
    if entry.temperature == "omit":
        return None
    if settings.greedy:
        return 0.0
    return float(entry.temperature) if entry.temperature is not None else settings.temperature


def decoding(entry: ModelEntry, settings: BenchSettings, supports_loglik: bool, seeds: bool = True) -> str:
    """How the runs were decoded, in words (recorded with the results; the report reads it)."""
    temperature = _temperature(entry, settings)
    if temperature == 0:
        how = "greedy (temperature 0): deterministic, the runs repeat one another"
    elif temperature is None:
        how = ("the model's own default sampling (no temperature sent)" if entry.temperature != "omit" or not settings.greedy
               else "the API's fixed sampling (it takes no temperature, so --greedy cannot apply)")
    else:
        how = f"sampling at temperature {temperature:g}"
    if temperature != 0:
        how += f"; run r seeded {settings.seed} + r" if seeds else "; unseeded (the API takes no seed)"
    if settings.mode == "loglik" and supports_loglik:
        how = "loglik scoring of the options (MCQA/NLI: deterministic, the runs repeat one another); generation: " + how
    return how


def plan_configs(source: Source, settings: BenchSettings, out: Path) -> list[ConfigPlan]:
    """The configs to evaluate, with their items (also cached in OUT so scoring needs no network)."""
    plans = []
    wanted_langs = languages.parse_languages(settings.languages)
    for dataset in bench_datasets(settings.datasets):
        for lang in wanted_langs:
            config = f"{dataset}.{lang}"
            if config not in source.configs:
                continue
            split = choose_split(source, config, settings.split)
            items = load_items(source, config, split, settings.limit)
            _cache_items(items_cache(out, source.revision, config, split), items)
            plans.append(ConfigPlan(dataset, lang, split, items))
    if not plans:
        raise GlobmedError(f"{source.ref}: none of the selected configs exist (datasets={settings.datasets}, "
                           f"languages={settings.languages})")
    return plans


def missing_configs(source: Source, settings: BenchSettings) -> dict[str, list[str]]:
    """Selected dataset -> the selected languages DATA lacks (e.g. MedNLI, which may not be redistributed)."""
    wanted_langs = languages.parse_languages(settings.languages)
    missing = {d: [lang for lang in wanted_langs if f"{d}.{lang}" not in source.configs]
               for d in bench_datasets(settings.datasets)}
    return {d: langs for d, langs in missing.items() if langs}


def report_missing(source: Source, missing: dict[str, list[str]], settings: BenchSettings, console: Console) -> None:
    """One line per selected dataset that DATA lacks in some language: what is skipped and why it may be."""
    wanted = languages.parse_languages(settings.languages)
    for dataset, langs in missing.items():
        spec = registry.get(dataset)
        what = "not in DATA" if len(langs) == len(wanted) else f"not in DATA in {', '.join(langs)}"
        why = (f" ({spec.title} may not be redistributed: build it from your own copy with `globmed data build`)"
               if not spec.redistributable else "")
        console.print(f"[yellow]{dataset}: {what}{why}; skipped[/] ({source.ref})")


def items_cache(out: Path, revision: str, config: str, split: str) -> Path:
    return out / ".cache" / "items" / revision / f"{config}.{split}.jsonl"


def _cache_items(cache: Path, items: list[dict[str, Any]]) -> None:
    """Add the items the cache lacks (a run with --limit caches only the first K; a later, larger run
    into the same OUT must find all of its items there too)."""
    cached = cache.read_text(encoding="utf-8").splitlines() if cache.exists() else []
    ids = {json.loads(line)["id"] for line in cached}
    new = [json.dumps(r, ensure_ascii=False) for r in items if r["id"] not in ids]
    if new:
        with atomic_path(cache) as tmp:
            tmp.write_text("".join(line + "\n" for line in cached + new), encoding="utf-8")


def eval_id(entry: ModelEntry, identity: dict[str, Any], settings: BenchSettings, source: Source,
            tasks: list[str]) -> str:
    budgets = {task: generation_for(entry, settings, task, 0).max_tokens for task in tasks}
    parts = {"name": entry.name, "identity": identity, "generation": entry.generation, "mode": settings.mode,
             "budgets": budgets,
             "temperature": _temperature(entry, settings), "data": source.ref, "data_revision": source.revision, "split": settings.split,
             "seed": settings.seed, "enable_thinking": settings.enable_thinking,
             "reasoning_effort": settings.reasoning_effort}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def build_requests(plans: list[ConfigPlan], entry: ModelEntry, settings: BenchSettings, runs: int,
                   supports_loglik: bool) -> Iterator[tuple[ConfigPlan, dict[str, Any], int, Request]]:
    """Every (config, item, run, request), rendered lazily."""
    for plan in plans:
        spec, lang = registry.get(plan.dataset), languages.get(plan.language)
        task = get_task(spec.task)
        loglik = settings.mode == "loglik" and supports_loglik and task.choices is not None
        for item in plan.items:
            messages = task.messages(item, lang, spec)
            choices = task.choices(item, lang, spec) if loglik else ()
            for run in range(runs):
                gen = generation_for(entry, settings, spec.task, run)
                yield plan, item, run, Request(messages=messages, settings=gen, choices=choices)


def _key(identity: dict[str, Any], plan: ConfigPlan, item: dict[str, Any], run: int, request: Request) -> str:
    return request_key({"backend": identity, "request": request.payload(), "dataset": plan.dataset,
                        "language": plan.language, "item": item["id"], "run": run})


def run_bench(settings: BenchSettings, console: Console | None = None, summary: bool = True) -> Path:
    """Evaluate, score and (with `summary`) print the per-language table; returns OUT."""
    from .score import print_scores, score

    console = console or Console()
    out = Path(settings.out)
    source = open_source(settings.data)
    missing = missing_configs(source, settings)
    report_missing(source, missing, settings, console)
    plans = plan_configs(source, settings, out)
    entries = entries_from(settings)
    if settings.dry_run:
        dry_run(settings, entries, plans, console)
        return out
    store = Store(out / STORE, repair=settings.repair)
    report_repair(store, console)
    manifest = _read_manifest(out)
    failed = 0
    try:
        for entry in entries:
            failed += _evaluate(entry, settings, source, plans, store, manifest, out, console, missing)
    finally:
        store.close()
    score(out)
    if settings.judge:
        from .judge import JudgeSpec, judge_unparsed

        judge_unparsed(out, JudgeSpec(settings.judge, settings.judge_backend, settings.judge_base_url,
                                      settings.judge_api_key_env), console, settings.progress)
    if summary:
        print_scores(out, console)
    if failed:  # results are written, but the run is not complete: say so with the exit status
        raise IncompleteRun(f"{failed} request(s) failed; they are recorded as errors in {out} (never scored as "
                            f"wrong answers). Rerun the same command to retry them.")
    return out


def _evaluate(entry: ModelEntry, settings: BenchSettings, source: Source, plans: list[ConfigPlan], store: Store,
              manifest: dict[str, Any], out: Path, console: Console, missing: dict[str, list[str]]) -> int:
    """Plan and run one model's requests; returns how many failed."""
    options = dict(entry.options)
    if entry.base_url:
        options["base_url"] = entry.base_url
    if entry.api_key_env:
        options["api_key_env"] = entry.api_key_env
    if "timeout" in {f.name for f in fields(backend_class(entry.backend))}:
        options.setdefault("timeout", settings.timeout)  # a campaign entry's own timeout wins
    backend = make_backend(entry.backend, entry.model, **options)
    try:
        identity = backend.identity()
        runs = entry.runs or settings.runs
        tasks = sorted({registry.get(p.dataset).task for p in plans})
        eid = eval_id(entry, identity, settings, source, tasks)
        keys = _write_plan(store, eid, identity, build_requests(plans, entry, settings, runs, backend.supports_loglik))
        total = len(keys)
        started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        evaluation = {
            "name": entry.name, "backend": entry.backend, "model": entry.model, "identity": identity,
            "api_key_env": entry.api_key_env,  # the variable's name (never its value): the push scan checks it
            "meta": entry.meta, "price": entry.price, "mode": settings.mode, "runs": runs,
            "temperature": _temperature(entry, settings), "seed": settings.seed,
            "generations": generations(entry, settings, tasks),
            "decoding": decoding(entry, settings, backend.supports_loglik, seeds=entry.backend != "anthropic"),
            "missing_configs": missing, "note": entry.note,
            "data": source.ref, "data_revision": source.revision,
            "configs": [{"dataset": p.dataset, "language": p.language, "split": p.split, "items": len(p.items)} for p in plans],
            "template_hashes": {f"{p.dataset}.{p.language}": template_hash(languages.get(p.language), registry.get(p.dataset).task)
                                for p in plans},
            "globmed_version": __version__, "started": started,
            "bertscore": {"model": settings.bertscore_model, "layers": settings.bertscore_layers}
            if settings.bertscore_model else None,
        }
        manifest["evaluations"][eid] = evaluation
        _write_manifest(out, manifest)

        # The same order as the plan, so the keys computed there pair up (requests are rendered again
        # lazily: keeping them all would hold every prompt x run in memory).
        pairs: Iterator[tuple[str, Request]] = (
            (key, req) for key, (_, _, _, req) in zip(keys, build_requests(plans, entry, settings, runs,
                                                                            backend.supports_loglik)))
        if backend.prefers_sorted:  # local batching: long prompts together, little padding
            pairs = iter(sorted(pairs, key=lambda kr: -len(kr[1].messages[-1]["content"])))
        limiter = RateLimiter(entry.rpm or settings.rpm, entry.tpm or settings.tpm)
        count_tokens = limiter.tokens is not None  # the estimate only feeds a token rate limit
        jobs = (Job(key, req, _estimate_tokens(req) if count_tokens else 0) for key, req in pairs)
        stats = asyncio.run(_run(jobs, total, backend, store, entry.concurrency or settings.concurrency, limiter,
                                 settings.max_retries, entry.name, settings.progress, settings.deadline))
        evaluation["finished"] = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        evaluation["last_run"] = {"requests": total, "cached": stats.cached, "sent": stats.done + stats.errors,
                                  "errors": stats.errors, "retries": stats.retries, "seconds": round(stats.elapsed, 3)}
        _write_manifest(out, manifest)
        console.print(f"[bold]{entry.name}[/]: {stats.done} answered, {stats.cached} from the store, "
                      f"{stats.errors} errors, {stats.retries} retries in {stats.elapsed:.1f} s "
                      f"({stats.throughput:.1f} req/s)")
        return stats.errors
    except BaseException:
        asyncio.run(backend.aclose())  # a fresh loop: the run's loop is gone
        raise


async def _run(jobs: Iterator[Job], total: int, backend: Any, store: Store, concurrency: int | None,
               limiter: RateLimiter, max_retries: int, name: str, progress: bool, deadline: float) -> Any:
    """Run and close the backend in ONE event loop (async HTTP clients are bound to their loop)."""
    try:
        return await execute(jobs, total, backend, store, concurrency=concurrency, limiter=limiter,
                             max_retries=max_retries, description=name, show_progress=progress, deadline=deadline)
    finally:
        await backend.aclose()


def report_repair(store: Store, console: Console) -> None:
    if store.repaired:
        kept = store.repaired["kept"]
        console.print(f"repaired {store.path}: kept {kept['responses']} responses, {kept['errors']} errors and "
                      f"{kept['plan']} plan rows; the damaged file is {store.repaired['moved_to']}")


def _write_plan(store: Store, eid: str, identity: dict[str, Any],
                requests: Iterator[tuple[ConfigPlan, dict[str, Any], int, Request]], chunk: int = 20_000) -> list[str]:
    """Record which request answers which item and run, in bounded chunks; returns the request keys
    in plan order (64 bytes each: the prompts themselves are not kept)."""
    rows: list[tuple[str, str, str, str, int, str, str]] = []
    prompts: dict[str, str] = {}
    keys: list[str] = []
    for plan, item, run, request in requests:
        ph = prompt_hash(request.messages)
        if ph not in prompts:
            prompts[ph] = json.dumps([dict(m) for m in request.messages], ensure_ascii=False)
        keys.append(_key(identity, plan, item, run, request))
        rows.append((eid, plan.dataset, plan.language, item["id"], run, keys[-1], ph))
        if len(rows) >= chunk:
            store.put_plan(rows, prompts)
            rows, prompts = [], {}
    store.put_plan(rows, prompts)
    return keys


def _estimate_tokens(request: Request) -> int:
    text = "".join(m["content"] for m in request.messages)
    return int(len(text.encode("utf-8")) / 3.5) + (1 if request.choices else request.settings.max_tokens)


def dry_run(settings: BenchSettings, entries: list[ModelEntry], plans: list[ConfigPlan], console: Console) -> None:
    """Requests, rough tokens (UTF-8 bytes / 3.5 in; max_tokens as the output ceiling) and cost per model."""
    table = Table(title="Dry run: nothing is sent")
    for col in ("model", "requests", "input tokens (est.)", "output tokens (max)", "cost USD (max)"):
        table.add_column(col, justify="right" if col != "model" else "left")
    for entry in entries:
        runs = entry.runs or settings.runs
        n = tok_in = tok_out = 0
        for _, _, _, req in build_requests(plans, entry, settings, runs, supports_loglik=True):
            n += 1
            prompt = int(len("".join(m["content"] for m in req.messages).encode("utf-8")) / 3.5)
            tok_in += prompt
            tok_out += 1 if req.choices else req.settings.max_tokens
        cost = "-"
        if entry.price:
            cost = f"{(tok_in * entry.price.get('input', 0) + tok_out * entry.price.get('output', 0)) / 1e6:,.2f}"
        table.add_row(entry.name, f"{n:,}", f"{tok_in:,}", f"{tok_out:,}", cost)
    console.print(table)
    for entry in entries:
        console.print(f"{entry.name}: {decoding(entry, settings, True, seeds=entry.backend != 'anthropic')}"
                      + (f"; note: {entry.note}" if entry.note else ""))


def _read_manifest(out: Path) -> dict[str, Any]:
    path = out / MANIFEST
    if path.exists():
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("kind") != "globmed-results":
            raise GlobmedError(f"{out}: not a results folder ({MANIFEST} says kind={data.get('kind')!r})")
        return data
    return {"kind": "globmed-results", "globmed_version": __version__, "evaluations": {}, "datasets": []}


def _write_manifest(out: Path, manifest: dict[str, Any]) -> None:
    datasets = sorted({c["dataset"] for e in manifest["evaluations"].values() for c in e["configs"]})
    manifest["datasets"] = datasets  # what the results derive from: read by the push licence guard
    write_json(out / MANIFEST, manifest)


def run(settings: BenchSettings | None = None, /, console: Console | None = None, **values: Any) -> Path:
    """`globmed bench run` from Python: a BenchSettings, or its fields as keyword arguments (checked as the
    CLI checks flags). Tables go to `console` (default: stdout). Returns the results folder (OUT), whose
    configs load with datasets.load_dataset(str(OUT), "results") and "details.<dataset>.<language>"."""
    from ..api import settings_from

    return run_bench(settings_from(BenchSettings, settings, values, "globmed.bench.run"), console)


def _callable() -> None:
    from ..api import make_callable

    make_callable(__name__, run)


_callable()  # globmed.bench.run(...) is the call above
