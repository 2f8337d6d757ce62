"""A build never loses data quietly, and its output folder behaves like any other file a user makes.

Through the real CLI (`globmed data build`):
- a file in another layout (most rows lack a field the reader needs) stops the build, naming the
  file, the fields expected and the fields the rows have;
- a dataset, or one of its splits, that ends with no rows or loses more than half of them to
  incompleteness/disorganization fails the build with the screening table (removals by design,
  irrelevance, do not count), unless --allow-partial, which records what was built anyway;
- with --datasets all, the datasets without files are listed in their own block with their paths;
- an existing OUT is a one-line error; files follow the umask; the temporary folder of a killed
  build is removed by the next build, never the folder of a build still running.
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import signal
import stat
import subprocess
import time

import pytest

from globmed import registry

from .conftest import (
    BIN,
    ROOT,
    SAMPLE_SOURCES,
    SOURCE_FILES,
    cli_env,
    data_build,
    expertqa_item,
    load_config,
    make_sources,
    medqa_item,
    mmlu_item,
    partial_leftovers,
    write_jsonl,
)

OPTS = ["Aspirin", "Heparin", "Warfarin", "Clopidogrel"]
# A MedQA-style question (written for this test) in the layout of the Hub copy GBaker/MedQA-USMLE-4-options-hf:
# the fields lm-evaluation-harness reads from it (lm_eval/tasks/medqa/preprocess_medqa.py: sent1,
# ending0..ending3, label), not the release's question/options/answer_idx.
VIGNETTE = ("For 4 months a 31-year-old man has had itchy, scaly patches on both elbows. "
            "He is otherwise healthy and uses no regular medicines. His fingernails have small pits. Which of "
            "the following is the most likely diagnosis?")


def hf_medqa_row(i: int) -> dict:
    return {"id": f"train-{i:05d}", "sent1": f"{VIGNETTE} (item {i})", "sent2": "",
            "ending0": "Psoriasis", "ending1": "Atopic dermatitis", "ending2": "Tinea corporis",
            "ending3": "Lichen planus", "label": 0}


def assert_refused(run, out, *words):
    assert run.returncode != 0, str(run)
    assert "Traceback" not in run.output, str(run)
    for word in words:
        assert word in run.output, f"{word!r} not in:\n{run}"
    assert not out.exists() and partial_leftovers(out) == []


# --------------------------------------------------------------------------------------------- schema
def test_a_file_in_another_layout_names_the_fields_expected_and_seen(tmp_path, cli):
    sources = make_sources(tmp_path / "sources", mednli=None)
    write_jsonl(sources / SOURCE_FILES["medqa"], [hf_medqa_row(i) for i in range(12)])
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert_refused(run, out, f"{SOURCE_FILES['medqa']}: most rows lack the field(s) the medqa reader expects",
                   "'answer_idx' (12 of 12 rows)", "'options' (12 of 12 rows)", "'question' (12 of 12 rows)",
                   "'ending0'", "'label'", "'sent1'")
    assert len([line for line in run.stderr.splitlines() if line.strip()]) == 1, run.stderr  # one line


def test_bionli_rows_with_other_field_names_are_a_schema_error_not_incomplete_items(tmp_path, cli):
    """The issue's case: a BioNLI file whose rows name the fields premise/hypothesis/label (as NLI copies
    usually do) instead of the release's supp_set/conclusion/label_cat (the registry's params)."""
    sources = make_sources(tmp_path / "sources", bionli=[
        {"pmid": str(i), "premise": f"Premise {i}.", "hypothesis": f"Hypothesis {i}.", "label": "entailment"}
        for i in range(10)])
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert_refused(run, out, "bionli/test.jsonl", "'supp_set' (10 of 10 rows)", "'conclusion' (10 of 10 rows)",
                   "'label_cat' (10 of 10 rows)", "'premise'", "'hypothesis'", "'label'", "registry's params")


def test_a_few_rows_without_a_field_are_still_screening_entries(tmp_path, cli):
    rows = [medqa_item(f"Question {i}?", OPTS, "A") for i in range(5)]
    rows[2] = {k: v for k, v in rows[2].items() if k != "question"}
    sources = make_sources(tmp_path / "sources", medqa=rows)
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert run.returncode == 0, str(run)
    report = json.loads((out / "screening" / "report.json").read_text(encoding="utf-8"))
    assert [(r["origin"], r["check"], r["field"]) for r in report["removed"]] == [
        (f"{SOURCE_FILES['medqa']}:3", "missing_field", "question")]


# --------------------------------------------------------------------------------------------- losses
def test_a_dataset_that_loses_most_rows_fails_with_the_table_unless_allow_partial(tmp_path, cli):
    rows = [medqa_item(f"Question {i}?", OPTS, "A") for i in range(2)]
    rows += [{**medqa_item(f"Answer out of range {i}?", OPTS, None), "answer_idx": "F"} for i in range(3)]
    sources = make_sources(tmp_path / "sources", medqa=rows, mednli=None)
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert_refused(run, out, "Screening (items removed per rule)", "medqa: 3 of 5 rows removed (incompleteness 3), "
                   "more than half", "--allow-partial", "nothing was written")
    assert "medqa" in run.stderr.split("Screening")[1] and "mednli" in run.stderr.split("Screening")[1]

    run = data_build(cli, sources, out, "--allow-partial")
    assert run.returncode == 0, str(run)
    assert "built with --allow-partial" in run.output and "medqa: 3 of 5 rows removed" in run.output
    manifest = json.loads((out / "globmed.json").read_text(encoding="utf-8"))
    assert manifest["partial"] == ["medqa: 3 of 5 rows removed (incompleteness 3), more than half"]
    assert [r["question"] for r in load_config(out, "medqa.en", cache=tmp_path / "cache")] == ["Question 0?", "Question 1?"]


def test_half_is_allowed_and_removals_by_design_do_not_count(tmp_path, cli):
    """MMLU-Pro: 8 rows outside health (irrelevance) do not count; of the 4 health rows 2 are lost: exactly
    half, which passes. ExpertQA-Med keeps its one medicine row although the shared file has other fields."""
    mmlu = [mmlu_item(100 + i, f"Law question {i}?", [f"o{j}" for j in range(10)], 1, category="law") for i in range(8)]
    mmlu += [mmlu_item(200 + i, f"Health question {i}?", [f"p{j}" for j in range(10)], 2) for i in range(2)]
    mmlu += [mmlu_item(300 + i, f"Broken health question {i}?", [f"q{j}" for j in range(10)], 12) for i in range(2)]
    expertqa = [expertqa_item("What treats anaphylaxis?", "Healthcare / Medicine", "Adrenaline."),
                expertqa_item("What is a ribosome?", "Biology", "A protein factory.")]
    expertqa += [expertqa_item(f"A law question {i}?", "Law", "It depends.") for i in range(4)]
    sources = make_sources(tmp_path / "sources", mmlu_pro=mmlu, expertqa=expertqa)
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert run.returncode == 0, str(run)
    screening = json.loads((out / "globmed.json").read_text(encoding="utf-8"))["screening"]
    assert screening["mmlu_pro"]["by_rule"] == {"incompleteness": 2, "irrelevance": 8, "disorganization": 0}
    assert screening["mmlu_pro"]["kept"] == 2


def test_a_dataset_with_nothing_relevant_ends_with_zero_rows_and_fails(tmp_path, cli):
    mmlu = [mmlu_item(100 + i, f"Law question {i}?", [f"o{j}" for j in range(10)], 1, category="law") for i in range(3)]
    sources = make_sources(tmp_path / "sources", mmlu_pro=mmlu, mednli=None)
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert_refused(run, out, "mmlu_pro: 0 rows kept of 3 read")


def test_a_split_that_loses_its_rows_fails_even_when_the_dataset_keeps_most(tmp_path, cli):
    """The test split alone wiped out (6 train rows fine, 2 test rows broken: 2 of 8 lost overall) is what
    the bench would miss: it is named with its split."""
    sources = make_sources(tmp_path / "sources", medqa=[{**medqa_item(f"Test {i}?", OPTS, None), "answer_idx": "F"}
                                                        for i in range(2)])
    write_jsonl(sources / SOURCE_FILES["medqa"].replace("_test.", "_train."),
                [medqa_item(f"Train question {i}?", OPTS, "B") for i in range(6)])
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert_refused(run, out, "medqa (test): 0 rows kept of 2 read (removed 2: incompleteness 2)")
    assert "medqa:" not in run.stderr.split("error:")[1]  # the dataset as a whole lost only a quarter
    assert "medqa (train)" in run.stderr  # the table shows each split


def test_datasets_without_files_are_listed_in_their_own_block(tmp_path, cli):
    sources = make_sources(tmp_path / "sources", medqa=None)
    out = tmp_path / "out"
    run = data_build(cli, sources, out)
    assert run.returncode == 0, str(run)
    block = run.stdout.split("No source files found")[1]
    for name in ("headqa", "liveqa", "bionli", "pubmedqa"):
        for pattern in registry.get(name).files:  # every pattern the registry tries, under SOURCES
            assert name in block and f"{sources}/{pattern}" in block, block
    assert not re.search(r"^\W*medqa\s", block, re.M)  # the dataset that was built is not listed


# --------------------------------------------------------------------------------------------- OUT folder
def test_an_existing_out_is_a_one_line_error(tmp_path, cli):
    out = tmp_path / "out"
    out.mkdir()
    (out / "mine.txt").write_text("keep me", encoding="utf-8")
    run = data_build(cli, SAMPLE_SOURCES, out, "--datasets", "medqa")
    assert run.returncode == 2, str(run)
    assert [line for line in run.stderr.splitlines() if line.strip()] == [
        f"error: {out}: already exists (pass --overwrite to replace it)"]
    assert (out / "mine.txt").read_text(encoding="utf-8") == "keep me" and partial_leftovers(out) == []


def modes(folder):
    return {p.relative_to(folder).as_posix(): stat.S_IMODE(p.stat().st_mode) for p in [folder, *folder.rglob("*")]}


@pytest.mark.parametrize("umask,file_mode,dir_mode", [(0o022, 0o644, 0o755), (0o002, 0o664, 0o775),
                                                      (0o077, 0o600, 0o700)])
def test_files_follow_the_umask(tmp_path, umask, file_mode, dir_mode):
    out = tmp_path / "out"
    env = cli_env(tmp_path / "hf_home")
    proc = subprocess.run([str(BIN / "globmed"), "data", "build", "--sources", "sample", "--out", str(out),
                           "--datasets", "medqa", "--languages", "en,zu"], env=env, cwd=ROOT, umask=umask,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    found = modes(out)
    assert {"README.md", "globmed.json", "screening/report.json", "medqa.zu/test-00000-of-00001.parquet"} <= set(found)
    for name, mode in found.items():
        assert mode == (dir_mode if (out / name).is_dir() else file_mode), (name, oct(mode))


def test_replacing_a_file_keeps_its_mode(tmp_path):
    from globmed.io import write_json

    path = tmp_path / "kept.json"
    path.write_text("{}", encoding="utf-8")
    os.chmod(path, 0o640)
    write_json(path, {"a": 1})
    assert stat.S_IMODE(path.stat().st_mode) == 0o640 and json.loads(path.read_text()) == {"a": 1}


def test_a_killed_build_leaves_a_partial_folder_the_next_build_removes(tmp_path):
    out = tmp_path / "out"
    env = cli_env(tmp_path / "hf_home")
    cmd = [str(BIN / "globmed"), "data", "build", "--sources", "sample", "--out", str(out)]
    proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while not list(tmp_path.glob(".out.*.partial/medqa.*")) and time.monotonic() < deadline:
            time.sleep(0.02)  # wait until the build has written into its temporary folder
        assert proc.poll() is None, "the build finished before it could be killed"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.wait(timeout=30)
    left = partial_leftovers(out)
    assert len(left) == 1 and not out.exists(), left  # what kill -9 leaves behind

    run = subprocess.run(cmd + ["--datasets", "medqa"], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert f"removed {tmp_path / left[0]}" in run.stderr.replace("\n", "")
    assert partial_leftovers(out) == [] and (out / "globmed.json").exists()


def test_the_folder_of_a_build_still_running_is_not_removed(tmp_path, cli):
    """Another build of the same OUT is writing (it holds the lock on its temporary folder): left alone."""
    live = tmp_path / ".out.0123abcd.partial"
    live.mkdir()
    fd = os.open(live, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        run = data_build(cli, SAMPLE_SOURCES, tmp_path / "out", "--datasets", "medqa")
        assert run.returncode == 0, str(run)
        assert live.is_dir() and "did not finish" not in run.stderr
    finally:
        os.close(fd)
