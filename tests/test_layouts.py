"""Each release's layout, as its archive, GitHub repository or Hub copy unpacks: what is read (and as
which split), what is left out and why, and what `globmed data sources` says.

The folder trees are the releases' own (file names and nesting as documented by each release or its
public loader, named per test); the items in them are written here, in each source's format. Readers on
real released text: tests/test_real_sources.py.
"""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from globmed import registry
from globmed.screening import Screener
from globmed.sources import read_dataset
from globmed.sources.layout import locate

from .conftest import (
    expertqa_item,
    headqa_doc,
    headqa_item,
    liveqa_xml,
    medexpqa_item,
    medmcqa_item,
    medqa_item,
    mmlu_item,
    read_records,
    write_source,
)


def located(root, name):
    return locate(root, registry.get(name))


# --------------------------------------------------------------------------------------------- MedQA
MEDQA_US = "medqa/data_clean/questions/US"


def medqa_release(root, four_options=True):
    """jind11/MedQA's archive (README: questions/{US,Mainland,Taiwan}, a 4_options version of US, metamap
    phrases, XX_qbank.jsonl with every question, textbooks)."""
    five = ["Aspirin", "Heparin", "Warfarin", "Clopidogrel", "Alteplase"]
    for split in ("train", "dev", "test"):
        if four_options:
            write_source(root, "medqa", [medqa_item(f"4-option {split} question?", five[:4], "B")],
                         path=f"{MEDQA_US}/4_options/phrases_no_exclude_{split}.jsonl")
        write_source(root, "medqa", [medqa_item(f"5-option {split} question?", five, "E")],
                     path=f"{MEDQA_US}/{split}.jsonl")
        write_source(root, "medqa", [{"phrases": ["x"]}], path=f"{MEDQA_US}/metamap/phrases_{split}.jsonl")
        write_source(root, "medqa", [medqa_item("中文问题?", five, "A")],
                     path=f"medqa/data_clean/questions/Mainland/{split}.jsonl")
    write_source(root, "medqa", [medqa_item("Any question?", five, "A")], path=f"{MEDQA_US}/US_qbank.jsonl")
    write_source(root, "medqa", "Anatomy text.", path="medqa/data_clean/textbooks/en/Anatomy_Gray.txt")


def test_medqa_archive_reads_the_4_option_split_files(tmp_path):
    medqa_release(tmp_path)
    loc = located(tmp_path, "medqa")
    assert [(f.rel, f.split) for f in loc.files] == [
        (f"{MEDQA_US}/4_options/phrases_no_exclude_{s}.jsonl", split)
        for s, split in (("dev", "validation"), ("test", "test"), ("train", "train"))]
    reasons = dict(loc.skipped)
    assert "same data in another layout" in reasons[f"{MEDQA_US}/test.jsonl"]
    assert "without the official" in reasons[f"{MEDQA_US}/US_qbank.jsonl"]
    assert "MetaMap" in reasons[f"{MEDQA_US}/metamap/phrases_test.jsonl"]
    assert "not MedQA-USMLE" in reasons["medqa/data_clean/questions/Mainland/test.jsonl"]
    assert "textbook" in reasons["medqa/data_clean/textbooks/en/Anatomy_Gray.txt"]
    assert loc.unused == []
    questions = {r.question: r.split for r in read_dataset(tmp_path, registry.get("medqa"), loc)}
    assert questions == {"4-option train question?": "train", "4-option dev question?": "validation",
                         "4-option test question?": "test"}


def test_medqa_5_option_files_are_read_when_4_options_is_absent(tmp_path):
    medqa_release(tmp_path, four_options=False)
    loc = located(tmp_path, "medqa")
    assert [f.rel for f in loc.files] == [f"{MEDQA_US}/{s}.jsonl" for s in ("dev", "test", "train")]
    assert "5-option" in loc.layout.note
    screener = Screener(loc.screening_spec)  # 5 options are this layout's shape, not broken options
    kept = list(screener(read_dataset(tmp_path, registry.get("medqa"), loc)))
    assert len(kept) == 3 and all(r.options[r.answer_index] == "Alteplase" for r in kept)
    # the 4-option files still allow 4 only
    assert registry.get("medqa").options == 4


# --------------------------------------------------------------------------------------------- HEAD-QA
def test_headqa_archive_spanish_source_all_splits_and_official_english(tmp_path):
    """The HEAD-QA archive (HF head_qa loading script: _DIRS = {"es": "HEAD", "en": "HEAD_EN"},
    files {train,dev,test}_{dir}.json)."""
    for split in ("train", "dev", "test"):
        es = headqa_doc({"Cuaderno_2013_1_B": [headqa_item(1, f"¿Pregunta de {split}?", ["a", "b", "c", "d"], 2)]})
        en = headqa_doc({"Cuaderno_2013_1_B": [headqa_item(1, f"{split} question?", ["a", "b", "c", "d"], 2)]})
        write_source(tmp_path, "headqa", es, path=f"headqa/HEAD/{split}_HEAD.json")
        write_source(tmp_path, "headqa", en, path=f"headqa/HEAD_EN/{split}_HEAD_EN.json")
    loc = located(tmp_path, "headqa")
    assert {f.rel: f.split for f in loc.files} == {"headqa/HEAD/train_HEAD.json": "train",
                                                  "headqa/HEAD/dev_HEAD.json": "validation",
                                                  "headqa/HEAD/test_HEAD.json": "test"}
    assert sorted(f.rel for f in loc.official["en"]) == [f"headqa/HEAD_EN/{s}_HEAD_EN.json" for s in ("dev", "test", "train")]
    records = read_records(tmp_path, "headqa")
    assert {r.split: r.question for r in records} == {"train": "¿Pregunta de train?", "validation": "¿Pregunta de dev?",
                                                      "test": "¿Pregunta de test?"}
    assert all(r.language == "es" for r in records)


def test_headqa_en_folder_with_head_names_is_the_english_version_not_the_source(tmp_path):
    """HEAD_EN/ holding files named {split}_HEAD.json: still the official English version."""
    doc = headqa_doc({"C": [headqa_item(1, "¿Pregunta?", ["a", "b", "c", "d"], 1)]})
    write_source(tmp_path, "headqa", doc, path="headqa/HEAD/test_HEAD.json")
    write_source(tmp_path, "headqa", doc, path="headqa/HEAD_EN/test_HEAD.json")
    loc = located(tmp_path, "headqa")
    assert [f.rel for f in loc.files] == ["headqa/HEAD/test_HEAD.json"]
    assert [f.rel for f in loc.official["en"]] == ["headqa/HEAD_EN/test_HEAD.json"]


# --------------------------------------------------------------------------------------------- MedExpQA
def medexpqa_rows(lang, answer=1):
    return [medexpqa_item(i, f"[{lang}] case {i}?", [f"{lang} {k}" for k in "abcde"], answer, lang=lang) for i in (1, 2)]


@pytest.mark.parametrize("layout", ["data/{lang}/{split}.{lang}.casimedicos.rag.jsonl",   # the Hub copy today
                                    "{split}.{lang}.casimedicos.rag.jsonl",              # its first upload
                                    "{split}.{lang}.casimedicos.jsonl"])                 # the set without RAG
def test_medexpqa_layouts_spanish_source_and_official_translations(tmp_path, layout):
    """HiTZ/MedExpQA file names: `split.lang.dataset_name.type.jsonl` (hitz-zentroa/MedExpQA dataset.py)."""
    for lang in ("es", "en", "fr", "it"):
        for split in ("train", "dev", "test"):
            write_source(tmp_path, "medexpqa", medexpqa_rows(lang),
                         path="medexpqa/" + layout.format(lang=lang, split=split))
    loc = located(tmp_path, "medexpqa")
    assert {f.split for f in loc.files} == {"train", "validation", "test"}
    assert all(".es." in f.rel for f in loc.files)
    assert sorted(loc.official) == ["en", "fr", "it"]
    assert all(f".{lang}." in f.rel for lang, files in loc.official.items() for f in files)
    records = read_records(tmp_path, "medexpqa")
    assert {r.question for r in records} == {"[es] case 1?", "[es] case 2?"} and len(records) == 6


def test_medexpqa_english_only_is_not_a_source(tmp_path, cli):
    write_source(tmp_path, "medexpqa", medexpqa_rows("en"), path="medexpqa/data/en/test.en.casimedicos.rag.jsonl")
    run = cli("data", "sources", "--sources", tmp_path, "--datasets", "medexpqa", "--json")
    (report,) = json.loads(run.stdout)
    assert report["found"] == [] and list(report["official_translations"]) == ["en"]
    assert any("only official translations" in step and "'es'" in step for step in report["todo"])


# --------------------------------------------------------------------------------------------- MMLU-Pro
def mmlu_parquet(path, rows):
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def test_mmlu_pro_hub_parquet_layout(tmp_path):
    """TIGER-Lab/MMLU-Pro on the Hub: data/test-00000-of-00001.parquet and data/validation-00000-of-00001.parquet."""
    mmlu_parquet(tmp_path / "mmlu_pro/data/test-00000-of-00001.parquet",
                 [mmlu_item(1, "Test health question?", ["a", "b", "c"], 1)])
    mmlu_parquet(tmp_path / "mmlu_pro/data/validation-00000-of-00001.parquet",
                 [mmlu_item(2, "Few-shot example?", ["a", "b", "c", "d"], 3)])
    records = read_records(tmp_path, "mmlu_pro")
    assert [(r.split, r.answer, r.origin) for r in records] == [
        ("test", "B", "mmlu_pro/data/test-00000-of-00001.parquet:row 1"),
        ("validation", "D", "mmlu_pro/data/validation-00000-of-00001.parquet:row 1")]


def test_mmlu_pro_na_padding_is_dropped_as_the_authors_loader_does(tmp_path):
    """TIGER-AI-Lab/MMLU-Pro evaluate_from_local.py `preprocess` drops options equal to "N/A"."""
    rows = [mmlu_item(1, "Padded?", ["w", "x", "N/A", "y", "N/A"], 3),   # answer y: D in the file, C once padding goes
            mmlu_item(2, "Answer is padding?", ["w", "N/A", "x"], 1)]
    write_source(tmp_path, "mmlu_pro", rows)
    padded, broken = read_records(tmp_path, "mmlu_pro")
    assert padded.options == ["w", "x", "y"] and padded.answer == "C" and padded.issues == []
    assert broken.answer is None and [i.check for i in broken.issues] == ["answer_not_in_options"]


# --------------------------------------------------------------------------------------------- MedMCQA
def test_medmcqa_release_reads_train_and_dev_not_the_unanswered_test(tmp_path):
    """The release's archive: train.json, dev.json, test.json (JSON lines; the test set has no cop)."""
    write_source(tmp_path, "medmcqa", [medmcqa_item("t1", "Train?", ["a", "b", "c", "d"], 1)], path="medmcqa/train.json")
    write_source(tmp_path, "medmcqa", [medmcqa_item("d1", "Dev?", ["a", "b", "c", "d"], 4)], path="medmcqa/dev.json")
    test_row = {k: v for k, v in medmcqa_item("x1", "Test?", ["a", "b", "c", "d"], None).items() if k != "cop"}
    write_source(tmp_path, "medmcqa", [test_row], path="medmcqa/test.json")
    loc = located(tmp_path, "medmcqa")
    assert {f.rel: f.split for f in loc.files} == {"medmcqa/train.json": "train", "medmcqa/dev.json": "validation"}
    assert "no answer keys" in dict(loc.skipped)["medmcqa/test.json"]
    assert {r.id: r.answer for r in read_records(tmp_path, "medmcqa")} == {
        "medmcqa-validation-d1": "D", "medmcqa-train-t1": "A"}   # cop counts from 1 (dataset.py: cop - 1)
    assert registry.get("medmcqa").eval_split == "validation"


def test_medmcqa_hub_parquet_counts_cop_from_zero(tmp_path):
    """openlifescienceai/medmcqa on the Hub: data/{train,validation,test}-*.parquet, cop a 0-based class (-1 in test)."""
    for split, cop in (("train", 0), ("validation", 3), ("test", -1)):
        mmlu_parquet(tmp_path / f"medmcqa/data/{split}-00000-of-00001.parquet",
                     [medmcqa_item(f"{split}1", f"{split}?", ["a", "b", "c", "d"], cop)])
    loc = located(tmp_path, "medmcqa")
    assert sorted(f.split for f in loc.files) == ["train", "validation"]
    assert {r.split: r.answer for r in read_records(tmp_path, "medmcqa")} == {"train": "A", "validation": "D"}


# --------------------------------------------------------------------------------------------- ExpertQA
def test_expertqa_compiled_file_wins_over_the_split_files(tmp_path):
    rows = [expertqa_item("What treats anaphylaxis?", "Healthcare / Medicine", "Adrenaline [1].")]
    write_source(tmp_path, "expertqa", rows, path="expertqa/data/r2_compiled_anon.jsonl")
    for split in ("train", "val", "test"):
        write_source(tmp_path, "expertqa", rows, path=f"expertqa/data/lfqa/rand_{split}.jsonl")
    loc = located(tmp_path, "expertqa_med")
    assert [(f.rel, f.split) for f in loc.files] == [("expertqa/data/r2_compiled_anon.jsonl", "test")]
    assert all("another layout" in dict(loc.skipped)[f"expertqa/data/lfqa/rand_{s}.jsonl"] for s in ("train", "val", "test"))
    (record,) = read_records(tmp_path, "expertqa_med")
    assert record.answer == "Adrenaline."  # citation marker removed


# --------------------------------------------------------------------------------------------- LiveQA
def test_liveqa_repository_layout(tmp_path):
    xml = liveqa_xml([{"qid": "TQ1", "subject": "s", "message": "Question?", "answers": ["A."]}])
    write_source(tmp_path, "liveqa", xml, path="liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test.xml")
    write_source(tmp_path, "liveqa", xml, path="liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml")
    write_source(tmp_path, "liveqa", xml.replace("TQ1", "Q1"), path="liveqa/TrainingDatasets/TREC-2017-LiveQA-Medical-Train-1.xml")
    assert [r.id for r in read_records(tmp_path, "liveqa")] == ["liveqa-test-TQ1"]


def test_liveqa_tag_spellings_are_one_reader_not_special_cases(tmp_path):
    """Upper case, the released mixed case and the <RefAnswer> variant are the same tags."""
    xml = ('<?xml version="1.0"?><LiveQA><NLM-QUESTION qid="A"><ORIGINAL-QUESTION><SUBJECT>vaccines</SUBJECT>'
           '<MESSAGE>Is the flu shot safe?</MESSAGE></ORIGINAL-QUESTION><REFERENCEANSWERS><REFANSWER>'
           '<ANSWER>Yes.</ANSWER></REFANSWER><ReferenceAnswer><ANSWER>Mostly.</ANSWER></ReferenceAnswer>'
           '</REFERENCEANSWERS></NLM-QUESTION></LiveQA>')
    write_source(tmp_path, "liveqa", xml, path="liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test.xml")
    (record,) = read_records(tmp_path, "liveqa")
    assert (record.question, record.answer, record.meta["other_answers"]) == (
        "vaccines. Is the flu shot safe?", "Yes.", ["Mostly."])


# --------------------------------------------------------------------------------------------- PubMedQA
def test_pubmedqa_official_test_ids_split_the_expert_labelled_set(tmp_path):
    from .conftest import pubmedqa_item

    doc = {str(p): pubmedqa_item(f"Q{p}?", ["C."], "yes") for p in (11, 22, 33, 44)}
    write_source(tmp_path, "pubmedqa", doc, path="pubmedqa/data/ori_pqal.json")
    (tmp_path / "pubmedqa/data/test_ground_truth.json").write_text(json.dumps({"22": "yes", "44": "yes"}))
    assert [r.id for r in read_records(tmp_path, "pubmedqa")] == [
        "pubmedqa-train-11", "pubmedqa-test-22", "pubmedqa-train-33", "pubmedqa-test-44"]
    (tmp_path / "pubmedqa/data/test_ground_truth.json").write_text(json.dumps({"99": "no"}))
    with pytest.raises(Exception, match="not in ori_pqal.json"):
        read_records(tmp_path, "pubmedqa")


# --------------------------------------------------------------------------------------------- BioNLI
def test_bionli_perturbation_categories_are_contradictions(tmp_path):
    """StonyBrookNLP/BioNLI src/classifier.py: labels_map = {'pos': 1}, every other label_cat 0."""
    (tmp_path / "bionli").mkdir()
    (tmp_path / "bionli/test.csv").write_text(
        "pmid,supp_set,conclusion,label_cat\n1,Premise.,Original conclusion.,pos\n1,Premise.,Swapped.,SEN\n"
        "1,Premise.,Numbers.,swap_number\n1,Premise.,Odd.,mystery\n", encoding="utf-8")
    records = read_records(tmp_path, "bionli")
    assert [r.label for r in records] == ["entailment", "contradiction", "contradiction", None]
    assert [i.check for i in records[3].issues] == ["unknown_label"]  # an unknown category is reported, not guessed


# --------------------------------------------------------------------------------------------- data sources
def test_data_sources_says_what_to_do_when_nothing_matched(tmp_path, cli):
    write_source(tmp_path, "medqa", [medqa_item("q?", ["a", "b", "c", "d"], "A")], path="medqa/questions.jsonl")
    run = cli("data", "sources", "--sources", tmp_path, "--datasets", "medqa,pubmedqa")
    assert run.returncode == 0, str(run)
    out = run.output
    assert "medqa (MedQA (USMLE, 4 options), source language en): no files" in out
    assert "matching no pattern: medqa/questions.jsonl" in out
    assert "medqa/**/US/4_options/phrases_no_exclude_{split}.jsonl" in out
    assert f"to do: get the data archive linked from https://github.com/jind11/MedQA (Google Drive); unpack it under {tmp_path}/medqa/" in out
    assert f"{tmp_path}/pubmedqa/ori_pqal.json" in out
    run = cli("data", "sources", "--sources", tmp_path / "nowhere")
    assert run.returncode != 0 and "sources folder not found" in run.output


def test_data_sources_on_the_sample(cli):
    run = cli("data", "sources", "--sources", "sample", "--json")
    reports = {r["dataset"]: r for r in json.loads(run.stdout)}
    assert set(reports) == set(registry.names())
    assert all(r["found"] and not r["unmatched"] for r in reports.values())
    assert reports["medexpqa"]["official_translations"]["en"][0]["file"] == "medexpqa/data/en/test.en.casimedicos.rag.jsonl"


# --------------------------------------------------------------------------------------------- the registry
@pytest.mark.parametrize("entry,message", [
    ('  files: [{patern: "x/*.jsonl"}]\n', "each item of 'files' must be a glob string or a mapping with 'pattern'"),
    ('  files: [{pattern: "x/*.jsonl", splits: [test]}]\n', "unknown field(s) splits in 'files'"),
    ('  files: ["x/*.jsonl"]\n  eval_split: dev\n', "field 'eval_split' must be one of"),
    ('  files: ["x/*.jsonl"]\n  official: {en: ["x/*.en.jsonl"]}\n', "'en' is the source language, not a translation"),
    ('  files: ["x/*.jsonl"]\n  skip: [{pattern: "x/a"}]\n', "each item of 'skip' must be {pattern: ..., reason: ...}"),
])
def test_layout_fields_of_a_registry_entry_are_checked(tmp_path, monkeypatch, entry, message):
    extra = tmp_path / "more.yaml"
    extra.write_text("mine:\n  title: Mine\n  task: mcqa\n  reader: medqa\n  language: en\n  licence: mit\n"
                     "  redistributable: true\n" + entry, encoding="utf-8")
    monkeypatch.setenv("GLOBMED_REGISTRY_PATH", str(extra))
    registry.reload()
    try:
        with pytest.raises(Exception) as err:
            registry.get("mine")
        assert str(err.value).startswith(f"{extra}:") and message in str(err.value), str(err.value)
    finally:
        monkeypatch.delenv("GLOBMED_REGISTRY_PATH")
        registry.reload()
