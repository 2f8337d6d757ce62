"""Every translation prompt asks for the language its stage produces (issue 19).

The agents' real prompts are rendered by running `Translator.run_pair` on real sample records (English
MedQA, MedNLI and LiveQA; Spanish HEAD-QA) and on the distillation translator's trace records, for
several language pairs (low-resource targets, a non-Latin target, a non-English source, English as the
target). The model is an in-process script that answers each stage so that every prompt is reached:
draft, review, refine, a fix retry (the first refined answer is not JSON) and the back-translation.
Its translations carry a "[<code>] " tag on every text, so the language of each JSON block shown in a
prompt is known from its content, not from the prompt's words.

Each rendered prompt is then parsed (not compared with fixed strings): the language names of the
language tables found in the instruction's direction phrases ("from A into B", "A -> B", "into B",
"answer in B"),
in the label above each JSON block, and in the answer skeleton's placeholders ("<question in B>") must
agree with the stage's direction: draft, review, refine and fix go source -> target, the
back-translation target -> source.
"""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

import pytest

from globmed import languages, registry
from globmed.backends import Response
from globmed.records import Record
from globmed.runner.calls import Outcome
from globmed.sample import SOURCES
from globmed.screening import Screener
from globmed.sources import read_dataset
from globmed.train import distill, traces
from globmed.train.data import Instance
from globmed.train.settings import DistillSettings
from globmed.translate import templates as tpl
from globmed.translate.agents import Pair, Translator
from globmed.translate.settings import TranslateSettings

# The direction each stage asks for: (language of what it translates, language it answers in).
DIRECTION = {"draft": ("src", "tgt"), "review": ("src", "tgt"), "refine": ("src", "tgt"), "fix": ("src", "tgt"),
             "backtranslate": ("tgt", "src")}
# What each stage is shown: the source item and/or a translation.
INPUTS = {"draft": {"src"}, "review": {"src", "tgt"}, "refine": {"src", "tgt"}, "fix": {"src", "tgt"},
          "backtranslate": {"tgt"}}
TAG = re.compile(r"^\[([a-z]{2,3})\] ")


# -- reading a rendered prompt ----------------------------------------------------------------------
def _name_table() -> dict[str, str]:
    names: dict[str, str] = {}
    for lang in languages.all_languages():
        names[lang.name] = lang.code
        names[lang.native_name] = lang.code
    return names


NAMES = _name_table()
_LANG = "(" + "|".join(re.escape(n) for n in sorted(NAMES, key=len, reverse=True)) + ")"
_DIRECTIONAL = re.compile(rf"(?:(?<!\w)from\s+{_LANG}(?!\w)(?:\s*\([^)]*\))?\s+(?:into|to)\s+{_LANG}(?!\w)"
                          rf"|(?<!\w){_LANG}\s*->\s*{_LANG}(?!\w)"
                          rf"|(?<!\w)(?:into|[Aa]nswer(?:\s+again)?\s+in)\s+{_LANG}(?!\w))")
_NAMED = re.compile(rf"(?<!\w){_LANG}(?!\w)")
_PLACEHOLDER = re.compile(r"^<.+ in (.+)>$")


def named(text: str) -> list[str]:
    """Codes of the languages named in `text`, in order."""
    return [NAMES[m.group(1)] for m in _NAMED.finditer(text)]


def directions(text: str) -> list[tuple[str | None, str]]:
    """(from, into) of every direction phrase in `text` (from is None for "into B" and "answer in B")."""
    out = []
    for m in _DIRECTIONAL.finditer(text):
        a, b, c, d, e = m.groups()
        out.append((NAMES[a], NAMES[b]) if a else (NAMES[c], NAMES[d]) if c else (None, NAMES[e]))
    return out


def leaves(obj: Any) -> list[str]:
    if isinstance(obj, dict):
        return [s for v in obj.values() for s in leaves(v)]
    if isinstance(obj, list):
        return [s for v in obj for s in leaves(v)]
    return [obj] if isinstance(obj, str) else []


def json_blocks(text: str) -> tuple[list[tuple[str, Any]], str]:
    """(label line, object) of every JSON object that starts a line, and the text without them."""
    blocks, kept, pos = [], [], 0
    decoder = json.JSONDecoder()
    for m in re.finditer(r"(?m)^\{", text):
        if m.start() < pos:
            continue
        try:
            obj, end = decoder.raw_decode(text, m.start())
        except json.JSONDecodeError:
            continue
        before = text[pos:m.start()]
        label = next((line for line in reversed(before.splitlines()) if line.strip()), "")
        blocks.append((label, obj))
        kept.append(before)
        pos = end
    kept.append(text[pos:])
    return blocks, "".join(kept)


def content_language(obj: Any, source: dict[str, Any], src: str) -> str | None:
    """The language of a JSON block's text: the source's, or the tag every translated text carries."""
    texts = leaves(obj)
    if obj == source:
        return src
    tags = {m.group(1) if (m := TAG.match(t)) else None for t in texts}
    return tags.pop() if len(tags) == 1 and None not in tags else None


def skeleton_languages(obj: Any) -> list[str] | None:
    """The languages an answer skeleton's placeholders name, or None when `obj` is no skeleton."""
    texts = leaves(obj)
    found = [_PLACEHOLDER.match(t) for t in texts]
    if not texts or not all(found):
        return None
    return [NAMES.get(m.group(1), f"?{m.group(1)}") for m in found if m]


def problems_of(stage: str, messages: tuple[dict[str, str], ...], source: dict[str, Any], src: str,
                tgt: str) -> list[str]:
    """Where the rendered prompt of `stage` disagrees with the stage's direction."""
    code = {"src": src, "tgt": tgt}
    want_from, want_into = (code[x] for x in DIRECTION[stage])
    problems: list[str] = []
    seen_inputs: set[str] = set()
    asks = False
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    for i, message in enumerate(messages):
        if message["role"] == "assistant":  # the model's own earlier answer, not the prompt
            continue
        own = message["role"] == "system" or i == last_user
        blocks, instruction = json_blocks(message["content"])
        # 1. the instruction's direction phrases
        for frm, into in directions(instruction):
            if frm is not None and frm != want_from or into != want_into:
                problems.append(f"{message['role']} #{i}: asks {frm or '?'} -> {into}, not {want_from} -> {want_into}")
            if i == last_user or (own and stage != "fix"):
                asks = asks or into == want_into
        # 2. input labels and 3. answer skeletons
        for label, obj in blocks:
            lang = content_language(obj, source, src)
            skeleton = skeleton_languages(obj)
            if lang is not None:
                seen_inputs.add("src" if lang == src else "tgt" if lang == tgt else lang)
                if named(label) != [lang]:
                    problems.append(f"input label {label!r} names {named(label)}, the block is in {lang}")
            elif skeleton is not None:
                if i == last_user:
                    if set(skeleton) != {want_into}:
                        problems.append(f"answer skeleton names {sorted(set(skeleton))}, the stage answers in {want_into}")
                    if stage != "review" and set(obj) != set(source):
                        problems.append(f"answer skeleton keys {sorted(obj)} are not the fields {sorted(source)}")
            elif stage != "review":
                problems.append(f"a JSON block of unknown language under {label!r}: {obj!r}")
    if not asks:
        problems.append(f"the {stage} instruction never names the language it asks for ({want_into})")
    last_blocks, _ = json_blocks(messages[last_user]["content"])
    if stage != "review" and not any(skeleton_languages(obj) is not None for _, obj in last_blocks):
        problems.append("no answer skeleton in the last user message")
    if not INPUTS[stage] <= seen_inputs:
        problems.append(f"inputs shown: {sorted(seen_inputs)}, expected {sorted(INPUTS[stage])}")
    return problems


# -- rendering every prompt of a record x language --------------------------------------------------
class Recording(Translator):
    """The real translator, with every rendered request kept under the stage that sent it."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.rendered: list[tuple[str, tuple[dict[str, str], ...]]] = []

    def job(self, stage, attempt, pair, messages):  # type: ignore[no-untyped-def]
        self.rendered.append(("fix" if stage == "refine" and attempt else stage, messages))
        return super().job(stage, attempt, pair, messages)


def tagged(fields: dict[str, Any], code: str) -> dict[str, Any]:
    return {k: [f"[{code}] {x}" for x in v] if isinstance(v, list) else f"[{code}] {v}" for k, v in fields.items()}


def untagged(obj: dict[str, Any]) -> dict[str, Any]:
    return {k: [TAG.sub("", x) for x in v] if isinstance(v, list) else TAG.sub("", v) for k, v in obj.items()}


def render_all(record: Record, target: str, settings: TranslateSettings) -> tuple[Recording, dict[str, Any]]:
    translator = Recording(settings, tpl.load(settings.prompts), {"backend": "script", "model": "script"})
    fields = {f: getattr(record, f) for f in record.text_fields if getattr(record, f) not in (None, "", [])}
    translation = tagged(fields, target)

    async def call(job: Any) -> Outcome:
        stage, _ = translator.rendered[-1]
        if stage == "review":
            text = json.dumps({"problems": []})
        elif stage == "refine":
            text = "I am sorry, I cannot translate this."  # not JSON: sends the fix retry
        elif stage == "backtranslate":
            text = json.dumps(untagged(translation), ensure_ascii=False)
        else:
            text = json.dumps(translation, ensure_ascii=False)
        return Outcome(Response(text=text, finish_reason="stop", tokens_in=1, tokens_out=1))

    line = asyncio.run(translator.run_pair(Pair(0, record, target, []), call))
    return translator, line


def first_record(dataset: str) -> Record:
    spec = registry.get(dataset)
    return next(iter(Screener(spec)(read_dataset(SOURCES, spec))))


def settings_for(tmp_path: Path) -> TranslateSettings:
    return TranslateSettings(data=tmp_path / "records.jsonl", out=tmp_path / "out", languages="all", model="script",
                             progress=False)


def check_every_stage(record: Record, target: str, settings: TranslateSettings) -> None:
    translator, line = render_all(record, target, settings)
    assert line["status"] == "ok", line.get("error")
    stages = [stage for stage, _ in translator.rendered]
    assert set(stages) == set(DIRECTION), stages  # every prompt was rendered
    fields = {f: getattr(record, f) for f in record.text_fields if getattr(record, f) not in (None, "", [])}
    problems = {stage: found for stage, messages in translator.rendered
                if (found := problems_of(stage, messages, fields, record.language, target))}
    assert not problems, json.dumps(problems, ensure_ascii=False, indent=1)
    # the quality signal compared the source with a back-translation in the source's language
    assert line["quality"]["chrf++"] == 100.0


PAIRS = [("medqa", "zu"), ("headqa", "zu"), ("headqa", "en"), ("mednli", "ja"), ("liveqa", "yo"), ("headqa", "sw")]


@pytest.mark.parametrize(("dataset", "target"), PAIRS, ids=[f"{d}-{t}" for d, t in PAIRS])
def test_every_translation_prompt_names_its_stage_direction(dataset, target, tmp_path):
    record = first_record(dataset)
    assert record.language != target
    check_every_stage(record, target, settings_for(tmp_path))


@pytest.mark.parametrize(("teacher", "dataset", "target"), [("en", "medqa", "zu"), ("es", "headqa", "wo")])
def test_distillation_trace_translation_prompts_name_their_direction(teacher, dataset, target, tmp_path):
    """The distillation translator (globmed.train.distill) translates each kept trace as a long-form
    record in the teacher's language, with the settings it derives from the distillation's own."""
    record = first_record(dataset)
    assert record.language == teacher
    row = record.to_row()
    inst = Instance(dataset, record.id, target)
    trace = "Step 1: metformin lowers hepatic glucose output at 500 mg twice daily.\nStep 2: so B is right."
    trace_rec = traces.trace_record(inst, trace, traces.trace_question(row, dataset), teacher, "test")
    settings = DistillSettings(data=str(tmp_path / "data"), model="teacher", translate_model="translator",
                               teacher_language=teacher, out=tmp_path / "distill")
    check_every_stage(trace_rec, target, traces.trace_translate_settings(
        settings, tmp_path / "traces.jsonl", tmp_path / "work", target))


@pytest.mark.parametrize(("teacher", "dataset"), [("en", "medqa"), ("en", "mednli"), ("es", "headqa")])
def test_teacher_prompt_asks_for_the_teacher_language(teacher, dataset):
    record = first_record(dataset)
    messages = distill.teacher_messages(record.to_row(), dataset, teacher)
    text = "\n".join(m["content"] for m in messages)
    for value in record.to_row().values():  # the item's own words are not the prompt's
        for piece in value if isinstance(value, list) else [value]:
            if isinstance(piece, str) and piece:
                text = text.replace(piece, "")
    assert named(text) and set(named(text)) == {teacher}, named(text)


def test_the_parser_sees_a_wrong_direction():
    """The checker itself: a back-translation skeleton in the target language and a mislabelled input
    are reported."""
    source = {"question": "¿Cuál?", "options": ["a", "b"]}
    wrong = ({"role": "system", "content": "You translate from Zulu (isiZulu) into Spanish."},
             {"role": "user", "content": "Translate into Spanish.\n\nSpanish (JSON):\n"
                                         + json.dumps(tagged(source, "zu"), ensure_ascii=False, indent=2)
                                         + "\n\nAnswer:\n"
                                         + json.dumps({"question": "<question in Zulu>",
                                                       "options": ["<option 1 in Zulu>", "<option 2 in Zulu>"]})})
    found = problems_of("backtranslate", wrong, source, "es", "zu")
    assert any("skeleton names ['zu']" in p for p in found), found
    assert any("input label 'Spanish (JSON):'" in p for p in found), found
    assert directions("from English (English) into Zulu; Spanish -> Wolof; into Yoruba. Answer in español") == [
        ("en", "zu"), ("es", "wo"), (None, "yo"), (None, "es")]
