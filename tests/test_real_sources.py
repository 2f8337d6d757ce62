"""The readers on real released files: verbatim excerpts of the public GitHub copies of LiveQA, PubMedQA
and ExpertQA (the sources with a public copy of their data on GitHub; see tests/fixtures/README.md).

Each excerpt lies at its release's own relative path under tests/fixtures/<source>/, so tests/fixtures is
a sources folder as a user would unpack it. What the readers make of it is checked field by field
against an independent parse of the same file (ElementTree for the XML, json for the rest) and, for
ExpertQA, against the release's own long-form QA conversion of the same questions.

The excerpts are cut by dataset_scripts/cut_fixtures.py from the pinned commits and are not committed
(the repositories' content stays out of this project's history); without them these tests are skipped.
tests/fixtures/manifest.json holds each excerpt's SHA-256: a fixture that differs from what the pinned
rule cuts fails instead of being tested.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from globmed import registry
from globmed.errors import SourceError
from globmed.screening import Screener
from globmed.sources import read_dataset
from globmed.sources.layout import locate

from .conftest import ROOT, read_records

FIXTURES = Path(__file__).parent / "fixtures"
MANIFEST = json.loads((FIXTURES / "manifest.json").read_text(encoding="utf-8"))
LIVEQA_TEST = "liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test.xml"
PUBMEDQA = "pubmedqa/data/ori_pqal.json"
PUBMEDQA_TRUTH = "pubmedqa/data/test_ground_truth.json"
EXPERTQA_TEST, EXPERTQA_VAL = "expertqa/data/lfqa/rand_test.jsonl", "expertqa/data/lfqa/rand_val.jsonl"
EXPERTQA_CONVERTED = "expertqa/data/lfqa/rand_lfqa_test.json"
LFS_POINTER = ("expertqa/lfs-pointer/"
               "r2_compiled_out_corrected_revised_atomic_w_evidences_factscores_anon.jsonl")


def fixture(rel: str) -> Path:
    """The excerpt, once checked to be exactly what its manifest entry describes."""
    path = FIXTURES / rel
    if not path.exists():
        pytest.skip(f"real-data excerpt {rel} not cut: run `python dataset_scripts/cut_fixtures.py --repos DIR` "
                    f"with a clone of {MANIFEST[rel]['repo']} in DIR (or `--mirrors DIR`; "
                    "see tests/fixtures/README.md)")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    assert digest == MANIFEST[rel]["sha256"], f"{path} is not the excerpt of the manifest: cut it again"
    return path


def squeeze(text: str | None) -> str | None:
    return " ".join(text.split()) if text else None


# --------------------------------------------------------------------------------------------- LiveQA
def liveqa_reference(path: Path) -> list[dict]:
    """The questions as ElementTree reads the file, with the tag names the release uses."""
    out = []
    for q in ET.parse(path).getroot().iter("NLM-QUESTION"):
        answers = [a for a in q.find("ReferenceAnswers")]
        out.append({"qid": q.get("qid"), "subject": squeeze(q.findtext("Original-Question/SUBJECT")),
                    "message": squeeze(q.findtext("Original-Question/MESSAGE")),
                    "paraphrase": squeeze(q.findtext("NIST-PARAPHRASE")),
                    "answer_tags": [a.tag for a in answers],
                    "answers": [squeeze(a.findtext("ANSWER")) for a in answers]})
    return out


def test_liveqa_real_test_file_field_by_field():
    path = fixture(LIVEQA_TEST)
    reference = liveqa_reference(path)
    records = read_records(FIXTURES, "liveqa")
    assert len(records) == len(reference) == 30
    # the excerpt holds both spellings of the released file: <RefAnswer> (TQ1) and <ReferenceAnswer>
    assert reference[0]["answer_tags"] == ["RefAnswer"] * 3
    assert {t for r in reference[1:] for t in r["answer_tags"]} == {"ReferenceAnswer"}
    lines = path.read_text(encoding="utf-8").splitlines()
    for record, ref in zip(records, reference):
        assert record.id == f"liveqa-test-{ref['qid']}" and record.split == "test"
        subject, message = ref["subject"], ref["message"]
        expected = message if not subject or subject.lower() in message.lower() else f"{subject}. {message}"
        assert record.question == expected
        assert record.answer == ref["answers"][0]
        assert record.meta["other_answers"] == ref["answers"][1:]
        assert record.meta["subject"] == subject and record.meta.get("paraphrase") == ref["paraphrase"]
        line = int(record.origin.rsplit(":", 1)[1])
        assert record.origin.startswith(LIVEQA_TEST) and f'qid="{ref["qid"]}"' in lines[line - 1]
        assert record.issues == []
    tq1 = records[0]  # its subject is part of its message, so it is not repeated; three reference answers
    assert tq1.id == "liveqa-test-TQ1" and tq1.question == reference[0]["message"] and len(tq1.meta["other_answers"]) == 2
    screener = Screener(registry.get("liveqa"))
    assert len(list(screener(iter(records)))) == 30 and screener.removals == []


def test_liveqa_release_folder_reads_the_test_file_once():
    """The repository's folders as they are: the summaries twin, the NIST judgments and the training
    questions lie beside the test file and are not read (each with its reason)."""
    fixture(LIVEQA_TEST)
    located = locate(FIXTURES, registry.get("liveqa"))
    assert [f.rel for f in located.files] == [LIVEQA_TEST]
    skipped = dict(located.skipped)
    assert "same test questions" in skipped["liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml"]
    assert "training questions" in skipped["liveqa/TrainingDatasets/TREC-2017-LiveQA-Medical-Train-1.xml"]
    assert "judgments" in skipped["liveqa/TestDataset/TREC-2017-LiveQA-Medical-qrels-NIST-692.txt"]
    assert located.unused == []
    ids = [r.id for r in read_dataset(FIXTURES, registry.get("liveqa"))]
    assert len(ids) == len(set(ids)) == 30


# --------------------------------------------------------------------------------------------- PubMedQA
def test_pubmedqa_real_file_official_test_split_field_by_field():
    doc = json.loads(fixture(PUBMEDQA).read_text(encoding="utf-8"))
    truth = json.loads(fixture(PUBMEDQA_TRUTH).read_text(encoding="utf-8"))
    records = read_records(FIXTURES, "pubmedqa")
    assert [r.id.rsplit("-", 1)[1] for r in records] == list(doc)
    for record in records:
        pmid = record.id.rsplit("-", 1)[1]
        item = doc[pmid]
        assert record.split == ("test" if pmid in truth else "train")
        assert record.id == f"pubmedqa-{record.split}-{pmid}"
        assert record.question == item["QUESTION"]
        assert record.context == " ".join(item["CONTEXTS"])
        assert record.options == ["yes", "no", "maybe"]
        assert record.options[record.answer_index] == item["final_decision"]
        assert record.explanation == item["LONG_ANSWER"]
        assert record.meta == {"year": item["YEAR"]} and record.issues == []
        if pmid in truth:  # the release's ground truth agrees with the labels in ori_pqal.json
            assert truth[pmid] == item["final_decision"]
    assert sum(r.split == "test" for r in records) == len(truth) == 20
    assert sum(r.split == "train" for r in records) == 20


def test_pubmedqa_without_the_ground_truth_file_is_an_error(tmp_path):
    """Publishing all 1,000 expert-labelled items as test was the bug: without the official ids, refuse."""
    target = tmp_path / PUBMEDQA
    target.parent.mkdir(parents=True)
    shutil.copy(fixture(PUBMEDQA), target)
    with pytest.raises(SourceError, match="test_ground_truth.json"):
        read_records(tmp_path, "pubmedqa")


# --------------------------------------------------------------------------------------------- ExpertQA
def _without_citations(text: str) -> str:
    """Whitespace collapsed and no space before punctuation: how the two conversions may differ in spacing."""
    return re.sub(r"\s+([.,;:!?)])", r"\1", " ".join(text.split()))


def test_expertqa_real_split_files_field_by_field():
    rows = [json.loads(line) for line in fixture(EXPERTQA_TEST).read_text(encoding="utf-8").splitlines()]
    rows += [json.loads(line) for line in fixture(EXPERTQA_VAL).read_text(encoding="utf-8").splitlines()]
    bio, med = read_records(FIXTURES, "expertqa_bio"), read_records(FIXTURES, "expertqa_med")
    assert [r.question for r in bio] == [r["question"] for r in rows if r["metadata"]["field"] == "Biology"]
    assert [r.question for r in med] == [r["question"] for r in rows if r["metadata"]["field"] != "Biology"]
    assert len(bio) >= 3 and sum(r.meta["metadata"]["field"] == "Healthcare / Medicine" for r in med) >= 10
    by_question = {r["question"]: r for r in rows}
    for record in bio + med:
        row = by_question[record.question]
        assert record.meta == {"metadata": row["metadata"]}
        (system,) = row["answers"].values()
        revised = system["revised_answer_string"] or system["answer_string"]
        assert not re.search(r"\[\d+\]", record.answer)
        assert _without_citations(record.answer) == _without_citations(re.sub(r"\[\d+\]", "", revised))
    splits = {r.question: r.split for r in bio + med}
    assert {splits[r["question"]] for r in rows[:28]} == {"test"} and {splits[r["question"]] for r in rows[28:]} == {"validation"}


def test_expertqa_reference_answers_match_the_releases_own_conversion():
    """data/lfqa/rand_lfqa_test.json is the release's long-form QA version of the same questions (one row
    per answer, citation markers removed): our reference answers are the same text."""
    converted = [json.loads(line) for line in fixture(EXPERTQA_CONVERTED).read_text(encoding="utf-8").splitlines()]
    fixture(EXPERTQA_TEST)
    records = {r.question: r for name in ("expertqa_bio", "expertqa_med") for r in read_records(FIXTURES, name)}
    assert len(converted) == 28
    for row in converted:
        assert _without_citations(records[row["question"]].answer) == _without_citations(row["answer"])


def test_expertqa_release_layout_and_lfs_pointer(tmp_path):
    fixture(EXPERTQA_TEST)
    located = locate(FIXTURES, registry.get("expertqa_med"))
    assert [(f.rel, f.split) for f in located.files] == [(EXPERTQA_TEST, "test"), (EXPERTQA_VAL, "validation")]
    skipped = dict(located.skipped)
    assert "domain split" in skipped["expertqa/data/lfqa/domain_test.jsonl"]
    assert "derived" in skipped[EXPERTQA_CONVERTED]
    # a clone without Git LFS holds a pointer where r2_compiled_anon.jsonl should be: a clear error, not bad rows
    target = tmp_path / "expertqa" / "data" / "r2_compiled_anon.jsonl"
    target.parent.mkdir(parents=True)
    shutil.copy(fixture(LFS_POINTER), target)
    with pytest.raises(SourceError, match="Git LFS pointer"):
        read_records(tmp_path, "expertqa_med")


# --------------------------------------------------------------------------------------------- data sources
def test_data_sources_lists_the_real_release_folders(cli):
    fixture(LIVEQA_TEST), fixture(PUBMEDQA), fixture(EXPERTQA_TEST)
    run = cli("data", "sources", "--sources", FIXTURES, "--datasets", "liveqa,pubmedqa,expertqa_bio", "--json")
    assert run.returncode == 0, str(run)
    reports = {r["dataset"]: r for r in json.loads(run.stdout)}
    assert reports["liveqa"]["found"] == [{"file": LIVEQA_TEST, "split": "test"}]
    assert reports["pubmedqa"]["companions"] == [PUBMEDQA_TRUTH]
    assert reports["expertqa_bio"]["note"] and "random" in reports["expertqa_bio"]["note"]
    assert all("todo" not in r for r in reports.values())


# --------------------------------------------------------------------------------------------- the cut script
@functools.lru_cache(maxsize=1)
def cut_script():
    spec = importlib.util.spec_from_file_location("cut_fixtures", ROOT / "dataset_scripts" / "cut_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _git(*args: str, cwd: Path | None = None) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t", "GIT_COMMITTER_NAME": "t",
           "GIT_COMMITTER_EMAIL": "t@t", "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1"}
    return subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True, text=True).stdout.strip()


def test_the_cut_script_reads_clones_and_bare_mirrors_and_refuses_another_text(tmp_path):
    """A real git repository (a clone named after the repository, and its bare mirror as owner+name/repo):
    the labelled lines are cut from the pinned commit, and a question that is not the labelled one is refused."""
    cut = cut_script()
    clone = tmp_path / "repos" / "copy"
    clone.mkdir(parents=True)
    rows = [{"question": f"Which finding is shown in case {i}?", "options": {"A": "x", "B": "y"}} for i in range(1, 5)]
    rows[3] = {"question": "Which vitamin is low?", "choices": ["A. B12", "B. C"]}
    (clone / "data.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    _git("init", "-q", cwd=clone), _git("add", "data.jsonl", cwd=clone), _git("commit", "-qm", "data", cwd=clone)
    commit = _git("rev-parse", "HEAD", cwd=clone)
    (clone / "data.jsonl").write_text("changed later\n", encoding="utf-8")  # the pinned commit is read, not the tree
    _git("commit", "-qam", "later", cwd=clone)
    _git("clone", "-q", "--bare", str(clone), str(tmp_path / "mirrors" / "someone+copy" / "repo"))
    labelled = tmp_path / "labelled.jsonl"
    labels = [{"source": "mine", "line": line, "question_sha256": cut.question_sha256(rows[line - 1]["question"])}
              for line in (4, 2)]
    labelled.write_text("".join(json.dumps(label) + "\n" for label in labels), encoding="utf-8")

    for repos in (cut.Repos(tmp_path / "repos", mirrors=False), cut.Repos(tmp_path / "mirrors", mirrors=True)):
        text = cut.labelled_lines("mine", labelled)(repos.show("someone/copy", commit, "data.jsonl"))
        assert [json.loads(line) for line in text.decode().splitlines()] == [
            {"line": 2, "question": rows[1]["question"], "options": rows[1]["options"]},
            {"line": 4, "question": rows[3]["question"], "options": rows[3]["choices"]}]
    with pytest.raises(cut.CutError, match=r"someone/copy: no mirror under .*someone\+copy/repo/"):
        cut.Repos(tmp_path / "repos", mirrors=True).show("someone/copy", commit, "data.jsonl")

    labels[1]["question_sha256"] = cut.question_sha256("Which finding is shown in case 3?")
    labelled.write_text("".join(json.dumps(label) + "\n" for label in labels), encoding="utf-8")
    raw = cut.Repos(tmp_path / "repos", mirrors=False).show("someone/copy", commit, "data.jsonl")
    with pytest.raises(cut.CutError, match=r"labelled.jsonl:2: question_sha256 .* line 2 of mine"):
        cut.labelled_lines("mine", labelled)(raw)


def test_the_cut_script_check_reports_every_fixture():
    proc = subprocess.run([sys.executable, str(ROOT / "dataset_scripts" / "cut_fixtures.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    states = {rel: state for state, rel in (line.split(None, 1) for line in proc.stdout.splitlines())}
    assert set(states) == set(MANIFEST) and set(states.values()) <= {"ok", "BAD", "absent"}
    for rel, state in states.items():
        path = FIXTURES / rel
        assert state == ("absent" if not path.exists() else
                         "ok" if hashlib.sha256(path.read_bytes()).hexdigest() == MANIFEST[rel]["sha256"] else "BAD")
    assert proc.returncode == (0 if set(states.values()) == {"ok"} else 1)
