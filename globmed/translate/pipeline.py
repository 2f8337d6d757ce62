"""`globmed translate`: the agentic translation of screened records into target languages.

Per record and target language:
  1. term matching (dictionaries; optionally NER) -> a glossary            (local, no LLM call)
  2. draft      : an LLM translates with the glossary                        (prompts/draft.txt)
  3. review     : "Expert Agent I" lists concrete problems                   (prompts/review.txt)
  4. refine     : "Expert Agent II" writes the final translation            (prompts/refine.txt)
     check      : globmed.structure.check_translation; a failure is sent back to the refiner with the
                  problems stated (prompts/fix.txt), at most --max-fix times, then the record is
                  recorded as failed
  5. back-translation into the source language, scored against the source (quality signal)

Every LLM call goes through the runner's crash-safe store, keyed by everything that shapes it (the
backend, the full request, the stage and attempt, the record and language), so a rerun after a crash
repeats no completed call. Records flow concurrently: stage N+1 of a record starts as soon as its stage
N is answered, while other records are at other stages; only a bounded window of records is in memory.

Output: OUT/<dataset>/<language>.jsonl, one line per record, the layout `globmed data build
--translations OUT` reads: {"id", text fields..., "status": "ok", "quality": {...}, "trace": {...}};
records that failed have "status": "failed" (structure check) or "error" (the calls failed) and an
"error" reason, and no text fields. OUT/globmed-translate.json is the run manifest (settings, counts,
tokens, cost); OUT/.cache/ holds the request store.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any, Iterator

from rich.console import Console
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn
from rich.table import Table

from .. import __version__, languages
from ..backends import make_backend
from ..core import CACHE, REQUEST_STORE
from ..errors import GlobmedError
from ..io import write_json
from ..records import Record
from ..runner import RunStats, Session, text_tokens
from ..urls import public_url
from . import templates as tpl
from .agents import Pair, Translator, source_fields
from .dictionary import Dictionary, GlossaryEntry
from .settings import TranslateSettings

STORE = REQUEST_STORE
BATCHES = Path(CACHE) / "batches.jsonl"
PARTIAL = Path(CACHE) / "partial"
MANIFEST = "globmed-translate.json"


# ---------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------
def read_records(path: Path, datasets: str = "all", limit: int | None = None) -> Iterator[Record]:
    """The records of a JSON-lines file, streamed; errors name the line."""
    path = Path(path)
    if not path.is_file():
        raise GlobmedError(f"{path}: records file not found (write one with `globmed data records`)")
    wanted = None if datasets in (None, "", "all") else {d.strip() for d in datasets.split(",") if d.strip()}
    counts: dict[str, int] = {}
    with open(path, encoding="utf-8") as fh:
        for lineno, raw in enumerate(fh, 1):
            if not raw.strip():
                continue
            try:
                row = json.loads(raw)
                record = Record.from_row(row)
            except (json.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
                raise GlobmedError(f"{path}:{lineno}: not a record line ({type(exc).__name__}: {exc})") from None
            if wanted is not None and record.dataset not in wanted:
                continue
            if limit is not None:
                counts[record.dataset] = counts.get(record.dataset, 0) + 1
                if counts[record.dataset] > limit:
                    continue
            yield record


def targets_for(record: Record, langs: list[str]) -> list[str]:
    return [lang for lang in langs if lang != record.language]


def load_dictionary(settings: TranslateSettings) -> Dictionary:
    return Dictionary.from_files(settings.dictionary)


def plan_pairs(settings: TranslateSettings, dictionary: Dictionary, ner: Any, langs: list[str]) -> Iterator[Pair]:
    """Every (record, target language) with its glossary; stage 1 runs once per record."""
    seq = 0
    for record in read_records(settings.data, settings.datasets, settings.limit):
        targets = targets_for(record, langs)
        if not targets:
            continue
        fields = source_fields(record)
        texts = [t for v in fields.values() for t in (v if isinstance(v, list) else [v]) if isinstance(t, str)]
        found: list[tuple[str, str]] = []
        seen: set[str] = set()
        for text in texts:
            for surface, phrase in dictionary.find(text, record.language):
                if phrase not in seen:
                    seen.add(phrase)
                    found.append((surface, phrase))
        entities = ner.entities(texts) if ner is not None else []
        for lang in targets:
            glossary = []
            for surface, phrase in found:
                entry = dictionary.lookup(phrase, record.language)
                if entry and entry.translations.get(lang):
                    glossary.append(GlossaryEntry(surface, tuple(entry.translations[lang]), entry.concept_id))
            covered = {g.term.casefold() for g in glossary}
            for ent in entities:
                if ent.casefold() in covered:
                    continue
                covered.add(ent.casefold())
                entry = dictionary.lookup(ent, record.language)
                trans = tuple(entry.translations.get(lang, ())) if entry else ()
                glossary.append(GlossaryEntry(ent, trans, entry.concept_id if entry else None, source="ner"))
            yield Pair(seq, record, lang, glossary)
            seq += 1


def count_pairs(settings: TranslateSettings, langs: list[str]) -> int:
    return sum(len(targets_for(r, langs)) for r in read_records(settings.data, settings.datasets, settings.limit))


class Writer:
    """Lines in plan order (a reorder buffer over the window of records under way), one partial file per
    dataset x language under OUT/.cache/partial; moved into place when the run completes."""

    def __init__(self, out: Path):
        self.out = Path(out)
        self.partial = self.out / PARTIAL
        shutil.rmtree(self.partial, ignore_errors=True)
        self.files: dict[tuple[str, str], Any] = {}
        self.ids: dict[tuple[str, str], set[str]] = {}
        self.buffer: dict[int, dict[str, Any]] = {}
        self.next = 0
        self.written = 0

    def put(self, seq: int, line: dict[str, Any]) -> None:
        self.buffer[seq] = line
        while self.next in self.buffer:
            self._write(self.buffer.pop(self.next))
            self.next += 1

    def _write(self, line: dict[str, Any]) -> None:
        key = (line["dataset"], line["language"])
        fh = self.files.get(key)
        if fh is None:
            path = self.partial / key[0] / f"{key[1]}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            fh = self.files[key] = open(path, "w", encoding="utf-8")
            self.ids[key] = set()
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
        self.ids[key].add(line["id"])
        self.written += 1

    def finish(self) -> list[Path]:
        """Move the new files into place. Lines of an existing file for records this run did not cover (an
        earlier run with other --datasets/--limit) are kept after the new ones."""
        done = []
        for (dataset, lang), fh in sorted(self.files.items()):
            target = self.out / dataset / f"{lang}.jsonl"
            if target.exists():
                ids = self.ids[(dataset, lang)]
                with open(target, encoding="utf-8") as old:
                    for raw in old:
                        if raw.strip() and json.loads(raw).get("id") not in ids:
                            fh.write(raw if raw.endswith("\n") else raw + "\n")
            fh.close()
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(self.partial / dataset / f"{lang}.jsonl", target)
            done.append(target)
        shutil.rmtree(self.partial, ignore_errors=True)
        return done

    def abort(self) -> None:
        for fh in self.files.values():
            fh.close()


async def _drive(translator: Translator, pairs: Iterator[Pair], caller: Any, writer: Writer, progress: Progress | None,
                 task_id: Any, batch: bool) -> None:
    pending: set[asyncio.Task[tuple[int, dict[str, Any]]]] = set()
    exhausted = False

    async def one(pair: Pair) -> tuple[int, dict[str, Any]]:
        try:
            return pair.seq, await translator.run_pair(pair, caller)
        finally:
            if batch:
                caller.active_flows -= 1
                caller.kick()

    admitted = 0
    while True:
        window = caller.window if batch else max(8, 2 * caller.window)
        ahead = max(1000, 4 * window)  # the reorder buffer never holds more than this many lines
        while not exhausted and len(pending) < window and admitted - writer.next < ahead:
            pair = next(pairs, None)
            if pair is None:
                exhausted = True
                break
            admitted += 1
            if batch:
                caller.active_flows += 1
            pending.add(asyncio.ensure_future(one(pair)))
        if not pending:
            return
        done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
        for task in done:
            seq, line = task.result()
            writer.put(seq, line)
            if progress is not None:
                progress.advance(task_id)
                progress.update(task_id, description=_progress_text(translator))


def _progress_text(t: Translator) -> str:
    c, u = t.counts, t.usage
    return (f"translate: {c['ok']} ok, {c['failed']} failed, {c['error']} errors | {u['calls']} calls, "
            f"{u['cached']} stored | {u['tokens_in'] + u['tokens_out']:,} tokens")


def cost(settings: TranslateSettings, tokens_in: int, tokens_out: int, batch: bool = False) -> float | None:
    if settings.price_input is None and settings.price_output is None:
        return None
    usd = (tokens_in * (settings.price_input or 0) + tokens_out * (settings.price_output or 0)) / 1e6
    return usd * (0.5 if batch else 1.0)


def translate(settings: TranslateSettings, console: Console | None = None) -> dict[str, Any]:
    console = console or Console(stderr=True)
    out = Path(settings.out)
    langs = languages.parse_languages(settings.languages)
    templates = tpl.load(settings.prompts)
    dictionary = load_dictionary(settings)
    if settings.dictionary:
        console.print(f"dictionaries: {len(dictionary):,} terms ({dictionary.rows:,} term pairs) from "
                      f"{len(dictionary.files)} file(s)")
    if settings.dry_run:
        return dry_run(settings, templates, dictionary, langs, console)
    ner = None
    if settings.ner:
        from .ner import NER

        ner = NER(settings.ner)
    backend = make_backend(settings.backend, settings.model or "",
                           **{k: v for k, v in (("base_url", settings.base_url), ("api_key_env", settings.api_key_env))
                              if v is not None})
    total = count_pairs(settings, langs)
    stats = RunStats(total=total)
    started = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
    progress = None
    if settings.progress:
        progress = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                            TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(), console=console)
    holder: dict[str, Any] = {}

    async def go(session: Session) -> None:
        if settings.batch_api:
            from .batch import BatchCaller, Ledger, provider_for

            caller: Any = BatchCaller(provider_for(session.backend), session.store, Ledger(out / BATCHES),
                                      poll=settings.batch_poll, max_batch=settings.batch_size, stats=stats,
                                      log=lambda m: console.print(escape(m)))
            await caller.resume()
        else:
            caller = session.caller(stats)
        holder["caller"] = caller
        pairs = plan_pairs(settings, dictionary, ner, langs)
        if progress is not None:
            with progress:
                task_id = progress.add_task("translate", total=total)
                await _drive(translator, pairs, caller, writer, progress, task_id, settings.batch_api)
        else:
            await _drive(translator, pairs, caller, writer, None, None, settings.batch_api)

    with Session(backend, out / STORE, concurrency=settings.concurrency, rpm=settings.rpm, tpm=settings.tpm,
                 max_retries=settings.max_retries, progress=False, console=console) as session:
        identity = session.identity
        translator = Translator(settings, templates, identity, session)
        writer = Writer(out)
        t0 = time.perf_counter()
        try:
            session.run(go)
        except BaseException:
            writer.abort()
            raise
        elapsed = time.perf_counter() - t0
        session.put_prompts(translator.prompts)
    files = writer.finish()
    u = translator.usage
    summary = {
        "kind": "globmed-translations", "globmed_version": __version__, "started": started,
        "finished": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "records_file": str(settings.data), "languages": langs, "model": identity,
        "settings": {k: (str(v) if isinstance(v, Path) else public_url(v) if k == "base_url" else v)
                     for k, v in asdict(settings).items() if k not in ("api_key_env",)},
        "dictionaries": dictionary.files, "dictionary_terms": len(dictionary),
        "templates": {k: t.hash for k, t in templates.items()},
        "pairs": total, "counts": translator.counts, "usage": u,
        "cost_usd": {"this_run": cost(settings, u["tokens_in"], u["tokens_out"], settings.batch_api),
                     "whole_job": cost(settings, u["tokens_in"] + u["cached_tokens_in"],
                                       u["tokens_out"] + u["cached_tokens_out"], settings.batch_api)},
        "run": {"seconds": round(elapsed, 3), "calls_per_second": round(u["calls"] / elapsed, 2) if elapsed else None,
                "retries": stats.retries, "errors": stats.errors, "max_window": stats.max_window,
                "batches": getattr(holder.get("caller"), "batches", None)},
        "files": [str(f.relative_to(out)) for f in files],
    }
    write_json(out / MANIFEST, summary)
    print_translation_run(summary, console)
    return summary


def print_translation_run(summary: dict[str, Any], console: Console) -> None:
    """The run's table: pairs, outcomes, calls, tokens, cost and time (from the summary in OUT/globmed.json)."""
    c, u = summary["counts"], summary["usage"]
    table = Table(title="Translation run")
    table.add_column("what")
    table.add_column("value", justify="right")
    table.add_row("record x language pairs", f"{summary['pairs']:,}")
    table.add_row("translated (status ok)", f"{c['ok']:,}")
    table.add_row("failed structure check", f"{c['failed']:,}")
    table.add_row("call errors (retried on rerun)", f"{c['error']:,}")
    table.add_row("refine retries", f"{c['retried']:,}")
    table.add_row("calls sent / from the store", f"{u['calls']:,} / {u['cached']:,}")
    table.add_row("tokens in / out (sent)", f"{u['tokens_in']:,} / {u['tokens_out']:,}")
    for label, key in (("cost USD (this run)", "this_run"), ("cost USD (whole job)", "whole_job")):
        value = summary["cost_usd"][key]
        table.add_row(label, "-" if value is None else f"{value:,.4f}")
    table.add_row("seconds", f"{summary['run']['seconds']:.1f}")
    console.print(table)


def dry_run(settings: TranslateSettings, templates: dict[str, tpl.Template], dictionary: Dictionary,
            langs: list[str], console: Console) -> dict[str, Any]:
    """Calls and tokens from the rendered draft prompts; later stages estimated from them (UTF-8 bytes / 3.5
    per token; a translation ~ 1.5 x the source's tokens; a review ~ 300 tokens). Nothing is sent."""
    translator = Translator(settings, templates, {"backend": settings.backend, "model": settings.model})
    pairs = calls = 0
    tok_in = tok_out = 0.0
    per_call = 4 if settings.back_translation else 3
    for pair in plan_pairs(settings, dictionary, None, langs):
        pairs += 1
        values = translator.values(pair.record, pair.language, pair.glossary)
        draft = text_tokens("".join(m["content"] for m in translator.render("draft", values)))
        src = text_tokens(values["source_json"])
        trans = 1.5 * src
        review_out = 300
        tok_in += draft + (draft + trans) + (draft + trans + review_out)
        tok_out += trans + review_out + trans
        if settings.back_translation:
            tok_in += trans + 200
            tok_out += src
        calls += per_call
    est = {"pairs": pairs, "calls": calls, "max_calls": pairs * (per_call + settings.max_fix),
           "tokens_in": int(tok_in), "tokens_out": int(tok_out),
           "cost_usd": cost(settings, int(tok_in), int(tok_out), settings.batch_api)}
    table = Table(title="Dry run: nothing is sent")
    for col in ("record x language", "calls (up to, with retries)", "input tokens (est.)", "output tokens (est.)",
                "cost USD (est.)" + (" batch price" if settings.batch_api else "")):
        table.add_column(col, justify="right")
    table.add_row(f"{pairs:,}", f"{calls:,} ({est['max_calls']:,})", f"{est['tokens_in']:,}", f"{est['tokens_out']:,}",
                  "-" if est["cost_usd"] is None else f"{est['cost_usd']:,.2f}")
    console.print(table)
    return {"dry_run": est}
