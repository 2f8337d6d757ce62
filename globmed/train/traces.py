"""Translating distillation traces into their target languages with globmed.translate (the item as
the question, the trace as the answer of a long-form record), one resumable run per target language."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Mapping

from rich.console import Console

from .. import registry
from ..core import CACHE
from ..io import atomic_path
from ..records import LETTERS
from .data import Instance
from .settings import DistillSettings


def translation_available(mode: str) -> bool:
    return mode != "no" and importlib.util.find_spec("globmed.translate") is not None


def trace_question(row: Mapping[str, Any], dataset: str) -> str:
    """The item as the translation record's question (context for translating its trace)."""
    if registry.get(dataset).task == "nli":
        return f"Premise: {row['premise']}\nHypothesis: {row['hypothesis']}"
    options = "\n".join(f"{letter}. {text}" for letter, text in zip(LETTERS, row["options"]))
    return "\n\n".join(p for p in (row.get("context"), row["question"], options) if p)


def trace_record(inst: Instance, trace: str, question: str, teacher_lang: str, split: str) -> Any:
    """A kept trace as the long-form record globmed.translate translates: the item as the question (its
    context), the trace as the answer, both in the teacher's language."""
    from ..records import LFQARecord

    return LFQARecord(id=inst.id, dataset=inst.dataset, split=split, language=teacher_lang, question=question,
                      answer=trace, meta={"kind": "distillation-trace"})


def trace_translate_settings(settings: DistillSettings, records: Path, work: Path, lang: str) -> Any:
    """The globmed.translate settings of one target language's trace translation run."""
    from ..translate.settings import TranslateSettings

    # the translator is its own model, never the teacher by default (the paper: gpt-oss-120B writes, GPT-5 translates)
    return TranslateSettings(
        data=records, out=work, languages=lang, backend=settings.translate_backend, model=settings.translate_model,
        base_url=settings.translate_base_url, api_key_env=settings.translate_api_key_env,
        temperature=settings.translate_temperature, dictionary=settings.translate_dictionary,
        max_tokens=settings.max_tokens, concurrency=settings.concurrency, rpm=settings.rpm, tpm=settings.tpm,
        max_retries=settings.max_retries, progress=settings.progress)


def translate_traces(todo: dict[str, list[tuple[Instance, str, str]]], teacher_lang: str, settings: DistillSettings,
                     console: Console) -> tuple[dict[Instance, str], dict[str, Counter]]:
    """Run globmed.translate on the traces, one run per target language (each resumable on its own
    store under OUT/.cache/translate/<lang>). Returns the translated traces and ok/failed counts."""
    from ..translate.pipeline import translate

    done: dict[Instance, str] = {}
    counts: dict[str, Counter] = defaultdict(Counter)
    root = Path(settings.out) / CACHE / "translate"
    for lang, items in todo.items():
        work = root / lang
        records = work / "traces.jsonl"
        by_key = {(inst.dataset, inst.id): inst for inst, _, _ in items}
        with atomic_path(records) as tmp:
            tmp.write_text("".join(json.dumps(trace_record(inst, trace, question, teacher_lang, settings.split).to_json(),
                                              ensure_ascii=False) + "\n"
                                   for inst, trace, question in items), encoding="utf-8")
        summary = translate(trace_translate_settings(settings, records, work, lang), console)
        if summary["counts"].get("error"):  # calls that failed (retried by a rerun), beside structure failures
            counts[lang]["call_errors"] = summary["counts"]["error"]
        for path in sorted(work.glob(f"*/{lang}.jsonl")):
            for line in path.read_text(encoding="utf-8").splitlines():
                row = json.loads(line)
                inst = by_key.get((row["dataset"], row["id"]))
                if inst is None:
                    continue
                if row.get("status") == "ok" and isinstance(row.get("answer"), str) and row["answer"].strip():
                    done[inst] = row["answer"].strip()
                    counts[lang]["translated"] += 1
                else:
                    counts[lang]["failed"] += 1
        missing = len(items) - counts[lang]["translated"] - counts[lang]["failed"]
        if missing:
            counts[lang]["missing"] = missing
    return done, counts
