"""The source readers: each public file format -> unified records, field by field.

Every test writes a tiny file in the source's original layout (a path that matches the
registry's `files` pattern) and checks what the reader makes of it.
"""

from __future__ import annotations

import csv
from collections import Counter

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from globmed import registry
from globmed.errors import SourceError
from globmed.records import LFQARecord, MCQARecord, NLIRecord
from globmed.screening import Screener
from globmed.sources import read_dataset

from .conftest import (
    SAMPLE_SOURCES,
    bionli_item,
    expertqa_item,
    headqa_doc,
    headqa_item,
    liveqa_xml,
    medexpqa_item,
    medmcqa_item,
    mednli_item,
    medqa_item,
    mmlu_item,
    pubmedqa_item,
    read_records,
    write_source,
)


def by_question(records) -> dict:
    return {r.question: r for r in records}


# --------------------------------------------------------------------------------------------- MedQA
MEDQA_ROWS = [
    # options written out of key order: the record must list them A, B, C, D
    medqa_item("A 58-year-old man has chest pain. Which artery is occluded?",
               {"D": "Left main", "B": "Right coronary", "A": "Left anterior descending", "C": "Left circumflex"}, "B"),
    medqa_item("Which organism causes falciparum malaria?", ["P. vivax", "P. malariae", "P. falciparum", "Babesia"], "C",
               meta_info="step2&3"),
    medqa_item("Deficiency of which vitamin causes scurvy?", ["Vitamin A", "Vitamin B1", "Vitamin C", "Vitamin D"], "C"),
]


def test_medqa_fields(tmp_path):
    write_source(tmp_path, "medqa", MEDQA_ROWS)
    records = read_records(tmp_path, "medqa")
    assert len(records) == 3 and all(isinstance(r, MCQARecord) for r in records)
    first, second, third = records
    assert first.question == "A 58-year-old man has chest pain. Which artery is occluded?"
    assert first.options == ["Left anterior descending", "Right coronary", "Left circumflex", "Left main"]
    assert first.answer == "B" and first.options[first.answer_index] == "Right coronary"
    assert second.answer == "C" and second.options[2] == "P. falciparum"
    assert second.meta == {"meta_info": "step2&3"} and first.meta == {"meta_info": "step1"}
    assert third.options == ["Vitamin A", "Vitamin B1", "Vitamin C", "Vitamin D"]
    for i, r in enumerate(records, 1):
        assert (r.dataset, r.split, r.language) == ("medqa", "test", "en")
        assert r.context is None and r.explanation is None
        assert r.origin == f"medqa/US/4_options/phrases_no_exclude_test.jsonl:{i}"
        assert r.issues == []
        assert r.id.startswith("medqa-test-")
    assert len({r.id for r in records}) == 3


def test_medqa_split_from_file_name(tmp_path):
    for split in ("train", "dev", "test"):
        write_source(tmp_path, "medqa", [medqa_item(f"Question of the {split} file?", ["a", "b", "c", "d"], "A")],
                     path=f"medqa/US/4_options/phrases_no_exclude_{split}.jsonl")
    splits = {r.question: r.split for r in read_records(tmp_path, "medqa")}
    assert splits == {"Question of the train file?": "train", "Question of the dev file?": "validation",
                      "Question of the test file?": "test"}


# --------------------------------------------------------------------------------------------- HEAD-QA
def headqa_source():
    return headqa_doc({
        "Cuaderno_2019_1_M": [
            # answers listed out of aid order: options follow aid; ra is the aid of the right answer
            {**headqa_item(1, "¿Fármaco de primera elección en la diabetes tipo 2?", [], 2),
             "answers": [{"aid": 3, "atext": "Glibenclamida"}, {"aid": 1, "atext": "Insulina"},
                         {"aid": 2, "atext": "Metformina"}, {"aid": 4, "atext": "Pioglitazona"}]},
            headqa_item(2, "¿Cuál es la causa más frecuente de neumonía comunitaria?",
                        ["Neumococo", "Legionella", "Micoplasma", "Haemophilus", "Klebsiella"], 1),
        ],
        "Cuaderno_2019_1_E": [
            headqa_item(1, "¿Cada cuánto se cambia un catéter venoso periférico?",
                        ["24 h", "48 h", "72-96 h", "7 días"], 3),
        ],
    })


def test_headqa_fields_public_types(tmp_path):
    """The public HEAD-QA JSON has qid and ra as strings and aid as integers."""
    write_source(tmp_path, "headqa", headqa_source())
    records = read_records(tmp_path, "headqa")
    assert [r.question for r in records] == ["¿Fármaco de primera elección en la diabetes tipo 2?",
                                             "¿Cuál es la causa más frecuente de neumonía comunitaria?",
                                             "¿Cada cuánto se cambia un catéter venoso periférico?"]
    first, second, third = records
    assert first.options == ["Insulina", "Metformina", "Glibenclamida", "Pioglitazona"]
    assert first.answer == "B"
    assert second.options == ["Neumococo", "Legionella", "Micoplasma", "Haemophilus", "Klebsiella"]
    assert second.answer == "A"
    assert third.answer == "C" and third.options[third.answer_index] == "72-96 h"
    assert [r.id for r in records] == ["headqa-test-Cuaderno_2019_1_M-1", "headqa-test-Cuaderno_2019_1_M-2",
                                       "headqa-test-Cuaderno_2019_1_E-1"]
    assert [r.origin for r in records] == ["headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_M.data[0]",
                                           "headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_M.data[1]",
                                           "headqa/es/test_HEAD.json:$.exams.Cuaderno_2019_1_E.data[0]"]
    assert first.meta == {"exam": "Cuaderno_2019_1_M", "year": "2019", "category": "medicine"}
    assert all((r.language, r.split, r.dataset) == ("es", "test", "headqa") for r in records)
    assert all(r.issues == [] for r in records), [r.issues for r in records]


def test_headqa_integer_keys_and_split(tmp_path):
    """Integer qid/ra (as some copies have) read the same; the split comes from the file name."""
    doc = headqa_source()
    for exam in doc["exams"].values():
        for item in exam["data"]:
            item["qid"], item["ra"] = int(item["qid"]), int(item["ra"])
    write_source(tmp_path / "a", "headqa", headqa_source())
    write_source(tmp_path / "b", "headqa", doc, path="headqa/es/dev_HEAD.json")
    a, b = read_records(tmp_path / "a", "headqa"), read_records(tmp_path / "b", "headqa")
    assert [(r.question, r.options, r.answer) for r in a] == [(r.question, r.options, r.answer) for r in b]
    assert {r.split for r in b} == {"validation"} and b[0].id == "headqa-validation-Cuaderno_2019_1_M-1"
    # a single HEAD.json has no split in its name: the registry's fixed split applies
    write_source(tmp_path / "c", "headqa", doc, path="headqa/HEAD.json")
    assert {r.split for r in read_records(tmp_path / "c", "headqa")} == {"test"}


# --------------------------------------------------------------------------------------------- MedExpQA
def test_medexpqa_fields(tmp_path):
    rows = [
        medexpqa_item(7, "A 62-year-old man has albuminuria. Preferred drug?",
                      ["ACE inhibitor", "Beta-blocker", "Alpha-blocker", "Loop diuretic", "Clonidine"], 1,
                      "ACE inhibitors reduce albuminuria."),
        medexpqa_item(8, "Four-option case: first test for suspected PE?", ["D-dimer", "CT angiography", "V/Q scan", "Chest X-ray"],
                      2, "CT angiography confirms PE."),
        medexpqa_item(9, "Five options, last one right?", ["a", "b", "c", "d", "e"], 5),
    ]
    write_source(tmp_path, "medexpqa", rows)
    first, second, third = read_records(tmp_path, "medexpqa")
    assert first.question == "A 62-year-old man has albuminuria. Preferred drug?"
    assert first.options == ["ACE inhibitor", "Beta-blocker", "Alpha-blocker", "Loop diuretic", "Clonidine"]
    assert first.answer == "A" and first.explanation == "ACE inhibitors reduce albuminuria."
    assert second.options == ["D-dimer", "CT angiography", "V/Q scan", "Chest X-ray"]  # option "5" is null
    assert second.answer == "B" and second.explanation == "CT angiography confirms PE."
    assert third.answer == "E" and third.explanation is None
    assert [r.id for r in (first, second, third)] == ["medexpqa-test-7", "medexpqa-test-8", "medexpqa-test-9"]
    assert [r.origin for r in (first, second, third)] == [
        f"medexpqa/test.es.casimedicos.rag.jsonl:{i}" for i in (1, 2, 3)]
    assert first.meta == {"year": 2021, "type": "CARDIOLOGY"}
    assert all(r.issues == [] for r in (first, second, third))


def test_medexpqa_split_and_plain_layout(tmp_path):
    write_source(tmp_path, "medexpqa", [medexpqa_item(1, "q?", ["a", "b", "c", "d", "e"], 2)],
                 path="medexpqa/dev.es.casimedicos.jsonl")
    (record,) = read_records(tmp_path, "medexpqa")
    assert record.split == "validation" and record.id == "medexpqa-validation-1" and record.answer == "B"


# --------------------------------------------------------------------------------------------- MMLU-Pro
MMLU_ROWS = [
    mmlu_item(6001, "Normal resting heart rate for a healthy adult?",
              ["40-50", "50-60", "60-100", "100-120", "120-140", "30-40", "140-160", "20-30", "160-180", "100-150"], 2),
    mmlu_item(6002, "Which vitamin prevents scurvy?", ["Vitamin A", "Thiamine", "Vitamin C", "Vitamin K"], 2),
    mmlu_item(6003, "Tenth option right?", [f"opt {i}" for i in range(10)], 9),
    mmlu_item(1201, "What is a tort?", ["a wrong", "a cake", "a court", "a fee"], 0, category="law"),
]


def check_mmlu(records, display: str, where) -> None:
    assert [r.id for r in records] == ["mmlu_pro-test-6001", "mmlu_pro-test-6002", "mmlu_pro-test-6003",
                                       "mmlu_pro-test-1201"]
    heart, vit, tenth, law = records
    assert heart.question == "Normal resting heart rate for a healthy adult?"
    assert heart.options == MMLU_ROWS[0]["options"] and heart.answer == "C"
    assert vit.options == ["Vitamin A", "Thiamine", "Vitamin C", "Vitamin K"] and vit.answer == "C"
    assert tenth.answer == "J" and tenth.options[tenth.answer_index] == "opt 9"
    assert law.meta == {"category": "law", "src": "ori_mmlu-test"} and heart.meta["category"] == "health"
    assert [r.origin for r in records] == [f"{display}:{w}" for w in where]
    assert all(r.issues == [] for r in records)


def test_mmlu_pro_jsonl(tmp_path):
    write_source(tmp_path, "mmlu_pro", MMLU_ROWS)
    check_mmlu(read_records(tmp_path, "mmlu_pro"), "mmlu_pro/data/test.jsonl", [1, 2, 3, 4])


def test_mmlu_pro_parquet(tmp_path):
    """The Hub release: data/test-00000-of-00001.parquet, written here with pyarrow."""
    table = pa.Table.from_pylist(MMLU_ROWS, schema=pa.schema([
        ("question_id", pa.int64()), ("question", pa.string()), ("options", pa.list_(pa.string())),
        ("answer", pa.string()), ("answer_index", pa.int64()), ("cot_content", pa.string()),
        ("category", pa.string()), ("src", pa.string())]))
    path = tmp_path / "mmlu_pro" / "data" / "test-00000-of-00001.parquet"
    path.parent.mkdir(parents=True)
    pq.write_table(table, path)
    pq.write_table(table.slice(0, 1), path.with_name("validation-00000-of-00001.parquet"))
    records = read_records(tmp_path, "mmlu_pro")
    val = [r for r in records if r.split == "validation"]
    assert [(r.id, r.answer) for r in val] == [("mmlu_pro-validation-6001", "C")]
    check_mmlu([r for r in records if r.split == "test"], "mmlu_pro/data/test-00000-of-00001.parquet",
               ["row 1", "row 2", "row 3", "row 4"])


# --------------------------------------------------------------------------------------------- MedNLI
def test_mednli_fields_and_splits(tmp_path):
    rows = [mednli_item("a3f1", "Patient was started on IV vancomycin.", "The patient is receiving antibiotics.",
                        "entailment"),
            mednli_item("b7e2", "He reports 2 days of cough.", "The patient smokes.", "neutral"),
            mednli_item("c9d3", "Lungs are clear.", "The patient has pneumonia on exam.", "contradiction")]
    write_source(tmp_path, "mednli", rows)
    write_source(tmp_path, "mednli", rows[:1], path="mednli/mli_dev_v1.jsonl")
    write_source(tmp_path, "mednli", rows[1:2], path="mednli/sub/mli_train_v1.jsonl")
    records = read_records(tmp_path, "mednli")
    test = [r for r in records if r.split == "test"]
    assert all(isinstance(r, NLIRecord) for r in records)
    assert [(r.premise, r.hypothesis, r.label) for r in test] == [
        (row["sentence1"], row["sentence2"], row["gold_label"]) for row in rows]
    assert [r.id for r in test] == ["mednli-test-a3f1", "mednli-test-b7e2", "mednli-test-c9d3"]
    assert [r.origin for r in test] == [f"mednli/mli_test_v1.jsonl:{i}" for i in (1, 2, 3)]
    assert Counter(r.split for r in records) == {"test": 3, "validation": 1, "train": 1}
    assert all(r.issues == [] for r in records)


# --------------------------------------------------------------------------------------------- BioNLI
BIONLI_ROWS = [
    bionli_item("30418251", "Hepcidin binds ferroportin, and serum iron fell by 60%.",
                "Hepcidin lowers serum iron by degrading ferroportin.", "pos"),
    bionli_item("29873640", 'LPS increased "TNF-alpha" secretion by macrophages.',
                "TNF-alpha induces LPS secretion.", "neg"),
    bionli_item("31112222", "Statins lower LDL cholesterol.", "Statins raise LDL cholesterol.", "neg"),
]


def test_bionli_jsonl(tmp_path):
    write_source(tmp_path, "bionli", BIONLI_ROWS)
    records = read_records(tmp_path, "bionli")
    assert [(r.premise, r.hypothesis, r.label) for r in records] == [
        (BIONLI_ROWS[0]["supp_set"], BIONLI_ROWS[0]["conclusion"], "entailment"),
        (BIONLI_ROWS[1]["supp_set"], BIONLI_ROWS[1]["conclusion"], "contradiction"),
        (BIONLI_ROWS[2]["supp_set"], BIONLI_ROWS[2]["conclusion"], "contradiction")]
    assert records[0].meta == {"pmid": "30418251", "perturbation": "original"}
    assert [r.origin for r in records] == [f"bionli/test.jsonl:{i}" for i in (1, 2, 3)]
    assert all(r.split == "test" and r.id.startswith("bionli-test-") and not r.issues for r in records)


def test_bionli_csv(tmp_path):
    path = tmp_path / "bionli" / "release" / "dev.csv"
    path.parent.mkdir(parents=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=["pmid", "supp_set", "conclusion", "label_cat", "perturbation"])
        writer.writeheader()
        for row, label in zip(BIONLI_ROWS, ["1", "0", "neg"]):
            writer.writerow({**row, "label_cat": label})
    records = read_records(tmp_path, "bionli")
    assert [(r.premise, r.hypothesis, r.label) for r in records] == [
        (BIONLI_ROWS[0]["supp_set"], BIONLI_ROWS[0]["conclusion"], "entailment"),
        (BIONLI_ROWS[1]["supp_set"], BIONLI_ROWS[1]["conclusion"], "contradiction"),
        (BIONLI_ROWS[2]["supp_set"], BIONLI_ROWS[2]["conclusion"], "contradiction")]
    assert [r.origin for r in records] == [f"bionli/release/dev.csv:{i}" for i in (2, 3, 4)]  # line 1: header
    assert {r.split for r in records} == {"validation"}
    # the id is a hash of the content: the same pair has the same key in the jsonl release
    write_source(tmp_path / "j", "bionli", BIONLI_ROWS, path="bionli/dev.jsonl")
    assert [r.id for r in read_records(tmp_path / "j", "bionli")] == [r.id for r in records]


# --------------------------------------------------------------------------------------------- LiveQA
def test_liveqa_xml(tmp_path):
    xml = liveqa_xml([
        {"qid": "TQ1", "subject": "metformin side effects",
         "message": "My doctor started metformin 500 mg\n        and I get diarrhea &amp; cramps. Is this normal?",
         "answers": ["Diarrhoea is common with metformin and often improves.", "Take it with meals."]},
        {"qid": "TQ2", "subject": "Kenya trip", "message": "do i need malaria pills for my kenya trip??",
         "answers": ["Yes: ask about antimalarial tablets before you travel."]},
    ])
    write_source(tmp_path, "liveqa", xml)
    first, second = read_records(tmp_path, "liveqa")
    assert isinstance(first, LFQARecord)
    # the subject adds information here, so it leads the question; whitespace is normalized, entities decoded
    assert first.question == ("metformin side effects. My doctor started metformin 500 mg and I get diarrhea & cramps. "
                              "Is this normal?")
    assert first.answer == "Diarrhoea is common with metformin and often improves."
    assert first.meta == {"subject": "metformin side effects", "other_answers": ["Take it with meals."]}
    # the message already contains the subject: it is not repeated
    assert second.question == "do i need malaria pills for my kenya trip??"
    assert second.answer == "Yes: ask about antimalarial tablets before you travel."
    assert [r.id for r in (first, second)] == ["liveqa-test-TQ1", "liveqa-test-TQ2"]
    lines = xml.splitlines()
    expected_lines = [next(i for i, line in enumerate(lines, 1) if f'qid="{q}"' in line) for q in ("TQ1", "TQ2")]
    assert [r.origin for r in (first, second)] == [
        f"liveqa/med-qs-and-reference-answers.xml:{n}" for n in expected_lines]
    assert not first.issues and not second.issues


def test_liveqa_without_qid_gets_content_ids(tmp_path):
    """A question without a qid attribute still gets its own stable id (a hash of its content)."""
    xml = liveqa_xml([{"qid": "", "subject": "flu", "message": "Is the flu vaccine safe?", "answers": ["Yes."]},
                      {"qid": "", "subject": "cold", "message": "Do antibiotics cure a cold?", "answers": ["No."]}])
    write_source(tmp_path / "a", "liveqa", xml.replace(' qid=""', ""))
    records = read_records(tmp_path / "a", "liveqa")
    assert len({r.id for r in records}) == 2
    write_source(tmp_path / "b", "liveqa", xml.replace(' qid=""', ""))
    assert [r.id for r in read_records(tmp_path / "b", "liveqa")] == [r.id for r in records]


# --------------------------------------------------------------------------------------------- ExpertQA
EXPERTQA_ROWS = [
    expertqa_item("What is the first-line treatment for anaphylaxis?", "Healthcare / Medicine",
                  "Intramuscular adrenaline.", raw="Adrenaline, I think."),
    expertqa_item("What does a ribosome do?", "Biology", "It translates mRNA into protein."),
    expertqa_item("Can a landlord keep a deposit?", "Law", "Only for damage."),
    expertqa_item("How do mitochondria make ATP?", "Biology", None, raw="By oxidative phosphorylation."),
]


def test_expertqa_split_by_field(tmp_path):
    write_source(tmp_path, "expertqa", EXPERTQA_ROWS)
    bio, med = read_records(tmp_path, "expertqa_bio"), read_records(tmp_path, "expertqa_med")
    assert [(r.question, r.answer) for r in bio] == [
        ("What does a ribosome do?", "It translates mRNA into protein."),
        ("How do mitochondria make ATP?", "By oxidative phosphorylation.")]  # no revised answer: the raw one
    # -Med takes every non-Biology row; screening later reports the Law row as irrelevant
    assert [(r.question, r.answer) for r in med] == [
        ("What is the first-line treatment for anaphylaxis?", "Intramuscular adrenaline."),
        ("Can a landlord keep a deposit?", "Only for damage.")]
    assert [r.origin for r in bio] == ["expertqa/r2_compiled_anon.jsonl:2", "expertqa/r2_compiled_anon.jsonl:4"]
    assert [r.origin for r in med] == ["expertqa/r2_compiled_anon.jsonl:1", "expertqa/r2_compiled_anon.jsonl:3"]
    assert med[1].meta["metadata"]["field"] == "Law"
    assert all(r.id.startswith("expertqa_bio-test-") for r in bio)
    assert all(r.id.startswith("expertqa_med-test-") for r in med)
    assert all(r.dataset == "expertqa_bio" and r.split == "test" for r in bio)


# --------------------------------------------------------------------------------------------- MedMCQA
def test_medmcqa_fields_and_split(tmp_path):
    rows = [medmcqa_item("3f6c", "Drug of choice for absence seizures:", ["Carbamazepine", "Phenytoin",
                                                                           "Ethosuximide", "Phenobarbitone"], 3,
                         "Ethosuximide blocks T-type calcium channels."),
            medmcqa_item("7a2d", "Most common site of ectopic pregnancy:", ["Ampulla", "Isthmus", "Ovary", "Cervix"], 1)]
    write_source(tmp_path, "medmcqa", rows, path="medmcqa/dev.json")  # JSON lines despite the .json name
    write_source(tmp_path, "medmcqa", rows[1:], path="medmcqa/train.json")
    records = read_records(tmp_path, "medmcqa")
    dev = [r for r in records if r.split == "validation"]
    assert [r.split for r in records].count("train") == 1
    first, second = dev
    assert first.question == "Drug of choice for absence seizures:"
    assert first.options == ["Carbamazepine", "Phenytoin", "Ethosuximide", "Phenobarbitone"]
    assert first.answer == "C" and first.explanation == "Ethosuximide blocks T-type calcium channels."
    assert second.answer == "A" and second.explanation is None
    assert [r.id for r in dev] == ["medmcqa-validation-3f6c", "medmcqa-validation-7a2d"]
    assert [r.origin for r in dev] == ["medmcqa/dev.json:1", "medmcqa/dev.json:2"]
    assert first.meta == {"subject": "Medicine", "topic": "Topic"}
    assert all(not r.issues for r in records)


# --------------------------------------------------------------------------------------------- PubMedQA
def test_pubmedqa_fields(tmp_path):
    doc = {"29384712": pubmedqa_item("Does iron reduce anaemia?", ["Anaemia is common.", "Iron halved it."], "yes",
                                     "Yes, iron reduces anaemia."),
           "11223344": pubmedqa_item("Does coffee cause cancer?", ["No link was found."], "no"),
           "55667788": pubmedqa_item("Is drug X better?", ["Results were mixed."], "maybe")}
    write_source(tmp_path, "pubmedqa", doc)
    records = read_records(tmp_path, "pubmedqa")
    assert [r.id for r in records] == ["pubmedqa-test-29384712", "pubmedqa-test-11223344", "pubmedqa-test-55667788"]
    iron, coffee, drug = records
    assert iron.question == "Does iron reduce anaemia?"
    assert iron.context == "Anaemia is common. Iron halved it."
    assert iron.options == ["yes", "no", "maybe"] and iron.answer == "A"
    assert iron.explanation == "Yes, iron reduces anaemia."
    assert coffee.answer == "B" and drug.answer == "C" and coffee.explanation is None
    assert [r.origin for r in records] == [f"pubmedqa/ori_pqal.json:$.{p}" for p in doc]
    assert iron.meta == {"year": "2018"} and all(not r.issues for r in records)


# --------------------------------------------------------------------------------------------- ids
CONTENT_HASHED = {
    "medqa": ("medqa", MEDQA_ROWS),
    "bionli": ("bionli", BIONLI_ROWS),
    "expertqa_med": ("expertqa", EXPERTQA_ROWS),
    "expertqa_bio": ("expertqa", EXPERTQA_ROWS),
}


@pytest.mark.parametrize("dataset", sorted(CONTENT_HASHED))
def test_content_hash_ids_stable(tmp_path, dataset):
    """Sources without their own ids get content-hash ids: the same on every read and in any file order."""
    source, rows = CONTENT_HASHED[dataset]
    write_source(tmp_path / "a", source, rows)
    write_source(tmp_path / "b", source, list(reversed(rows)))
    key = "premise" if source == "bionli" else "question"
    once = {r.id: getattr(r, key) for r in read_records(tmp_path / "a", dataset)}
    again = {r.id: getattr(r, key) for r in read_records(tmp_path / "a", dataset)}
    reordered = {r.id: getattr(r, key) for r in read_records(tmp_path / "b", dataset)}
    assert len(once) >= 2 and once == again == reordered
    # an edit of the content is a different item
    field = "supp_set" if source == "bionli" else "question"
    write_source(tmp_path / "c", source, [dict(row, **{field: row[field] + " (edited)"}) for row in rows])
    changed = {r.id for r in read_records(tmp_path / "c", dataset)}
    assert len(changed) == len(once) and not changed & set(once)


@pytest.mark.parametrize("dataset", ["medexpqa", "mmlu_pro", "mednli", "medmcqa", "pubmedqa", "headqa", "liveqa"])
def test_native_ids_stable(tmp_path, dataset):
    from .conftest import default_content

    source = dataset
    content = default_content(source)
    write_source(tmp_path / "a", source, content)
    first = [(r.id, r.origin) for r in read_records(tmp_path / "a", dataset)]
    second = [(r.id, r.origin) for r in read_records(tmp_path / "a", dataset)]
    assert first and first == second
    assert len({i for i, _ in first}) == len(first)


# --------------------------------------------------------------------------------------------- the sample
def test_sample_sources_read_and_screen_as_documented():
    """globmed/sample/README.md documents the deliberate screening cases of the sample."""
    documented_read = {"medqa": 11, "headqa": 11, "medexpqa": 8, "mmlu_pro": 12, "mednli": 9, "bionli": 8,
                       "liveqa": 8, "expertqa_bio": 8, "expertqa_med": 10, "medmcqa": 8, "pubmedqa": 8}
    documented_removed = {"medqa": {"disorganization/duplicate_item": 1}, "headqa": {"incompleteness/needs_image": 1},
                          "mmlu_pro": {"irrelevance/off_topic": 2}, "expertqa_med": {"irrelevance/off_topic": 2}}
    removals = {}
    for name in registry.names():
        spec = registry.get(name)
        screener = Screener(spec)
        try:
            kept = list(screener(read_dataset(SAMPLE_SOURCES, spec)))
        except SourceError as exc:  # pragma: no cover - the failure message is the point
            pytest.fail(f"sample source of {name} does not read: {exc}")
        summary = screener.summary()
        assert summary["read"] == documented_read[name], name
        assert summary["by_check"] == documented_removed.get(name, {}), name
        assert len(kept) == summary["kept"] == summary["read"] - sum(summary["by_rule"].values())
        removals[name] = screener.removals
    (dup,) = removals["medqa"]
    assert dup.origin.endswith("phrases_no_exclude_test.jsonl:11") and dup.reason.endswith(
        "phrases_no_exclude_test.jsonl:3)")
    (image,) = removals["headqa"]
    assert image.field == "image" and "images/2019_1_B_12.png" in image.reason
    assert sorted(r.reason.split("=")[1].split(" ")[0] for r in removals["mmlu_pro"]) == ["'law'", "'physics'"]
    assert sorted(r.reason.split("=")[1].split(" is not")[0] for r in removals["expertqa_med"]) == [
        "'Engineering and Technology'", "'Law'"]
    # the 8 Biology rows are ExpertQA-Bio's and none of them is screened out
    assert removals["expertqa_bio"] == []
