"""Screening: every rule and check by name, and the report `globmed data build` writes.

One build (module fixture) runs on a tree with one deliberate case per line; each case is then
looked up in OUT/screening/report.json by its origin (file:line). The checks themselves are also
run in-process on hand-made records, so each is exercised without a reader in front of it.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from globmed import registry
from globmed.errors import GlobmedError
from globmed.records import LFQARecord, MCQARecord, NLIRecord
from globmed.screening import RULES, Screener, images

from .conftest import (
    ROOT,
    cli_env,
    data_build,
    expertqa_item,
    headqa_doc,
    headqa_item,
    load_config,
    make_sources,
    medmcqa_item,
    mednli_item,
    medqa_item,
    mmlu_item,
    run_cli,
    screening_report,
)

MEDQA = "medqa/US/4_options/phrases_no_exclude_test.jsonl"
OPTS = ["Aspirin", "Heparin", "Warfarin", "Clopidogrel"]

MEDQA_LINES = [
    medqa_item("Good question one: which drug is an antiplatelet?", OPTS, "A"),                      # 1 kept
    {k: v for k, v in medqa_item("no question here", OPTS, "A").items() if k != "question"},          # 2
    {k: v for k, v in medqa_item("Question without options?", OPTS, "A").items() if k != "options"},  # 3
    medqa_item("Question without an answer key?", OPTS, None),                                        # 4
    {**medqa_item("Answer key outside the options?", OPTS, None), "answer_idx": "E"},                 # 5
    medqa_item("As shown in the image, which skin lesion is this?", OPTS, "B"),                       # 6
    # 7: line 1 again, differing only in case and whitespace
    medqa_item("  GOOD question one:   which drug is an  ANTIPLATELET? ", ["aspirin", "HEPARIN", " Warfarin", "clopidogrel"], "A"),
    medqa_item("Empty option B?", ["Aspirin", "", "Warfarin", "Clopidogrel"], "A"),                    # 8
    medqa_item("Repeated option?", ["Aspirin", "Heparin", " ASPIRIN", "Warfarin"], "B"),               # 9
    medqa_item("Gapped option keys?", {"A": "Aspirin", "B": "Heparin", "D": "Warfarin", "E": "Clopidogrel"}, "A"),  # 10
    medqa_item("Too many options for MedQA?", OPTS + ["Ticagrelor"], "A"),                             # 11
    medqa_item("Broken encoding \ufffd in the question?", OPTS, "A"),                                  # 12
    medqa_item("Mojibake in an option?", ["Aspirin", "CafÃ©ine", "Warfarin", "Clopidogrel"], "A"),     # 13
    medqa_item("Control character \x07 in the question?", OPTS, "A"),                                  # 14
    medqa_item("Good question two: which drug is a vitamin K antagonist?", OPTS, "C"),                # 15 kept
]
MEDNLI_LINES = [
    mednli_item("n1", "The patient has a fever of 39 °C.", "The patient is febrile.", "entailment"),   # 1 kept
    mednli_item("n2", "", "The patient is febrile.", "entailment"),                                     # 2
    mednli_item("n3", "The patient has a cough.", "   ", "neutral"),                                    # 3
    mednli_item("n4", "The patient has a rash.", "The patient has measles.", "maybe"),                  # 4
    mednli_item("n5", "Lungs are clear.", "The patient has pneumonia.", "contradiction"),               # 5 kept
]
HEADQA = headqa_doc({"Cuaderno_2019_1_M": [
    headqa_item(1, "¿Cuál es el tratamiento de elección?", ["Uno", "Dos", "Tres", "Cuatro"], 2),
    headqa_item(2, "¿Qué estructura señala la flecha?", ["Hígado", "Bazo", "Riñón", "Páncreas"], 1,
                image="images/2019_1_M_2.png"),
]})
MMLU_LINES = [
    mmlu_item(6001, "Which vitamin prevents scurvy?", ["Vitamin A", "Vitamin C", "Vitamin D", "Vitamin K"], 1),
    mmlu_item(1201, "What is a tort?", ["a wrong", "a cake", "a court", "a fee"], 0, category="law"),
    mmlu_item(9301, "What is the unit of force?", ["newton", "joule", "watt", "pascal"], 0, category="physics"),
]
EXPERTQA_LINES = [
    expertqa_item("What is the first-line treatment for anaphylaxis?", "Healthcare / Medicine", "Adrenaline."),
    expertqa_item("What does a ribosome do?", "Biology", "It makes proteins."),
    expertqa_item("Can a landlord keep a deposit?", "Law", "Only for damage."),
]
MEDMCQA_LINES = [
    medmcqa_item("x1", "Drug of choice for absence seizures?", ["Carbamazepine", "Phenytoin", "Ethosuximide", "Valproate"], 3),
    medmcqa_item("x1", "A different question reusing the id?", ["One", "Two", "Three", "Four"], 1),
    medmcqa_item("x2", "Most common site of ectopic pregnancy?", ["Ampulla", "Isthmus", "Ovary", "Cervix"], 1),
]

# (dataset, origin, rule, check, field)
CASES = [
    ("medqa", f"{MEDQA}:2", "incompleteness", "missing_field", "question"),
    ("medqa", f"{MEDQA}:3", "incompleteness", "missing_field", "options"),
    ("medqa", f"{MEDQA}:4", "incompleteness", "missing_field", "answer_idx"),
    ("medqa", f"{MEDQA}:5", "incompleteness", "answer_not_in_options", "answer_idx"),
    ("medqa", f"{MEDQA}:6", "incompleteness", "needs_image", "question"),
    ("medqa", f"{MEDQA}:7", "disorganization", "duplicate_item", "*"),
    ("medqa", f"{MEDQA}:8", "disorganization", "broken_options", "options"),
    ("medqa", f"{MEDQA}:9", "disorganization", "broken_options", "options"),
    ("medqa", f"{MEDQA}:10", "disorganization", "broken_options", "options"),
    ("medqa", f"{MEDQA}:11", "disorganization", "broken_options", "options"),
    ("medqa", f"{MEDQA}:12", "disorganization", "malformed_text", "question"),
    ("medqa", f"{MEDQA}:13", "disorganization", "malformed_text", "options"),
    ("medqa", f"{MEDQA}:14", "disorganization", "malformed_text", "question"),
    ("mednli", "mednli/mli_test_v1.jsonl:2", "incompleteness", "missing_field", "sentence1"),
    ("mednli", "mednli/mli_test_v1.jsonl:3", "incompleteness", "missing_field", "sentence2"),
    ("mednli", "mednli/mli_test_v1.jsonl:4", "incompleteness", "unknown_label", "gold_label"),
    ("headqa", "headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_M.data[1]", "incompleteness", "needs_image", "image"),
    ("mmlu_pro", "mmlu_pro/data/test.jsonl:2", "irrelevance", "off_topic", "category"),
    ("mmlu_pro", "mmlu_pro/data/test.jsonl:3", "irrelevance", "off_topic", "category"),
    ("expertqa_med", "expertqa/r2_compiled_anon.jsonl:3", "irrelevance", "off_topic", "metadata.field"),
    ("medmcqa", "medmcqa/dev.json:2", "disorganization", "duplicate_id", "id"),
]
# Words the reason must contain (what a reader of the report needs to fix the item).
REASONS = {
    f"{MEDQA}:5": ["'E'"], f"{MEDQA}:7": [f"({MEDQA}:1)"], f"{MEDQA}:8": ["empty"], f"{MEDQA}:9": ["aspirin"],
    f"{MEDQA}:10": ["gap"], f"{MEDQA}:11": ["5 options", "4"], f"{MEDQA}:12": ["U+FFFD"], f"{MEDQA}:13": ["mojibake"],
    f"{MEDQA}:14": ["control"], "mednli/mli_test_v1.jsonl:4": ["'maybe'"],
    "headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_M.data[1]": ["images/2019_1_M_2.png"],
    "mmlu_pro/data/test.jsonl:2": ["law"], "mmlu_pro/data/test.jsonl:3": ["physics"],
    "expertqa/r2_compiled_anon.jsonl:3": ["Law"], "medmcqa/dev.json:2": ["x1", "medmcqa/dev.json:1"],
}


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("screening")
    sources = make_sources(tmp / "sources", medqa=MEDQA_LINES, mednli=MEDNLI_LINES, headqa=HEADQA,
                           mmlu_pro=MMLU_LINES, expertqa=EXPERTQA_LINES, medmcqa=MEDMCQA_LINES)
    out = tmp / "out"
    # one deliberate case per line leaves medqa and mednli with fewer than half their rows: built anyway
    run = data_build(lambda *a, **e: run_cli(list(a), cli_env(tmp / "hf_home", **e)), sources, out, "--allow-partial")
    assert run.returncode == 0, str(run)
    return out, screening_report(out)


def removal(report, origin):
    found = [r for r in report["removed"] if r["origin"] == origin]
    assert len(found) == 1, f"{origin}: {found or 'not in the report'}"
    return found[0]


@pytest.mark.parametrize("dataset,origin,rule,check,field", CASES, ids=[c[1].split("/")[-1] for c in CASES])
def test_each_case_is_reported(built, dataset, origin, rule, check, field):
    _, report = built
    entry = removal(report, origin)
    assert (entry["dataset"], entry["rule"], entry["check"], entry["field"]) == (dataset, rule, check, field)
    for word in REASONS.get(origin, []):
        assert word.lower() in entry["reason"].lower(), entry["reason"]
    assert entry["reason"].strip()


def test_nothing_else_is_removed(built):
    _, report = built
    assert sorted(r["origin"] for r in report["removed"]) == sorted(c[1] for c in CASES)


def test_report_entries_name_rule_check_field_origin_reason(built):
    _, report = built
    assert set(report["rules"]) == {"incompleteness", "irrelevance", "disorganization"} == set(RULES)
    for entry in report["removed"]:
        assert set(entry) >= {"id", "dataset", "split", "origin", "rule", "check", "field", "reason"}
        assert entry["rule"] in RULES and entry["check"] and entry["field"] and entry["reason"]
        assert re.fullmatch(r"[\w./-]+\.(jsonl|json|xml|csv|parquet):(\d+|\$\.\S+|row \d+)", entry["origin"]), entry


def test_counts_add_up(built):
    _, report = built
    listed = {}
    for entry in report["removed"]:
        listed[entry["dataset"]] = listed.get(entry["dataset"], 0) + 1
    expected_read = {"medqa": len(MEDQA_LINES), "mednli": len(MEDNLI_LINES), "headqa": 2, "mmlu_pro": 3,
                     "expertqa_bio": 1, "expertqa_med": 2, "medmcqa": 3}
    assert set(report["datasets"]) == set(expected_read)
    for name, s in report["datasets"].items():
        assert s["read"] == expected_read[name], name
        assert sum(s["by_rule"].values()) == s["read"] - s["kept"] == s["removed"] == listed.get(name, 0), name
        assert sum(s["by_check"].values()) == s["removed"]
    medqa = report["datasets"]["medqa"]
    assert medqa["kept"] == 2
    assert medqa["by_rule"] == {"incompleteness": 5, "irrelevance": 0, "disorganization": 8}
    assert report["datasets"]["expertqa_med"]["by_rule"]["irrelevance"] == 1
    assert report["datasets"]["expertqa_bio"]["removed"] == 0  # the Law row is not Biology's to report


def test_the_build_records_what_it_built_anyway(built):
    out, _ = built
    partial = json.loads((out / "globmed.json").read_text(encoding="utf-8"))["partial"]
    assert partial == ["medqa: 13 of 15 rows removed (incompleteness 5, disorganization 8), more than half",
                       "mednli: 3 of 5 rows removed (incompleteness 3), more than half"]


def test_only_kept_items_are_published(built, tmp_path):
    out, report = built
    medqa = load_config(out, "medqa.en", cache=tmp_path / "cache")
    assert [r["question"] for r in medqa] == [MEDQA_LINES[0]["question"], MEDQA_LINES[-1]["question"]]
    assert [r["answer"] for r in medqa] == ["A", "C"]
    mednli = load_config(out, "mednli.en", cache=tmp_path / "cache")
    assert [r["id"] for r in mednli] == ["mednli-test-n1", "mednli-test-n5"]
    mmlu = load_config(out, "mmlu_pro.en", cache=tmp_path / "cache")
    assert [r["id"] for r in mmlu] == ["mmlu_pro-test-6001"]
    med = load_config(out, "expertqa_med.en", cache=tmp_path / "cache")
    assert [r["question"] for r in med] == ["What is the first-line treatment for anaphylaxis?"]
    medmcqa = load_config(out, "medmcqa.en", split="validation", cache=tmp_path / "cache")
    assert [r["question"] for r in medmcqa] == ["Drug of choice for absence seizures?",
                                                "Most common site of ectopic pregnancy?"]
    assert report["datasets"]["medmcqa"]["kept"] == len(medmcqa)


# --------------------------------------------------------------------------------------------- in-process
def mcqa(i, question="What is the dose?", options=("One", "Two", "Three", "Four"), answer="A", language="en", **kw):
    return MCQARecord(id=f"medqa-test-{i}", dataset="medqa", split="test", language=language, question=question,
                      options=list(options) if options is not None else None, answer=answer, origin=f"f.jsonl:{i}", **kw)


def nli(i, premise="The patient has a fever.", hypothesis="The patient is febrile.", label="entailment"):
    return NLIRecord(id=f"mednli-test-{i}", dataset="mednli", split="test", language="en", premise=premise,
                     hypothesis=hypothesis, label=label, origin=f"f.jsonl:{i}")


RECORD_CASES = [
    ("medqa", mcqa(1, question=None), "incompleteness", "missing_field", "question"),
    ("medqa", mcqa(1, options=None), "incompleteness", "missing_options", "options"),
    ("medqa", mcqa(1, options=()), "incompleteness", "missing_options", "options"),
    ("medqa", mcqa(1, answer=None), "incompleteness", "missing_answer", "answer"),
    ("medqa", mcqa(1, answer="E"), "incompleteness", "answer_not_in_options", "answer"),
    ("medqa", mcqa(1, question="Which finding is seen in the figure below?"), "incompleteness", "needs_image", "question"),
    ("headqa", mcqa(1, question="Observe la imagen adjunta. ¿Qué muestra?", language="es"), "incompleteness",
     "needs_image", "question"),
    ("medqa", mcqa(1, options=("One", "", "Three", "Four")), "disorganization", "broken_options", "options"),
    ("medqa", mcqa(1, options=("One", "Two", "one ", "Four")), "disorganization", "broken_options", "options"),
    ("medqa", mcqa(1, options=("One", "Two", "Three", "Four", "Five")), "disorganization", "broken_options", "options"),
    ("medqa", mcqa(1, options=("Only",)), "disorganization", "broken_options", "options"),
    ("medqa", mcqa(1, question="Bad \ufffd text"), "disorganization", "malformed_text", "question"),
    ("medqa", mcqa(1, options=("One", "â€œTwoâ€\x9d", "Three", "Four")), "disorganization", "malformed_text", "options"),
    ("medqa", mcqa(1, explanation="tab\x0bbed"), "disorganization", "malformed_text", "explanation"),
    ("mednli", nli(1, premise=""), "incompleteness", "missing_field", "premise"),
    ("mednli", nli(1, hypothesis=None), "incompleteness", "missing_field", "hypothesis"),
    ("mednli", nli(1, label="maybe"), "incompleteness", "unknown_label", "label"),
    ("bionli", nli(1, label="neutral"), "incompleteness", "unknown_label", "label"),  # BioNLI has two labels
    ("mmlu_pro", mcqa(1, meta={"category": "law"}), "irrelevance", "off_topic", "category"),
]


@pytest.mark.parametrize("dataset,record,rule,check,field", RECORD_CASES,
                         ids=[f"{c[0]}-{c[3]}-{i}" for i, c in enumerate(RECORD_CASES)])
def test_checks_on_records(dataset, record, rule, check, field):
    record.dataset = dataset
    screener = Screener(registry.get(dataset))
    assert list(screener([record])) == []
    (entry,) = screener.removals
    assert (entry.rule, entry.check, entry.field, entry.origin) == (rule, check, field, "f.jsonl:1")
    assert screener.summary()["by_rule"][rule] == 1


def test_good_records_pass():
    for dataset, record in (("medqa", mcqa(1)), ("mednli", nli(1)), ("mmlu_pro", mcqa(2, meta={"category": "health"})),
                            ("liveqa", LFQARecord(id="l-1", dataset="liveqa", split="test", language="en",
                                                  question="Is it normal?", answer="Yes.")),
                            # the image rule reads the question only: explanations cite textbook figures
                            ("medmcqa", mcqa(3, explanation="Ref: Harrison 21e, Fig. 12-3; as shown in the figure")),
                            ("medqa", mcqa(4, options=("Thumbprint sign on the lateral image", "Steeple sign", "B", "C")))):
        screener = Screener(registry.get(dataset))
        assert list(screener([record])) == [record], screener.removals


def test_duplicates_in_stream():
    screener = Screener(registry.get("medqa"))
    records = [mcqa(1, question="Which drug?"),
               mcqa(2, question="  WHICH   drug? ", options=("one", "TWO", "Three ", "four")),  # same item
               mcqa(1, question="Another question with a reused id?"),
               mcqa(3, question="Which drug?", options=("One", "Two", "Three", "Five"))]  # other options: not a duplicate
    kept = list(screener(records))
    assert [r.question for r in kept] == ["Which drug?", "Which drug?"]
    assert [(r.origin, r.rule, r.check, r.field) for r in screener.removals] == [
        ("f.jsonl:2", "disorganization", "duplicate_item", "*"), ("f.jsonl:1", "disorganization", "duplicate_id", "id")]
    assert "medqa-test-1" in screener.removals[0].reason and "medqa-test-1" in screener.removals[1].reason


# --------------------------------------------------------------------------------------------- the image rule
# Real MedQA/MedMCQA questions labelled by reading them (sources, policy and protocol in the folder's README).
# The labels are committed; the questions are cut from the public copies into texts/ (git-ignored) by
# dataset_scripts/cut_fixtures.py, and the tests that score them are skipped until then.
LABELLED = Path(__file__).parent / "fixtures" / "image_dependence" / "labelled.jsonl"
MANIFEST = json.loads((Path(__file__).parent / "fixtures" / "manifest.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=1)
def image_check():
    """benchmarks/image_screening.py, the check anyone can run, imported (it is a script, not a package)."""
    spec = importlib.util.spec_from_file_location("image_screening", ROOT / "benchmarks" / "image_screening.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module


@functools.lru_cache(maxsize=1)
def _labelled_items() -> tuple[dict, ...]:
    return tuple(image_check().load_items(LABELLED))


def labelled_items() -> tuple[dict, ...]:
    """The labelled set joined with its cut texts; the test is skipped (with the command) when they are not cut."""
    try:
        return _labelled_items()
    except image_check().TextsMissing as exc:
        pytest.skip(f"real-data texts: {exc}")


def test_the_committed_labels_hold_no_source_text():
    """Only what is ours is committed: where each item is, its label, and a hash of the question it was given to."""
    ours = {"source", "line", "id", "part", "stratum", "needs_image", "note", "question_sha256"}
    rows = [json.loads(line) for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 625
    assert all(set(r) <= ours and re.fullmatch(r"[0-9a-f]{64}", r["question_sha256"]) for r in rows)
    assert len({(r["source"], r["line"]) for r in rows}) == len(rows)
    texts = {f"image_dependence/texts/{r['source']}.jsonl" for r in rows}
    assert texts <= set(MANIFEST)  # every source's texts have a cutting rule and a pinned commit


def test_the_cut_texts_are_what_the_manifest_pins():
    for rel in sorted(k for k in MANIFEST if k.startswith("image_dependence/texts/")):
        path = LABELLED.parent.parent / rel
        if not path.exists():
            pytest.skip(f"real-data texts: {path} not cut: {image_check().CUT}")
        assert hashlib.sha256(path.read_bytes()).hexdigest() == MANIFEST[rel]["sha256"], f"{path}: cut it again"


def test_the_check_script_without_texts_names_the_command(tmp_path):
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "image_screening.py"), "--texts", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    (line,) = proc.stderr.splitlines()
    assert "not cut" in line and "python dataset_scripts/cut_fixtures.py --repos DIR" in line and "--mirrors" in line


def _labelled_pair(tmp_path, line3: str) -> tuple[Path, Path]:
    """A labelled set of two items (lines 1 and 3 of source `mine`, both labelled on "Which drug?") and its texts."""
    digest = hashlib.sha256("Which drug?".encode("utf-8")).hexdigest()
    label = {"source": "mine", "part": "dev", "stratum": "other", "needs_image": False, "question_sha256": digest}
    labelled = tmp_path / "labelled.jsonl"
    labelled.write_text(json.dumps({**label, "line": 1}) + "\n" + json.dumps({**label, "line": 3}) + "\n")
    (tmp_path / "texts").mkdir()
    line1 = '{"line": 1, "question": "Which drug?", "options": ["A", "B"]}\n'
    (tmp_path / "texts" / "mine.jsonl").write_text(line1 + line3)
    return labelled, tmp_path / "texts"


def test_labels_are_joined_with_their_texts_by_line(tmp_path):
    line3 = '{"line": 3, "question": "Which drug?", "options": {"A": "x", "B": "y"}}\n'
    labelled, texts = _labelled_pair(tmp_path, line3)
    items = image_check().load_items(labelled, texts)
    assert [(i["line"], i["question"], i["options"]) for i in items] == [
        (1, "Which drug?", ["A", "B"]), (3, "Which drug?", {"A": "x", "B": "y"})]


@pytest.mark.parametrize("text,words", [
    ('{"line": 3, "question": "Which drug is an anticoagulant?", "options": ["A", "B"]}\n', ["labelled.jsonl:2",
     "question_sha256", "line 3", "not the text that was labelled"]),
    ('{"line": 9, "question": "Which drug?", "options": ["A", "B"]}\n', ["labelled.jsonl:2", "line 3", "not in"]),
    ('{"line": 3, "question": "Which drug?",\n', ["mine.jsonl:2", "not JSON"]),
])
def test_a_text_that_is_not_the_labelled_one_is_refused(tmp_path, text, words):
    """The labels are checked against the hash of the question they were given to: another text is refused."""
    labelled, texts = _labelled_pair(tmp_path, text)
    with pytest.raises(image_check().TextsError) as err:
        image_check().load_items(labelled, texts)
    for word in words:
        assert word in str(err.value)
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "image_screening.py"), "--labelled", str(labelled),
                           "--texts", str(texts)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and len(proc.stderr.splitlines()) == 1 and words[0] in proc.stderr


def test_labelled_set_is_real_varied_and_large_enough():
    items = labelled_items()
    assert len(items) >= 150
    for source in ("medqa", "medmcqa"):
        labels = {i["needs_image"] for i in items if i["source"].startswith(source + "_") or i["source"] == source}
        assert labels == {True, False}, source
    assert {i["part"] for i in items} == {"dev", "heldout1", "heldout2"}
    # hard negatives: content given as text after "shown below" / "as follows" must be in the set, and kept
    assert sum(1 for i in items if not i["needs_image"] and re.search(r"(shown|seen|given) below", i["question"])) >= 20


def test_image_rule_meets_the_targets_on_real_items():
    scores = image_check().score(labelled_items())
    everything = scores["all"]
    assert everything.precision >= 0.98 and everything.recall >= 0.95, (everything.precision, everything.recall,
                                                                         everything.errors)
    for part in ("heldout1", "heldout2"):  # not written against: each part stays close to the targets
        assert scores[part].precision >= 0.95 and scores[part].recall >= 0.95, (part, scores[part].errors)


def test_the_check_script_prints_precision_and_recall():
    labelled_items()  # skipped without the texts
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "image_screening.py"), "--errors"],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = {line.split()[0]: line.split() for line in proc.stdout.splitlines() if line.strip()}
    assert {"dev", "heldout1", "heldout2", "all"} <= set(lines)
    precision, recall = map(float, lines["all"][-2:])
    assert precision >= 0.98 and recall >= 0.95 and "targets" in proc.stdout and "met" in proc.stdout


ISSUE_EXAMPLES = ["A photograph of the nails is shown.", "A blood smear is shown.", "His urinalysis is shown in Figure 1.",
                  "(Figure C)", "Name the structure marked with arrow", "Given instrument is known as"]


@pytest.mark.parametrize("words", ISSUE_EXAMPLES)
def test_the_issues_examples_are_removed_in_their_real_items(words):
    (item,) = [i for i in labelled_items() if words in i["question"]]
    assert item["needs_image"]
    screener = Screener(registry.get("medqa" if item["source"].startswith("medqa") else "medmcqa"))
    record = mcqa(item["line"], question=item["question"])
    assert list(screener([record])) == []
    (entry,) = screener.removals
    assert (entry.rule, entry.check, entry.field) == ("incompleteness", "needs_image", "question")
    assert "picture" in entry.reason


def test_values_given_as_text_after_shown_below_are_kept():
    items = [i for i in labelled_items()
             if not i["needs_image"] and re.search(r"(shown|seen|given|provided) below", i["question"])]
    kept = list(Screener(registry.get("medqa"))(mcqa(n, question=i["question"], options=("a", "b", "c", "d"))
                                                for n, i in enumerate(items)))
    assert len(kept) == len(items) >= 20


@pytest.mark.parametrize("yaml_text,words", [
    ("phrases:\n  en:\n    bad:\n      pattern: '(unclosed'\n", ["images.yaml:4", "not a valid regular expression"]),
    ("phrases:\n  en:\n    bad:\n      pattern: '<nouns> shown'\n", ["images.yaml:4", "<nouns>"]),
    ("phrases:\n  en:\n    bad:\n      pattern: 'shown'\n      unless_after: 'to'\n", ["images.yaml:5", "start with ^"]),
    ("phrases:\n  en:\n    bad:\n      patern: 'shown'\n", ["images.yaml:3", "needs a 'pattern'"]),
    ("phrases:\n  en:\n    bad:\n      pattern: 'Shown'\n      anchors: [Shown]\n", ["images.yaml:5", "lowercase"]),
])
def test_a_broken_phrase_table_is_named_by_file_and_line(tmp_path, yaml_text, words):
    path = tmp_path / "images.yaml"
    path.write_text(yaml_text, encoding="utf-8")
    with pytest.raises(GlobmedError) as err:
        images.load(path)
    for word in words:
        assert word in str(err.value)
