"""Bad input through the real CLI (`globmed data build`).

A file that cannot be read is an error (exit != 0) naming file, line and field where it applies,
and leaves no output: neither OUT nor a ".partial" temp folder, and an existing OUT survives a
failed --overwrite build. An item that is read but unusable is a screening entry naming file, line
and field.
"""

from __future__ import annotations

import json

import pytest

from .conftest import (
    SOURCE_FILES,
    bionli_item,
    cli_env,
    data_build,
    default_content,
    expertqa_item,
    headqa_doc,
    headqa_item,
    liveqa_xml,
    load_config,
    make_sources,
    medexpqa_item,
    medmcqa_item,
    mednli_item,
    medqa_item,
    mmlu_item,
    partial_leftovers,
    pubmedqa_item,
    run_cli,
    screening_report,
    write_source,
)

MEDQA = SOURCE_FILES["medqa"]
OPTS = ["Aspirin", "Heparin", "Warfarin", "Clopidogrel"]


def good_medqa_lines(n: int = 3) -> list[str]:
    return [json.dumps(medqa_item(f"Good question number {i}?", OPTS, "A")) for i in range(1, n + 1)]


def snapshot(folder):
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def assert_failed_cleanly(run, out, *words):
    assert run.returncode != 0, str(run)
    assert "Traceback" not in run.stderr, str(run)
    for word in words:
        assert word in run.output, f"{word!r} not in the message:\n{run}"
    assert not out.exists(), f"{out} was left behind"
    assert partial_leftovers(out) == []


# --------------------------------------------------------------------------------------------- errors
def bad_medqa_truncated(root):
    lines = good_medqa_lines()
    lines[1] = lines[1][: len(lines[1]) // 2]  # line 2 cut off mid-object
    (root / MEDQA).parent.mkdir(parents=True)
    (root / MEDQA).write_text("\n".join(lines) + "\n", encoding="utf-8")
    return [f"{MEDQA}:2", "JSON"]


def bad_medqa_truncated_last_line(root):
    lines = good_medqa_lines()
    (root / MEDQA).parent.mkdir(parents=True)
    (root / MEDQA).write_text("\n".join(lines) + "\n" + lines[0][:40], encoding="utf-8")  # file cut in line 4
    return [f"{MEDQA}:4", "JSON"]


def bad_medqa_latin1(root):
    lines = [line.encode("utf-8") for line in good_medqa_lines()]
    lines[2] = json.dumps(medqa_item("Fiebre de 39 °C en un niño?", OPTS, "A"), ensure_ascii=False).encode("latin-1")
    (root / MEDQA).parent.mkdir(parents=True)
    (root / MEDQA).write_bytes(b"\n".join(lines) + b"\n")
    return [f"{MEDQA}:3", "UTF-8"]


def bad_headqa_latin1(root):
    text = json.dumps(headqa_doc({"Cuaderno_2019_1_M": [
        headqa_item(1, "Pregunta uno", ["a", "b", "c", "d"], 1),
        headqa_item(2, "¿Cuál es el fármaco de elección?", ["a", "b", "c", "d"], 2)]}), ensure_ascii=False, indent=2)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "fármaco" in t)
    write_source(root, "headqa", text.encode("latin-1"))
    return [f"headqa/es/test_HEAD.json:{line}", "UTF-8"]


def bad_headqa_truncated(root):
    text = json.dumps(default_content("headqa"), ensure_ascii=False, indent=2)
    write_source(root, "headqa", text[: len(text) - 30])
    return ["headqa/es/test_HEAD.json:", "JSON"]


def bad_liveqa_xml(root):
    xml = liveqa_xml([{"qid": "TQ1", "subject": "s", "message": "m", "answers": ["a"]}])
    lines = xml.splitlines()
    broken = next(i for i, t in enumerate(lines) if "<MESSAGE>" in t)
    lines[broken] = lines[broken].replace("</MESSAGE>", "")  # unclosed element
    write_source(root, "liveqa", "\n".join(lines) + "\n")
    return ["liveqa/med-qs-and-reference-answers.xml:", "XML"]


def bad_bionli_csv(root):
    path = root / "bionli" / "test.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes("pmid,supp_set,conclusion,label_cat\n1,Premise one,Hypothesis one,pos\n".encode()
                     + "2,Fiebre 39 °C,Hipótesis,neg\n".encode("latin-1"))
    return ["bionli/test.csv:3", "UTF-8"]


def bad_mmlu_parquet(root):
    path = root / "mmlu_pro" / "data" / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"PAR1 this is not really parquet")
    return ["mmlu_pro/data/test-00000-of-00001.parquet", "parquet"]


ERRORS = {f.__name__[4:]: f for f in (bad_medqa_truncated, bad_medqa_truncated_last_line, bad_medqa_latin1,
                                      bad_headqa_latin1, bad_headqa_truncated, bad_liveqa_xml, bad_bionli_csv,
                                      bad_mmlu_parquet)}


@pytest.mark.parametrize("case", sorted(ERRORS))
def test_unreadable_file_is_an_error(tmp_path, cli, case):
    sources = tmp_path / "sources"
    # a good dataset first (read and written before the bad one), so the temp folder had content
    make_sources(sources, mednli=None)
    words = ERRORS[case](sources)
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert_failed_cleanly(run, out, *words)


def test_failed_overwrite_keeps_the_old_output(tmp_path, cli):
    sources = make_sources(tmp_path / "sources", medqa=None, mednli=None)
    out = tmp_path / "out"
    first = data_build(cli, sources, out)
    assert first.returncode == 0, str(first)
    before = snapshot(out)
    assert "medqa.en/test-00000-of-00001.parquet" in before

    bad_medqa_latin1_lines = [line.encode() for line in good_medqa_lines()] + [b'{"question": "caf\xe9"}']
    (sources / MEDQA).write_bytes(b"\n".join(bad_medqa_latin1_lines) + b"\n")
    again = data_build(cli, sources, out, "--overwrite")
    assert again.returncode != 0 and f"{MEDQA}:4" in again.output, str(again)
    assert snapshot(out) == before
    assert partial_leftovers(out) == []
    assert not out.with_name(f".{out.name}.old").exists()

    # without --overwrite an existing OUT is refused, and kept
    (sources / MEDQA).write_text("\n".join(good_medqa_lines()) + "\n", encoding="utf-8")
    refused = data_build(cli, sources, out)
    assert refused.returncode != 0 and "--overwrite" in refused.output, str(refused)
    assert snapshot(out) == before and partial_leftovers(out) == []

    # and a good --overwrite build replaces it
    replaced = data_build(cli, sources, out, "--overwrite")
    assert replaced.returncode == 0, str(replaced)
    assert [r["question"] for r in load_config(out, "medqa.en", cache=tmp_path / "cache")] == [
        f"Good question number {i}?" for i in (1, 2, 3)]
    assert partial_leftovers(out) == []


def test_missing_sources_folder_is_an_error(tmp_path, cli):
    out = tmp_path / "out"
    run = data_build(cli, tmp_path / "nope", out)
    assert_failed_cleanly(run, out, "nope", "not found")


def test_explicit_dataset_without_files_is_an_error(tmp_path, cli):
    sources = make_sources(tmp_path / "sources", mednli=None)
    out = tmp_path / "out"
    run = data_build(cli, sources, out, "--datasets", "mednli,headqa")
    assert_failed_cleanly(run, out, "headqa", "headqa/es/{split}_HEAD.json")


# --------------------------------------------------------------------------------------------- screening
SCREENED_SOURCES = {
    "medqa": [
        medqa_item("Good question number 1?", OPTS, "A"),                                        # 1
        {k: v for k, v in medqa_item("x", OPTS, "A").items() if k != "question"},                 # 2 missing field
        {**medqa_item("Answer outside the options?", OPTS, None), "answer_idx": "F"},             # 3
        {**medqa_item("Empty options?", {}, None), "answer_idx": "A"},                            # 4
        medqa_item("good question NUMBER 1?", OPTS, "A"),                                        # 5 duplicate of 1
    ],
    "headqa": headqa_doc({"Cuaderno_2019_1_M": [
        headqa_item(1, "¿Pregunta buena?", ["a", "b", "c", "d"], 2),
        headqa_item(2, "¿Respuesta fuera de rango?", ["a", "b", "c", "d"], 7),
        headqa_item(3, "¿Sin respuestas?", [], 1),
    ]}),
    "mmlu_pro": [
        mmlu_item(1, "Good health question?", [f"o{i}" for i in range(10)], 3),
        mmlu_item(2, "answer_index out of range?", [f"p{i}" for i in range(10)], 12),
        mmlu_item(3, "No options at all?", [], 0),
    ],
    "medexpqa": [
        medexpqa_item(1, "Good case?", ["a", "b", "c", "d", "e"], 2),
        medexpqa_item(2, "correct_option out of range?", ["a", "b", "c", "d", None], 7),
        {k: v for k, v in medexpqa_item(3, "No correct option?", ["a", "b", "c", "d", "e"], 1).items()
         if k != "correct_option"},
    ],
    "mednli": [
        mednli_item("n1", "Fever of 39 °C.", "The patient is febrile.", "entailment"),
        mednli_item("n2", "Cough for two days.", "The patient smokes.", "unknown"),
    ],
    "bionli": [
        bionli_item("1", "Premise one.", "Hypothesis one.", "pos"),
        bionli_item("2", "Premise two.", "Hypothesis two.", "maybe"),
    ],
    "medmcqa": [
        medmcqa_item("a", "Good one?", ["w", "x", "y", "z"], 2),
        {k: v for k, v in medmcqa_item("b", "No cop?", ["w", "x", "y", "z"], 2).items() if k != "cop"},
        medmcqa_item("c", "Missing option c?", ["w", "x", None, "z"], 1),
    ],
    "liveqa": liveqa_xml([
        {"qid": "TQ1", "subject": "s", "message": "Good question?", "answers": ["Good answer."]},
        {"qid": "TQ2", "subject": "s", "message": "No reference answer?", "answers": []},
    ]),
    "expertqa": [
        expertqa_item("Good question?", "Healthcare / Medicine", "Good answer."),
        expertqa_item("No answers?", "Healthcare / Medicine", None, raw=None),
    ],
    "pubmedqa": {"1": pubmedqa_item("Good?", ["Context."], "yes"),
                 "2": {k: v for k, v in pubmedqa_item("x", ["Context two."], "no").items() if k != "QUESTION"},
                 "3": pubmedqa_item("Unknown decision?", ["Context three."], "perhaps")},
}
XML_TQ2_LINE = next(i for i, t in enumerate(SCREENED_SOURCES["liveqa"].splitlines(), 1) if 'qid="TQ2"' in t)
# (origin, rule, check, field)
SCREENED = [
    (f"{MEDQA}:2", "incompleteness", "missing_field", "question"),
    (f"{MEDQA}:3", "incompleteness", "answer_not_in_options", "answer_idx"),
    (f"{MEDQA}:4", "incompleteness", "missing_options", "options"),
    (f"{MEDQA}:5", "disorganization", "duplicate_item", "*"),
    ("headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_M.data[1]", "incompleteness", "answer_not_in_options", "ra"),
    ("headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_M.data[2]", "incompleteness", "missing_options", "answers"),
    ("mmlu_pro/data/test.jsonl:2", "incompleteness", "answer_not_in_options", "answer_index"),
    ("mmlu_pro/data/test.jsonl:3", "incompleteness", "missing_options", "options"),
    ("medexpqa/test.es.casimedicos.rag.jsonl:2", "incompleteness", "answer_not_in_options", "correct_option"),
    ("medexpqa/test.es.casimedicos.rag.jsonl:3", "incompleteness", "missing_field", "correct_option"),
    ("mednli/mli_test_v1.jsonl:2", "incompleteness", "unknown_label", "gold_label"),
    ("bionli/test.jsonl:2", "incompleteness", "unknown_label", "label_cat"),
    ("medmcqa/dev.json:2", "incompleteness", "missing_field", "cop"),
    ("medmcqa/dev.json:3", "disorganization", "broken_options", "opc"),
    (f"liveqa/med-qs-and-reference-answers.xml:{XML_TQ2_LINE}", "incompleteness", "missing_field",
     "ReferenceAnswers/ReferenceAnswer/ANSWER"),
    ("expertqa/r2_compiled_anon.jsonl:2", "incompleteness", "missing_field", "answers"),
    ("pubmedqa/ori_pqal.json:$.2", "incompleteness", "missing_field", "QUESTION"),
    ("pubmedqa/ori_pqal.json:$.3", "incompleteness", "answer_not_in_options", "final_decision"),
]


@pytest.fixture(scope="module")
def screened(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("bad_items")
    sources = make_sources(tmp / "sources", **SCREENED_SOURCES)
    out = tmp / "out"
    # a few rows per dataset, most of them broken on purpose, and no Biology row for expertqa_bio: built anyway
    run = data_build(lambda *a, **e: run_cli(list(a), cli_env(tmp / "hf_home", **e)), sources, out, "--allow-partial")
    assert run.returncode == 0, str(run)
    return screening_report(out)


@pytest.mark.parametrize("origin,rule,check,field", SCREENED, ids=[s[0].split("/")[-1] for s in SCREENED])
def test_unusable_item_is_screened_with_file_line_field(screened, origin, rule, check, field):
    found = [r for r in screened["removed"] if r["origin"] == origin]
    assert len(found) == 1, f"{origin} not reported once: {[r['origin'] for r in screened['removed']]}"
    entry = found[0]
    assert (entry["rule"], entry["check"], entry["field"]) == (rule, check, field), entry
    assert entry["reason"].strip() and entry["split"] == ("validation" if origin.startswith("medmcqa/") else "test")


def test_good_items_survive_and_nothing_else_is_removed(screened):
    assert sorted(r["origin"] for r in screened["removed"]) == sorted(s[0] for s in SCREENED)
    kept = {name: s["kept"] for name, s in screened["datasets"].items()}
    assert kept == {"medqa": 1, "headqa": 1, "mmlu_pro": 1, "medexpqa": 1, "mednli": 1, "bionli": 1, "medmcqa": 1,
                    "liveqa": 1, "expertqa_med": 1, "expertqa_bio": 0, "pubmedqa": 1}
