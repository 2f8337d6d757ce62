"""`globmed train distill`: teacher reasoning traces -> a distillation SFT dataset (crash-safe, resumable).

1. For every MCQA / NLI training item, the teacher (any bench backend: an OpenAI-compatible server
   such as vLLM serving gpt-oss-120b as in the paper, TGI, an endpoint, Anthropic, or a local
   transformers model) reads the item in English (--teacher-language) with a prompt written for
   it: reason step by step, then end with "Answer: X".
2. The final answer is read with the bench's extractor (globmed.bench.extract.extract_answer); only
   traces whose answer equals the gold answer are kept. Long-form QA has no checkable answer and is
   skipped.
3. Each kept trace becomes a training conversation in a target language (language randomization,
   as for direct SFT): the bench's prompt in that language, and as the answer the trace followed by
   the language's answer cue and the target answer (Task.target). Traces are translated into their
   target languages by the translation pipeline (globmed.translate: glossary, draft, review, refine,
   structure check), run on them as long-form records (the item as the question, the trace as the
   answer), crash-safe like the rest; a trace whose translation fails keeps its English text (counted
   in the report). Without globmed.translate (or with --translate no) the English traces are kept.
   The translator is its own model (--translate-model, needed unless --translate no), never the teacher
   by default: the paper had gpt-oss-120B write the traces and GPT-5 translate them.

Teacher calls go through a runner Session (globmed.runner.Session), as the bench's do, and its SQLite
store: every response is committed as it arrives, so after a crash or kill -9 a rerun sends no request
that was already answered. The output (OUT/distill.jsonl, chat messages) is what `train sft --distill-data` reads.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from rich.console import Console
from rich.table import Table

from .. import __version__, languages, registry
from ..backends import GenerationSettings, Request, Response, make_backend
from ..bench.extract import extract_answer, strip_reasoning
from ..core import REQUEST_STORE
from ..core.datafolder import open_data
from ..errors import GlobmedError, IncompleteRun
from ..io import atomic_path, write_json
from ..records import LETTERS
from ..runner import RunStats, Session, Store, request_key
from ..tasks import get_task
from .data import Instance, assign_languages, language_mix, load_records, print_mix, resolve_data
from .settings import DistillSettings
from .traces import trace_question, translate_traces, translation_available

OUTPUT = "distill.jsonl"
PROMPT_VERSION = "distill-v1"
TASKS = ("mcqa", "nli")
TEACHER_SYSTEM = ("You are a medical expert and a careful teacher. You explain your reasoning step by step "
                  "in {language}, then state the final answer exactly in the requested format.")
TEACHER_MCQA = """The following is a multiple-choice question about medicine.

{context}Question: {question}

Options:
{options}

Think through the question step by step in {language}: recall the relevant medical knowledge and explain why the \
best option is right and why the others are wrong. Then finish with a last line of the form "Answer: X", where X is \
the letter of the single best option."""
TEACHER_NLI = """Read the premise and the hypothesis taken from a medical text, and decide how the hypothesis relates \
to the premise ({labels}).

Premise: {premise}
Hypothesis: {hypothesis}

Reason step by step in {language} about what the premise says and whether it supports, contradicts or says \
nothing about the hypothesis. Then finish with a last line of the form "Answer: LABEL", where LABEL is one of: \
{labels}."""
_FINAL_LINE = re.compile(r"\n?[ \t]*(?:\*\*)?(?:final answer|answer)(?:\*\*)?[ \t]*[:：][^\n]*\s*$", re.I)


# ------------------------------------------------------------------------------------------ prompts
def teacher_messages(row: Mapping[str, Any], dataset: str, lang_code: str) -> tuple[dict[str, str], ...]:
    spec, lang = registry.get(dataset), languages.get(lang_code)
    name = lang.name
    if spec.task == "mcqa":
        options = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, row["options"]))
        context = f"{row['context']}\n\n" if row.get("context") else ""
        user = TEACHER_MCQA.format(context=context, question=row["question"], options=options, language=name)
    elif spec.task == "nli":
        labels = ", ".join(languages.get("en").label_word(label) for label in spec.labels)
        user = TEACHER_NLI.format(premise=row["premise"], hypothesis=row["hypothesis"], labels=labels, language=name)
    else:
        raise GlobmedError(f"{dataset}: only MCQA and NLI items can be distilled (their answers can be checked)")
    return ({"role": "system", "content": TEACHER_SYSTEM.format(language=name)}, {"role": "user", "content": user})


def teacher_answer(text: str, dataset: str, row: Mapping[str, Any], lang_code: str) -> str | None:
    spec = registry.get(dataset)
    options = list(row["options"]) if spec.task == "mcqa" else list(spec.labels)
    return extract_answer(text, lang_code, spec.task, options)


def trace_of(response: Response) -> str:
    """The reasoning: a separately returned reasoning text and/or a <think> block, then the visible
    explanation without its final "Answer: ..." line."""
    text = response.text or ""
    parts = []
    if response.reasoning:
        parts.append(response.reasoning.strip())
    if "</think>" in text:
        think = text.rsplit("</think>", 1)[0].replace("<think>", "").strip()
        if think:
            parts.append(think)
    visible = strip_reasoning(text) or ""
    visible = _FINAL_LINE.sub("", visible).strip()
    if visible:
        parts.append(visible)
    return "\n\n".join(parts).strip()


def student_answer(trace: str, row: Mapping[str, Any], dataset: str, lang_code: str) -> str:
    """The assistant turn a student learns: the trace, then the language's answer cue and the target."""
    spec, lang = registry.get(dataset), languages.get(lang_code)
    cue = getattr(lang, spec.task)["answer_cue"]
    return f"{trace}\n\n{cue} {get_task(spec.task).target(row, lang, spec)}".strip()


# --------------------------------------------------------------------------------------------- run
@dataclass
class Items:
    """What the teacher is asked about: the checkable datasets' records in every language wanted."""

    data_ref: str
    skipped: list[str]  # datasets left out (long-form QA: no answer to check)
    records: dict[str, dict[str, dict[str, dict[str, Any]]]]  # dataset -> language -> id -> row
    teacher_rows: dict[tuple[str, str], dict[str, Any]]  # (dataset, id) -> the row in the teacher's language
    langs: list[str]


@dataclass
class Teaching:
    """The teacher's run: what identifies it, the request key per item, its counts, and (once judged) the
    traces kept, the outcomes per dataset and the items rejected."""

    identity: dict[str, Any]
    generation: GenerationSettings
    keys: dict[tuple[str, str], str]
    stats: RunStats
    kept: dict[tuple[str, str], str] = field(default_factory=dict)  # (dataset, id) -> trace
    outcomes: dict[str, dict[str, int]] = field(default_factory=dict)
    rejected: list[dict[str, Any]] = field(default_factory=list)


def run_distill(settings: DistillSettings, console: Console | None = None) -> Path:
    console = console or Console()
    out = Path(settings.out)
    items = resolve_items(settings, console)
    with Session(_teacher(settings), out / REQUEST_STORE, concurrency=settings.concurrency, rpm=settings.rpm,
                 tpm=settings.tpm, max_retries=settings.max_retries, progress=settings.progress,
                 description="teacher") as session:
        teaching = ask_teacher(session, items.teacher_rows, settings)
        console.print(f"teacher: {teaching.stats.done} answered, {teaching.stats.cached} from the store, "
                      f"{teaching.stats.errors} errors, {teaching.stats.retries} retries in "
                      f"{teaching.stats.elapsed:.1f} s")
        teaching.kept, teaching.outcomes, teaching.rejected = _judge(session.store, teaching.keys, items.teacher_rows,
                                                                     settings.teacher_language)
    instances = target_languages(items, teaching.kept, settings)
    traces, translation_counts = trace_languages(instances, teaching.kept, items, settings, console)
    return write_dataset(settings, items, teaching, instances, traces, translation_counts, console)


def resolve_items(settings: DistillSettings, console: Console) -> Items:
    """The data (resolved, built if needed), its checkable datasets and their records."""
    data_ref = resolve_data(settings.data, settings.sources, Path(settings.out), Console(stderr=True),
                            distributed=False)
    source = open_data(data_ref)
    wanted = registry.parse_datasets(settings.datasets)
    skipped = [d for d in wanted if registry.get(d).task not in TASKS]
    if skipped:
        console.print(f"[yellow]skipped (long-form QA has no answer to check): {', '.join(skipped)}[/]")
    checkable = [d for d in wanted if d not in skipped]
    if not checkable:
        raise GlobmedError("nothing to distill: only MCQA and NLI datasets have answers to check (--datasets)")
    teacher_lang = settings.teacher_language
    langs = languages.parse_languages(settings.languages)
    records = load_records(source, checkable, sorted(set(langs) | {teacher_lang}), settings.split, settings.limit,
                           tasks=TASKS)
    teacher_rows = {(d, i): row for d, by_lang in records.items() for i, row in by_lang.get(teacher_lang, {}).items()}
    if not teacher_rows:
        raise GlobmedError(f"{data_ref}: no {teacher_lang} items for the teacher (is --teacher-language in the data?)")
    return Items(data_ref, skipped, records, teacher_rows, langs)


def _teacher(settings: DistillSettings) -> Any:
    return make_backend(settings.backend, settings.model or "", base_url=settings.base_url,
                        api_key_env=settings.api_key_env)


def ask_teacher(session: Session, teacher_rows: dict[tuple[str, str], dict[str, Any]],
                settings: DistillSettings) -> Teaching:
    """Plan one teacher request per item and send those the store has not answered."""
    identity, teacher_lang = session.identity, settings.teacher_language
    gen = GenerationSettings(max_tokens=settings.max_tokens, temperature=settings.temperature, seed=settings.seed,
                             reasoning_effort=settings.reasoning_effort)
    eval_id = hashlib.sha256(json.dumps({"identity": identity, "gen": gen.to_json(), "prompt": PROMPT_VERSION},
                                        sort_keys=True, default=str).encode()).hexdigest()[:16]
    keys: dict[tuple[str, str], str] = {}
    requests: dict[str, Request] = {}
    plan = []
    for (dataset, item_id), row in teacher_rows.items():
        request = Request(messages=teacher_messages(row, dataset, teacher_lang), settings=gen)
        key = request_key({"backend": identity, "request": request.payload(), "dataset": dataset,
                           "language": teacher_lang, "item": item_id, "purpose": PROMPT_VERSION})
        keys[(dataset, item_id)], requests[key] = key, request
        plan.append((dataset, teacher_lang, item_id, 0, key, request.messages))
    session.put_plan(eval_id, plan)
    stats = session.execute((session.job(key, req) for key, req in requests.items()), len(requests))
    return Teaching(identity, gen, keys, stats)


def target_languages(items: Items, kept: dict[tuple[str, str], str], settings: DistillSettings) -> list[Instance]:
    """The paper's language randomization over the languages each kept item exists in."""
    kept_records = {d: {lang: {i: r for i, r in rows.items() if (d, i) in kept} for lang, rows in by_lang.items()
                        if lang in items.langs} for d, by_lang in items.records.items()}
    return assign_languages(kept_records, settings.language_mode, settings.seed)


def trace_languages(instances: list[Instance], kept: dict[tuple[str, str], str], items: Items,
                    settings: DistillSettings, console: Console
                    ) -> tuple[dict[Instance, tuple[str, str]], dict[str, Counter]]:
    """Each instance's trace and its language: translated into the target language where globmed.translate
    can (a failed translation keeps the teacher's trace), else the teacher's."""
    teacher_lang = settings.teacher_language
    traces = {inst: (kept[(inst.dataset, inst.id)], teacher_lang) for inst in instances}
    if not translation_available(settings.translate):
        return traces, {}
    todo: dict[str, list[tuple[Instance, str, str]]] = defaultdict(list)
    for inst in instances:
        if inst.language != teacher_lang:
            todo[inst.language].append((inst, kept[(inst.dataset, inst.id)],
                                        trace_question(items.teacher_rows[(inst.dataset, inst.id)], inst.dataset)))
    if not todo:
        return traces, {}
    translated, counts = translate_traces(todo, teacher_lang, settings, console)
    traces.update({inst: (text, inst.language) for inst, text in translated.items()})
    return traces, counts


def write_dataset(settings: DistillSettings, items: Items, teaching: Teaching, instances: list[Instance],
                  traces: dict[Instance, tuple[str, str]], translation_counts: dict[str, Counter],
                  console: Console) -> Path:
    """OUT/distill.jsonl (the conversations) and OUT/report.json; exit 3 when calls failed."""
    out, kept, outcomes, stats = Path(settings.out), teaching.kept, teaching.outcomes, teaching.stats
    translating = translation_available(settings.translate)
    rows = []
    for inst in instances:
        row = items.records[inst.dataset][inst.language][inst.id]
        spec, lang = registry.get(inst.dataset), languages.get(inst.language)
        trace, trace_lang = traces[inst]
        messages = [*get_task(spec.task).messages(row, lang, spec),
                    {"role": "assistant", "content": student_answer(trace, row, inst.dataset, inst.language)}]
        rows.append({"id": inst.id, "dataset": inst.dataset, "language": inst.language, "task": spec.task,
                     "messages": messages, "gold": get_task(spec.task).gold(row), "trace_language": trace_lang,
                     "teacher": settings.model, "teacher_backend": settings.backend})
    with atomic_path(out / OUTPUT) as tmp:
        tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    mix = language_mix(rows, settings.language_mode, settings.seed)
    report = {
        "kind": "globmed-distill", "globmed_version": __version__,
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "data": items.data_ref, "split": settings.split,
        "teacher": {"backend": settings.backend, "model": settings.model, "identity": teaching.identity,
                    "generation": teaching.generation.to_json()},
        "teacher_language": settings.teacher_language, "prompt_version": PROMPT_VERSION,
        "skipped_datasets": items.skipped, "items": len(items.teacher_rows), "kept": len(kept),
        "outcomes": outcomes, "rejected": teaching.rejected,
        "translation": ("translated with globmed.translate (a failed translation keeps the English trace)"
                        if translating else "none: globmed.translate is not installed, the English traces are kept"
                        if settings.translate == "auto" else "off (--translate no): the English traces are kept"),
        "translator": {"backend": settings.translate_backend, "model": settings.translate_model,
                       "base_url": settings.translate_base_url} if translating else None,
        "translation_counts": {lang: dict(c) for lang, c in translation_counts.items()},
        "trace_languages": dict(Counter(r["trace_language"] for r in rows)),
        "conversations": len(rows), "language_mix": mix,
        "last_run": {"requests": len(teaching.keys), "cached": stats.cached, "sent": stats.done + stats.errors,
                     "errors": stats.errors, "retries": stats.retries, "seconds": round(stats.elapsed, 3)},
    }
    write_json(out / "report.json", report)
    _print_outcomes(outcomes, console)
    if rows:
        print_mix(mix, console)
    console.print(f"[green]wrote[/] {out / OUTPUT}: {len(rows)} conversations from {len(kept)} of "
                  f"{len(items.teacher_rows)} items whose teacher answer matched the gold answer; trace languages: "
                  f"{report['trace_languages']}")
    translate_errors = sum(c.get("call_errors", 0) for c in translation_counts.values())
    if stats.errors or translate_errors:  # written, but not complete: the exit status says so (3)
        raise IncompleteRun(f"{stats.errors} teacher request(s) and {translate_errors} trace translation(s) failed; "
                            f"recorded in {out / 'report.json'} (those items are left out or keep the English trace). "
                            "Rerun the same command to retry them.")
    return out / OUTPUT


def _judge(store: Store, keys: dict[tuple[str, str], str], teacher_rows: dict[tuple[str, str], dict[str, Any]],
           teacher_lang: str) -> tuple[dict[tuple[str, str], str], dict[str, dict[str, int]], list[dict[str, Any]]]:
    """(kept: (dataset, id) -> trace, outcomes per dataset, rejected items)."""
    kept: dict[tuple[str, str], str] = {}
    outcomes: dict[str, Counter] = defaultdict(Counter)
    rejected = []
    for (dataset, item_id), key in keys.items():
        row = teacher_rows[(dataset, item_id)]
        gold = get_task(registry.get(dataset).task).gold(row)
        raw = store.get(key)
        if raw is None:
            err = store.error(key)
            outcomes[dataset]["error"] += 1
            rejected.append({"dataset": dataset, "id": item_id, "outcome": "error", "error": err[0] if err else None})
            continue
        response = Response.from_json(raw)
        pred = teacher_answer(response.text or "", dataset, row, teacher_lang)
        trace = trace_of(response)
        if pred is None:
            outcome = "truncated" if response.finish_reason == "length" else "unparsed"
        elif pred != gold:
            outcome = "wrong"
        elif not trace:
            outcome = "no_trace"
        else:
            outcome = "kept"
            kept[(dataset, item_id)] = trace
        outcomes[dataset][outcome] += 1
        if outcome != "kept":
            rejected.append({"dataset": dataset, "id": item_id, "outcome": outcome, "pred": pred, "gold": gold})
    return kept, {d: dict(c) for d, c in outcomes.items()}, rejected


def _print_outcomes(outcomes: dict[str, dict[str, int]], console: Console) -> None:
    names = ["kept", "wrong", "unparsed", "truncated", "no_trace", "error"]
    table = Table(title="Teacher traces per dataset (kept = the final answer matches the gold answer)")
    table.add_column("dataset")
    for n in names:
        table.add_column(n, justify="right")
    for dataset, counts in outcomes.items():
        table.add_row(dataset, *[str(counts.get(n, 0)) for n in names])
    console.print(table)
