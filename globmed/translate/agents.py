"""The agents of one translation: the prompts of each stage filled from a record, its glossary and
the earlier stages' answers (draft -> review by "Expert Agent I" -> refine by "Expert Agent II" ->
structure check and fix -> back-translation), and the trace kept with the record. The pipeline
(pipeline.py) plans the pairs, drives many of them concurrently and writes the results."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from .. import languages
from ..backends import GenerationSettings, Request
from ..records import Record
from ..runner import Job, Session, estimate_tokens, prompt_hash, prompt_text, request_key
from ..runner.calls import Outcome
from ..structure import check_translation
from . import quality as q, templates as tpl
from .dictionary import GlossaryEntry
from .parse import parse_fields, parse_json_object
from .settings import TranslateSettings

LLM_STAGES = ("draft", "review", "refine", "backtranslate")

TASK_DESCRIPTIONS = {
    "mcqa": "a multiple-choice medical exam question",
    "nli": "a medical natural-language-inference item (a premise and a hypothesis)",
    "lfqa": "a medical question with its reference answer",
}


def source_fields(record: Record) -> dict[str, Any]:
    """The record's non-empty text fields, in field order."""
    return {f: getattr(record, f) for f in record.text_fields if getattr(record, f) not in (None, "", [])}


@dataclass
class Pair:
    seq: int
    record: Record
    language: str
    glossary: list[GlossaryEntry]


# ---------------------------------------------------------------------------------------------
# The stages
# ---------------------------------------------------------------------------------------------
class Translator:
    def __init__(self, settings: TranslateSettings, templates: dict[str, tpl.Template], identity: dict[str, Any],
                 session: Session | None = None):
        self.settings, self.templates, self.identity = settings, templates, identity
        extra = {"response_format": {"type": "json_object"}} if settings.json_mode else None
        self.generation = GenerationSettings(max_tokens=settings.max_tokens, temperature=settings.temperature,
                                             seed=settings.seed, extra_body=extra)
        self.usage = {"calls": 0, "cached": 0, "tokens_in": 0, "tokens_out": 0, "cached_tokens_in": 0,
                      "cached_tokens_out": 0, "by_stage": {s: 0 for s in LLM_STAGES}}
        self.counts = {"ok": 0, "failed": 0, "error": 0, "retried": 0}
        self.prompts: dict[str, str] = {}  # compact trace: prompt hash -> messages (flushed to the store)
        self.session = session  # None: a dry run (nothing is sent or stored)

    # -- prompt values ---------------------------------------------------------------------------
    def values(self, record: Record, lang: str, glossary: list[GlossaryEntry]) -> dict[str, Any]:
        """The values every stage shares; `render` adds those that depend on the stage's direction."""
        src, tgt = languages.get(record.language), languages.get(lang)
        fields = source_fields(record)
        return {
            "source_language": src.name, "source_native": src.native_name, "source_code": src.code,
            "target_language": tgt.name, "target_native": tgt.native_name, "target_code": tgt.code,
            "task_description": TASK_DESCRIPTIONS.get(record.task, "a medical text"),
            "structure_rule": structure_rule(record, fields),
            "field_names": ", ".join(f'"{f}"' for f in fields),
            "fields": fields,
            "glossary": format_glossary(glossary),
            "source_json": json.dumps(fields, ensure_ascii=False, indent=2),
        }

    def render(self, stage: str, values: dict[str, Any], **extra: Any) -> tuple[dict[str, str], ...]:
        """The stage's messages. Its answer skeleton names the language the stage answers in (the
        back-translation answers in the source language, the other stages in the target language)."""
        frm, out = tpl.DIRECTION[stage]
        directed = {
            "input_language": values[f"{frm}_language"], "input_native": values[f"{frm}_native"],
            "output_language": values[f"{out}_language"], "output_native": values[f"{out}_native"],
            "output_format": output_format(values["fields"], values[f"{out}_language"]),
        }
        return self.templates[stage].render({**values, **directed, **extra})

    def job(self, stage: str, attempt: int, pair: Pair, messages: tuple[dict[str, str], ...]) -> Job:
        request = Request(messages=messages, settings=self.generation)
        key = request_key({"kind": "globmed-translate", "stage": stage, "attempt": attempt, "backend": self.identity,
                           "request": request.payload(), "dataset": pair.record.dataset, "item": pair.record.id,
                           "language": pair.language})
        return Job(key, request, estimate_tokens(messages, self.generation.max_tokens))

    def _trace_entry(self, stage: str, attempt: int, job: Job, outcome: Outcome) -> dict[str, Any]:
        entry: dict[str, Any] = {"stage": stage, "attempt": attempt, "key": job.key}
        messages = [dict(m) for m in job.request.messages]
        if self.settings.trace == "full":
            entry["messages"] = messages
        else:
            entry["prompt_hash"] = ph = prompt_hash(messages)
            self.prompts[ph] = prompt_text(messages)
            if len(self.prompts) >= 1000 and self.session is not None:  # bounded memory: flush to the store
                self.session.put_prompts(self.prompts)
                self.prompts.clear()
        r = outcome.response
        if r is not None:
            entry.update(output=r.text, finish_reason=r.finish_reason, tokens_in=r.tokens_in, tokens_out=r.tokens_out)
        else:
            entry["error"] = outcome.error
        return entry

    def _account(self, stage: str, outcome: Outcome) -> None:
        r = outcome.response
        if r is None:
            return
        prefix = "cached_" if outcome.cached else ""
        self.usage["cached" if outcome.cached else "calls"] += 1
        self.usage[prefix + "tokens_in"] += r.tokens_in or 0
        self.usage[prefix + "tokens_out"] += r.tokens_out or 0
        if not outcome.cached:
            self.usage["by_stage"][stage] = self.usage["by_stage"].get(stage, 0) + 1

    async def run_pair(self, pair: Pair, call: Any) -> dict[str, Any]:
        """All stages of one record x language; returns its output line."""
        record, lang = pair.record, pair.language
        fields = source_fields(record)
        values = self.values(record, lang, pair.glossary)
        stages: list[dict[str, Any]] = []
        trace: dict[str, Any] = {"source_language": record.language, "source": fields,
                                 "glossary": [g.to_json() for g in pair.glossary],
                                 "templates": {k: t.hash for k, t in self.templates.items()},
                                 "model": self.identity, "stages": stages}
        base = {"id": record.id, "dataset": record.dataset, "language": lang}

        async def ask(stage: str, attempt: int, messages: tuple[dict[str, str], ...]) -> Outcome:
            job = self.job(stage, attempt, pair, messages)
            outcome = await call(job)
            self._account(stage, outcome)
            stages.append(self._trace_entry(stage, attempt, job, outcome))
            return outcome

        def fail(status: str, reason: str) -> dict[str, Any]:
            self.counts[status] += 1
            return {**base, "status": status, "error": reason, "trace": trace}

        if not fields:
            return fail("failed", "the record has no text to translate")
        # Stage 2: draft
        draft_msgs = self.render("draft", values)
        out = await ask("draft", 0, draft_msgs)
        if out.response is None:
            return fail("error", f"draft call failed: {out.error}")
        draft, problem, _ = parse_fields(out.response.text, fields)
        stages[-1]["parsed"] = draft
        if problem:
            stages[-1]["parse_error"] = problem
        draft_text = json.dumps(draft, ensure_ascii=False, indent=2) if draft else (out.response.text or "").strip()
        # Stage 3: review (Expert Agent I)
        out = await ask("review", 0, self.render("review", values, draft=draft_text))
        if out.response is None:
            return fail("error", f"review call failed: {out.error}")
        review_text, problems = format_review(out.response.text)
        if problems is not None:
            stages[-1]["parsed"] = problems
        # Stage 4: refine (Expert Agent II), checked, retried with the problems stated
        messages = self.render("refine", values, draft=draft_text, review=review_text)
        final: dict[str, Any] | None = None
        found: list[str] = []
        for attempt in range(self.settings.max_fix + 1):
            out = await ask("refine", attempt, messages)
            if out.response is None:
                return fail("error", f"refine call failed: {out.error}")
            parsed, problem, ignored = parse_fields(out.response.text, fields)
            found = [problem] if problem else check_translation(record, parsed or {})
            stages[-1]["parsed"] = parsed
            if ignored:
                stages[-1]["ignored_keys"] = ignored
            stages[-1]["check"] = found
            if not found:
                final = parsed
                break
            if attempt < self.settings.max_fix:
                self.counts["retried"] += 1
                fix = self.render("fix", values, problems="\n".join(f"- {p}" for p in found))
                messages = messages + ({"role": "assistant", "content": out.response.text or ""},) + fix
        if final is None:
            return fail("failed", f"structure check failed after {self.settings.max_fix + 1} refine attempt(s): "
                                  + "; ".join(found))
        texts = {name: final.get(name) for name in record.text_fields if name in final}
        # Stage 5: back-translation -> quality signal
        back_text: str | None = None
        if self.settings.back_translation:
            out = await ask("backtranslate", 0, self.render(
                "backtranslate", values, translation_json=json.dumps(texts, ensure_ascii=False, indent=2)))
            if out.response is not None:
                back, _, _ = parse_fields(out.response.text, fields)
                stages[-1]["parsed"] = back
                back_text = q.flatten(back, record.text_fields) if back else (out.response.text or "")
        lang_table = languages.get(lang)
        quality = q.score(fields, texts, back_text, list(record.text_fields), pair.glossary, lang_table.char_tokenized)
        if self.settings.back_translation and back_text is None:
            quality["back_translation_error"] = stages[-1].get("error")
        self.counts["ok"] += 1
        return {**base, **texts, "status": "ok", "quality": quality, "trace": trace}


def structure_rule(record: Record, fields: dict[str, Any]) -> str:
    if isinstance(fields.get("options"), list):
        n = len(fields["options"])
        return (f'"options" must be a list of exactly {n} strings, translated one by one in the source order '
                f"(no letters or numbers added, none merged, split, added or dropped).")
    if record.task == "nli":
        return '"premise" and "hypothesis" stay two separate fields.'
    return "every field stays a separate field."


def output_format(fields: dict[str, Any], language: str) -> str:
    skeleton: dict[str, Any] = {}
    for name, value in fields.items():
        if isinstance(value, list):
            skeleton[name] = [f"<option {i + 1} in {language}>" for i in range(len(value))]
        else:
            skeleton[name] = f"<{name} in {language}>"
    return json.dumps(skeleton, ensure_ascii=False)


def format_glossary(glossary: list[GlossaryEntry]) -> str:
    if not glossary:
        return "(no dictionary terms found in this item)"
    lines = []
    for g in glossary:
        target = " / ".join(g.translations) if g.translations else "(no dictionary entry: use the standard term)"
        cid = f" [{g.concept_id}]" if g.concept_id else ""
        lines.append(f"- {g.term} -> {target}{cid}")
    return "\n".join(lines)


def format_review(text: str | None) -> tuple[str, list[dict[str, Any]] | None]:
    """(the review as shown to the refiner, the parsed problems or None)."""
    obj = parse_json_object(text or "")
    problems = obj.get("problems") if isinstance(obj, dict) else None
    if not isinstance(problems, list):
        return (text or "").strip() or "(the reviewer returned nothing)", None
    if not problems:
        return "No problems found.", []
    lines = []
    for i, p in enumerate(problems, 1):
        if isinstance(p, dict):
            cat, fld = p.get("category", "?"), p.get("field", "?")
            fix = f" Suggestion: {p['suggestion']}" if p.get("suggestion") else ""
            lines.append(f"{i}. [{cat}] {fld}: {p.get('problem') or p.get('issue') or ''}{fix}")
        else:
            lines.append(f"{i}. {p}")
    return "\n".join(lines), [p for p in problems]


# ---------------------------------------------------------------------------------------------
# Running
# ---------------------------------------------------------------------------------------------
