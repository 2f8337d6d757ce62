"""One model's run, resolved once before any work: a campaign entry (or the command's --model) and the
run's settings become a frozen ResolvedRun, which every later step reads and none re-derives.

What wins where both say something: the entry (a campaign's line for that model) over the settings,
an explicit value over a default; `None` in the entry means "not set", so the settings' value applies.
A value that cannot be meant (a concurrency of 0, no runs) is an error naming the model, never a
fallback. The window is either a number of requests in flight or "adaptive".

The evaluation id names what the results of a run are: every setting that shapes a request (the model's
identity, its campaign generation settings, each task's token budget, temperature, top-p, seed, reasoning
effort, thinking switch, the mode, the data and its revision, the split) or a score (the BERTScore model).
How many runs, items, datasets and languages are selected, and how requests are sent (window, rate limits,
retries, timeouts, progress) do not enter it: a larger run of the same shape extends the same evaluation.
Settings the id covers since this version (top-p, BERTScore) enter it only when set, so a results folder
written before keeps its ids and a rerun resumes it (tests/test_resolve.py pins that).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, Literal, Mapping

from ..backends import GenerationSettings, backend_class
from ..errors import GlobmedError
from ..tasks import TASKS, get_task
from .campaign import ModelEntry, load_campaign

if TYPE_CHECKING:
    from ..core.datafolder import DataFolder
    from .evaluate import BenchSettings

ADAPTIVE = "adaptive"
Window = int | Literal["adaptive"]


@dataclass(frozen=True)
class ResolvedRun:
    entry: ModelEntry  # the model as given (name, backend, metadata, price, note); not changed after resolving
    backend_options: Mapping[str, Any]  # make_backend's keyword arguments (base_url, api key variable, timeout, ...)
    mode: str  # generate | loglik (where the backend supports it)
    runs: int
    seed: int  # run r is seeded seed + r where the API takes a seed
    temperature: float | None  # None: none is sent (the model's own sampling, or an API that takes none)
    greedy: bool  # asked for; `temperature` says whether it applies (an API may take no temperature)
    generations: Mapping[str, GenerationSettings]  # per task, run 0: later runs differ only in the seed
    split: str  # the split asked for (each config falls back to the one it has)
    bertscore: Mapping[str, Any] | None  # {"model", "layers"}: long-form QA also scored with BERTScore
    concurrency: Window  # requests in flight: a number, or the adaptive window
    rpm: float | None
    tpm: float | None
    max_retries: int
    deadline: float
    progress: bool
    # the settings' own values where the entry may override them: the evaluation id names them as given
    top_p: float | None
    enable_thinking: bool | None
    reasoning_effort: str | None

    @property
    def name(self) -> str:
        return self.entry.name

    @property
    def window(self) -> int | None:
        """The runner's `concurrency`: a fixed window, or None for the adaptive one."""
        return None if self.concurrency == ADAPTIVE else int(self.concurrency)

    def generation(self, task: str, run: int) -> GenerationSettings:
        gen = self.generations[task]
        return replace(gen, seed=gen.seed + run) if gen.seed is not None else gen

    def decoding(self, supports_loglik: bool) -> str:
        """How the runs were decoded, in words (recorded with the results; the report reads it)."""
        if self.temperature == 0:
            how = "greedy (temperature 0): deterministic, the runs repeat one another"
        elif self.temperature is None:
            how = ("the model's own default sampling (no temperature sent)"
                   if self.entry.temperature != "omit" or not self.greedy
                   else "the API's fixed sampling (it takes no temperature, so --greedy cannot apply)")
        else:
            how = f"sampling at temperature {self.temperature:g}"
        if self.temperature != 0:
            seeds = self.entry.backend != "anthropic"  # the Messages API takes no seed
            how += f"; run r seeded {self.seed} + r" if seeds else "; unseeded (the API takes no seed)"
        if self.mode == "loglik" and supports_loglik:
            how = "loglik scoring of the options (MCQA/NLI: deterministic, the runs repeat one another); generation: " + how
        return how

    def evaluation_id(self, identity: Mapping[str, Any], data: DataFolder, tasks: list[str]) -> str:
        """The id of this run's evaluation of `tasks` (see the module docstring)."""
        parts: dict[str, Any] = {
            "name": self.name, "identity": dict(identity), "generation": self.entry.generation, "mode": self.mode,
            "budgets": {task: self.generations[task].max_tokens for task in tasks}, "temperature": self.temperature,
            "data": data.ref, "data_revision": data.revision, "split": self.split, "seed": self.seed,
            "enable_thinking": self.enable_thinking, "reasoning_effort": self.reasoning_effort}
        # Left out while unset, so that the ids of results written before the id covered them stay the same.
        if self.top_p is not None:
            parts["top_p"] = self.top_p
        if self.bertscore:
            parts["bertscore"] = dict(self.bertscore)
        return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def entries_from(settings: BenchSettings) -> list[ModelEntry]:
    """The models to evaluate: a campaign's (--models) or the one given by --model and its flags."""
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


def resolve(entry: ModelEntry, settings: BenchSettings) -> ResolvedRun:
    """The entry and the settings, merged once (the entry wins where it says something) and checked."""
    temperature = _temperature(entry, settings)
    concurrency = _given(entry.concurrency, settings.concurrency)
    runs = _given(entry.runs, settings.runs)
    rpm, tpm = _given(entry.rpm, settings.rpm), _given(entry.tpm, settings.tpm)
    for what, value in (("concurrency", concurrency), ("runs", runs)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise GlobmedError(f"{entry.name}: {what} must be a whole number of at least 1, not {value!r}"
                               + (" (leave it out for the adaptive window)" if what == "concurrency" else ""))
    for what, value in (("rpm", rpm), ("tpm", tpm)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0):
            raise GlobmedError(f"{entry.name}: {what} must be a positive number, not {value!r} (leave it out for no limit)")
    bertscore = ({"model": settings.bertscore_model, "layers": settings.bertscore_layers}
                 if settings.bertscore_model else None)
    return ResolvedRun(
        entry=entry, backend_options=_backend_options(entry, settings), mode=settings.mode, runs=runs,
        seed=settings.seed, temperature=temperature, greedy=settings.greedy,
        generations={task: _generation(entry, settings, task, temperature) for task in TASKS},
        split=settings.split, bertscore=bertscore, concurrency=ADAPTIVE if concurrency is None else concurrency,
        rpm=rpm, tpm=tpm, max_retries=settings.max_retries, deadline=settings.deadline, progress=settings.progress,
        top_p=settings.top_p, enable_thinking=settings.enable_thinking, reasoning_effort=settings.reasoning_effort)


def _given(entry_value: Any, settings_value: Any) -> Any:
    """The entry's value when it gives one (0 included: it is checked, never taken for "not set")."""
    return entry_value if entry_value is not None else settings_value


def _temperature(entry: ModelEntry, settings: BenchSettings) -> float | None:
    """None: no temperature is sent (the model's own sampling, or an API that takes none)."""
    if entry.temperature == "omit":
        return None
    if settings.greedy:
        return 0.0
    return float(entry.temperature) if entry.temperature is not None else settings.temperature


def _generation(entry: ModelEntry, settings: BenchSettings, task: str, temperature: float | None) -> GenerationSettings:
    """The generation settings of `task`'s requests in run 0."""
    gen = dict(entry.generation)
    ctk = dict(gen.pop("chat_template_kwargs", None) or {})
    if settings.enable_thinking is not None and "enable_thinking" not in ctk:
        ctk["enable_thinking"] = settings.enable_thinking
    effort = gen.pop("reasoning_effort", settings.reasoning_effort)
    max_tokens = _given(gen.pop("max_tokens", None), settings.max_tokens)
    lfqa_tokens = _given(gen.pop("max_tokens_lfqa", None), settings.max_tokens_lfqa)
    if task == "lfqa":  # free answers need their own (usually larger) budget
        max_tokens = lfqa_tokens
    if max_tokens is None:  # nothing set: the task's budget, larger for a model that reasons first
        max_tokens = get_task(task).budget(reasons_first(entry, ctk, effort))
    elif isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
        raise GlobmedError(f"{entry.name}: the token budget must be a whole number of at least 1, not {max_tokens!r}")
    top_p = gen.pop("top_p", settings.top_p)
    return GenerationSettings(
        max_tokens=max_tokens, temperature=temperature, top_p=None if temperature == 0 else top_p,
        seed=settings.seed, stop=tuple(gen.pop("stop", ()) or ()), reasoning_effort=effort,
        chat_template_kwargs=ctk or None, token_param=gen.pop("token_param", "max_tokens"),
        extra_body=gen.pop("extra_body", None) or None,
    )


def reasons_first(entry: ModelEntry, chat_template_kwargs: Mapping[str, Any], effort: str | None) -> bool:
    """Whether the model thinks before it answers: a chat-template thinking switch decides (Qwen3's
    enable_thinking=false makes a reasoning model answer at once), then a reasoning effort, then the
    model's metadata (`reasoning: true` in a campaign, --meta reasoning=true)."""
    for key in ("enable_thinking", "thinking"):
        if key in chat_template_kwargs:
            return bool(chat_template_kwargs[key])
    if effort and str(effort).lower() != "none":
        return True
    return entry.meta.get("reasoning") in (True, "true", "True", 1)


def _backend_options(entry: ModelEntry, settings: BenchSettings) -> dict[str, Any]:
    options = dict(entry.options)
    if entry.base_url:
        options["base_url"] = entry.base_url
    if entry.api_key_env:
        options["api_key_env"] = entry.api_key_env
    if "timeout" in {f.name for f in fields(backend_class(entry.backend))}:
        options.setdefault("timeout", settings.timeout)  # a campaign entry's own timeout wins
    return options
