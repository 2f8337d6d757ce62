"""The prompt words of every language table (globmed/languages/*.yaml), checked mechanically: each
sentence is the language's own (not the English one left in place), languages written in another
script use it, and what a prompt asks a model to answer is what `extract_answer` parses back, for
the bench's prompts and for the training targets alike. Native-speaker review is still pending;
each table's `reviewed` field says who wrote it and whether it was reviewed."""

from __future__ import annotations

import re

import pytest

from globmed import languages, registry
from globmed.bench.grading import score_text
from globmed.tasks import get_task

CODES = languages.codes()
SENTENCES = [("system",), ("disclaimer",), ("mcqa", "instruction"), ("mcqa", "answer_format"), ("nli", "instruction"),
             ("nli", "answer_format"), ("lfqa", "instruction")]
SCRIPTS = {"Hans": r"[\u4e00-\u9fff]", "Jpan": r"[\u3040-\u30ff\u4e00-\u9fff]", "Kore": r"[\uac00-\ud7af]"}
MCQA_ROW = {"id": "x", "question": "Q?", "options": ["one", "two", "three", "four"], "answer": "C"}
NLI_ROW = {"id": "x", "premise": "P.", "hypothesis": "H.", "label": "contradiction"}


def field(lang: languages.Language, path: tuple[str, ...]) -> str:
    value = getattr(lang, path[0])
    return value if len(path) == 1 else value[path[1]]


def test_twelve_languages_with_a_review_record():
    assert {"en", "zh", "fr", "de", "ja", "ko", "pt", "es", "sw", "wo", "yo", "zu"} <= set(CODES)
    for code in CODES:
        assert languages.get(code).reviewed, code


@pytest.mark.parametrize("code", [c for c in CODES if c != "en"])
def test_no_english_sentence_left_in_place(code):
    lang, english = languages.get(code), languages.get("en")
    for path in SENTENCES:
        text = field(lang, path)
        assert text and text != field(english, path), (code, path)


@pytest.mark.parametrize("code", [c for c in CODES if languages.get(c).script in SCRIPTS])
def test_non_latin_languages_write_their_own_script(code):
    lang = languages.get(code)
    for path in SENTENCES + [("mcqa", "question"), ("mcqa", "options"), ("nli", "premise"), ("nli", "hypothesis")]:
        text = field(lang, path).replace("{labels}", "")
        own, latin = len(re.findall(SCRIPTS[lang.script], text)), len(re.findall(r"[A-Za-z]", text))
        assert own > 0 and latin <= own, (code, path, text)


@pytest.mark.parametrize("code", CODES)
def test_what_the_prompt_asks_for_is_parsed_back(code):
    lang, mcqa, nli = languages.get(code), get_task("mcqa"), get_task("nli")
    spec_mcqa, spec_nli = registry.get("medqa"), registry.get("mednli")
    prompt = mcqa.prompt(MCQA_ROW, lang, spec_mcqa)
    cue = lang.mcqa["answer_cue"]
    assert prompt.endswith(cue) and lang.mcqa["instruction"] in prompt
    assert score_text("mcqa", f"{cue} C", MCQA_ROW, lang, spec_mcqa).pred == "C"
    assert score_text("mcqa", mcqa.target(MCQA_ROW, lang, spec_mcqa), MCQA_ROW, lang, spec_mcqa).correct
    nli_prompt = nli.prompt(NLI_ROW, lang, spec_nli)
    for label in spec_nli.labels:  # every label word the prompt lists, answered after the cue
        word = lang.label_word(label)
        assert word in nli_prompt, (code, label)
        row = {**NLI_ROW, "label": label}
        assert score_text("nli", f"{lang.nli['answer_cue']} {word}", row, lang, spec_nli).pred == label
        assert score_text("nli", nli.target(row, lang, spec_nli), row, lang, spec_nli).correct
