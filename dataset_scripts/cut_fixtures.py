"""Cut the real-data test fixtures (tests/fixtures/...) from public GitHub copies of the releases.

Each fixture is cut from one released file at a pinned commit by a rule written below: the reader
fixtures are verbatim excerpts at the release's own relative path under <source>/ (so `tests/fixtures`
is itself a sources folder); the image-dependence texts are the question and options of the lines that
tests/fixtures/image_dependence/labelled.jsonl labels. None of it is committed (the repositories' content
stays out of this project's history); the tests that read it (tests/test_real_sources.py,
tests/test_screening.py) are skipped until this script has cut it. The commit, path, licence, rule and
SHA-256 of every fixture are in tests/fixtures/manifest.json, which the tests check, so a fixture cut
from another commit, or edited, is refused rather than tested.

    git clone https://github.com/abachaa/LiveQA_MedicalTask_TREC2017 repos/LiveQA_MedicalTask_TREC2017
    git clone https://github.com/pubmedqa/pubmedqa repos/pubmedqa
    git clone https://github.com/chaitanyamalaviya/ExpertQA repos/ExpertQA   # no LFS needed
    git clone https://github.com/xk-huang/medagents-benchmark repos/medagents-benchmark
    git clone https://github.com/disi-unibo-nlp/medgenie repos/medgenie
    git clone https://github.com/Saf9933/Medpredict repos/Medpredict
    python dataset_scripts/cut_fixtures.py --repos repos

or, from bare mirrors laid out as <owner>+<name>/repo (what the `fetch` tool brings):

    python dataset_scripts/cut_fixtures.py --mirrors /work/.mirror

`--repos DIR` holds one clone (or bare git directory) per repository, named after the repository
(`pubmedqa`) or `owner+name`; `--mirrors DIR` holds `owner+name/repo` bare git directories. Files are
read from the pinned commits with `git show`; nothing is written unless every fixture could be cut.
`--check` only checks the fixtures on disk against the manifest.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = ROOT / "tests" / "fixtures"
MANIFEST = FIXTURES / "manifest.json"
LABELLED = FIXTURES / "image_dependence" / "labelled.jsonl"

LIVEQA = "abachaa/LiveQA_MedicalTask_TREC2017"
LIVEQA_TEST_COMMIT = "3f5a42ccbaa0b8ff1c665a6dc23785740ab0f09f"
LIVEQA_TRAIN_COMMIT = "74d361222a641703edd9874211cd84081bf1b042"  # the last commit that still has TrainingDatasets/
PUBMEDQA, PUBMEDQA_COMMIT = "pubmedqa/pubmedqa", "1cbae8e92f72f20c8d3747cbb3bf5bc53554d997"
EXPERTQA, EXPERTQA_COMMIT = "chaitanyamalaviya/ExpertQA", "1aa7ba81bd4c083c12ef1aa2fee338f6cb60fa87"
LIVEQA_LICENCE = "none stated in the repository (its readme asks users to cite Ben Abacha et al. 2017)"
# Public copies of MedQA and MedMCQA files (the originals are on Google Drive only); medagents-benchmark's
# data/medqa/test.jsonl last changed in 4466a9e1.
MEDAGENTS, MEDAGENTS_COMMIT = "xk-huang/medagents-benchmark", "56ca11eb1ef89f6bb7fad6284008bf39e08785b0"
MEDGENIE, MEDGENIE_COMMIT = "disi-unibo-nlp/medgenie", "c1bc78073e8306b705ffbac65fdbfd33d3c4a763"
MEDPREDICT, MEDPREDICT_COMMIT = "Saf9933/Medpredict", "f8604a956addb057e059c8d1ecc8943ce3b38f45"
# labelled.jsonl's `source` -> the released file its `line` counts in (repo, commit, path, licence)
IMAGE_SOURCES = {
    "medqa": (MEDAGENTS, MEDAGENTS_COMMIT, "data/medqa/test.jsonl",
              "MIT (MedQA, jind11/MedQA; the copy's repository is MIT too)"),
    "medmcqa": (MEDAGENTS, MEDAGENTS_COMMIT, "data/medmcqa/test.jsonl",
                "MIT (MedMCQA, medmcqa/medmcqa; the copy's repository is MIT too)"),
    "medqa_dev": (MEDGENIE, MEDGENIE_COMMIT, "data/medqa/dev/phrases_no_exclude_dev.jsonl",
                  "MIT (MedQA, jind11/MedQA; the copy's repository states none)"),
    "medmcqa_test": (MEDPREDICT, MEDPREDICT_COMMIT, "data/medmcqa/test.jsonl",
                     "MIT (MedMCQA, medmcqa/medmcqa; the copy's repository states none)"),
}


class CutError(Exception):
    """A fixture that cannot be cut: the message says which and what to do."""


def git_dir(root: Path, repo: str, mirrors: bool) -> Path:
    owner, name = repo.split("/")
    mirror = root / f"{owner}+{name}"
    where = [mirror / "repo", mirror] if mirrors else [root / name, mirror]
    for candidate in where:
        if (candidate / ".git").exists():
            return candidate / ".git"
        if (candidate / "HEAD").exists() and (candidate / "objects").exists():
            return candidate
    raise CutError(f"{repo}: no {'mirror' if mirrors else 'clone'} under {root} "
                   f"(looked for {', '.join(str(c.relative_to(root)) + '/' for c in where)})")


class Repos:
    """`git show` of a pinned file from the clones (or mirrors) under one folder."""

    def __init__(self, root: Path, mirrors: bool):
        self.root, self.mirrors = root, mirrors

    def show(self, repo: str, commit: str, path: str) -> bytes:
        git = git_dir(self.root, repo, self.mirrors)
        run = subprocess.run(["git", "--git-dir", str(git), "show", f"{commit}:{path}"], capture_output=True)
        if run.returncode:
            raise CutError(f"{repo}@{commit[:8]}:{path}: {run.stderr.decode().strip()} (fetch that commit)")
        return run.stdout


# ------------------------------------------------------------------------------------------ cut rules
def xml_questions(keep: Callable[[int, str], bool]) -> Callable[[bytes], bytes]:
    """The lines before the first <NLM-QUESTION, the whole-line blocks of the questions `keep` accepts
    (by position and qid), and the closing root line: the file's own lines, unchanged."""
    def cut(raw: bytes) -> bytes:
        lines = raw.decode("utf-8").splitlines(keepends=True)
        starts = [i for i, line in enumerate(lines) if "<NLM-QUESTION " in line or "<NLM-QUESTION>" in line]
        ends = [i for i, line in enumerate(lines) if "</NLM-QUESTION>" in line]
        assert len(starts) == len(ends) and all(s < e for s, e in zip(starts, ends)), "unexpected XML layout"
        out = lines[: starts[0]]
        for n, (s, e) in enumerate(zip(starts, ends)):
            qid = (re.search(r'(?:qid|questionid)="([^"]*)"', lines[s]) or [None, ""])[1]
            if keep(n, qid):
                out += lines[s: e + 1]
        out += lines[ends[-1] + 1:]
        return "".join(out).encode("utf-8")
    return cut


def first_lines(n: int) -> Callable[[bytes], bytes]:
    return lambda raw: b"".join(raw.splitlines(keepends=True)[:n])


def lines_at(indices: list[int]) -> Callable[[bytes], bytes]:
    return lambda raw: b"".join(line for i, line in enumerate(raw.splitlines(keepends=True)) if i in set(indices))


def expertqa_lines(raw: bytes) -> list[int]:
    """Among lines 1-100: every Biology or Healthcare / Medicine line, and every 10th line of another field."""
    rows = [json.loads(line) for line in raw.splitlines()[:100]]
    return [i for i, r in enumerate(rows) if r["metadata"]["field"] in ("Biology", "Healthcare / Medicine") or i % 10 == 0]


def pubmedqa_pmids(ori: bytes, truth: bytes) -> tuple[list[str], list[str]]:
    """The first 20 PMIDs of ori_pqal.json (file order) that test_ground_truth.json lists, and the first 20 it does not."""
    listed = set(json.loads(truth))
    pmids = list(json.loads(ori))
    return [p for p in pmids if p in listed][:20], [p for p in pmids if p not in listed][:20]


def json_subset(keys: Callable[[], list[str]]) -> Callable[[bytes], bytes]:
    """The chosen entries, in the file's order, written as the release writes the file (json.dumps, indent 4):
    byte for byte the release's text for each entry."""
    def cut(raw: bytes) -> bytes:
        doc = json.loads(raw)
        wanted = set(keys())
        return json.dumps({k: v for k, v in doc.items() if k in wanted}, indent=4).encode("utf-8")
    return cut


def question_sha256(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def labelled_lines(source: str, labelled: Path = LABELLED) -> Callable[[bytes], bytes]:
    """The question and options of each line that labelled.jsonl labels for `source`, in file order, one JSON
    object a line: {"line": n (1-based, as in labelled.jsonl), "question": ..., "options": ...}, each value as
    the release has it (`options`, or `choices` where the file names them so). A question whose SHA-256 is not
    the labelled one is refused: that label was given to another text."""
    def cut(raw: bytes) -> bytes:
        rows = raw.decode("utf-8").splitlines()
        out = {}
        for n, text in enumerate(labelled.read_text(encoding="utf-8").splitlines(), 1):
            label = json.loads(text)
            if label["source"] != source:
                continue
            where = f"{labelled.relative_to(ROOT) if labelled.is_relative_to(ROOT) else labelled}:{n}"
            if not 1 <= label["line"] <= len(rows) or label["line"] in out:
                raise CutError(f"{where}: line {label['line']} of {source} is beyond its {len(rows)} lines "
                               "or labelled twice")
            row = json.loads(rows[label["line"] - 1])
            if question_sha256(row["question"]) != label["question_sha256"]:
                raise CutError(f"{where}: question_sha256 is not that of the question at line {label['line']} of "
                               f"{source}'s file: the label was given to another text")
            out[label["line"]] = {"line": label["line"], "question": row["question"],
                                  "options": row["options"] if "options" in row else row["choices"]}
        return "".join(json.dumps(out[k], ensure_ascii=False) + "\n" for k in sorted(out)).encode("utf-8")
    return cut


# ------------------------------------------------------------------------------------------ the excerpts
def excerpts(repos: Repos) -> list[dict]:
    ori = repos.show(PUBMEDQA, PUBMEDQA_COMMIT, "data/ori_pqal.json")
    truth = repos.show(PUBMEDQA, PUBMEDQA_COMMIT, "data/test_ground_truth.json")
    test_ids, other_ids = pubmedqa_pmids(ori, truth)
    rand_test = repos.show(EXPERTQA, EXPERTQA_COMMIT, "data/lfqa/rand_test.jsonl")
    expert_rows = expertqa_lines(rand_test)
    return [
        dict(fixture="liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test.xml", repo=LIVEQA, commit=LIVEQA_TEST_COMMIT,
             path="TestDataset/TREC-2017-LiveQA-Medical-Test.xml", licence=LIVEQA_LICENCE,
             rule="the XML header and root element with questions TQ1-TQ30 (whole lines, unchanged); TQ1 holds "
                  "the file's 3 <RefAnswer> spellings, the others <ReferenceAnswer>",
             cut=xml_questions(lambda n, qid: n < 30)),
        dict(fixture="liveqa/TestDataset/TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml", repo=LIVEQA,
             commit=LIVEQA_TEST_COMMIT, path="TestDataset/TREC-2017-LiveQA-Medical-Test-Questions-w-summaries.xml",
             licence=LIVEQA_LICENCE, rule="the XML header and root element with questions TQ1-TQ3",
             cut=xml_questions(lambda n, qid: n < 3)),
        dict(fixture="liveqa/TestDataset/TREC-2017-LiveQA-Medical-qrels-NIST-692.txt", repo=LIVEQA,
             commit=LIVEQA_TEST_COMMIT, path="TestDataset/TREC-2017-LiveQA-Medical-qrels-NIST-692.txt",
             licence=LIVEQA_LICENCE, rule="the first 10 lines", cut=first_lines(10)),
        dict(fixture="liveqa/TrainingDatasets/TREC-2017-LiveQA-Medical-Train-1.xml", repo=LIVEQA,
             commit=LIVEQA_TRAIN_COMMIT, path="TrainingDatasets/TREC-2017-LiveQA-Medical-Train-1.xml",
             licence=LIVEQA_LICENCE, rule="the XML header and root element with its first 3 questions",
             cut=xml_questions(lambda n, qid: n < 3)),
        dict(fixture="pubmedqa/data/ori_pqal.json", repo=PUBMEDQA, commit=PUBMEDQA_COMMIT, path="data/ori_pqal.json",
             licence="MIT", rule="40 entries in file order: the first 20 PMIDs that test_ground_truth.json lists and "
                                 "the first 20 it does not, written as the release writes the file (json, indent 4)",
             cut=json_subset(lambda: test_ids + other_ids)),
        dict(fixture="pubmedqa/data/test_ground_truth.json", repo=PUBMEDQA, commit=PUBMEDQA_COMMIT,
             path="data/test_ground_truth.json", licence="MIT",
             rule="the entries of the 20 test PMIDs of the ori_pqal.json excerpt, in file order (json, indent 4)",
             cut=json_subset(lambda: test_ids)),
        dict(fixture="expertqa/data/lfqa/rand_test.jsonl", repo=EXPERTQA, commit=EXPERTQA_COMMIT,
             path="data/lfqa/rand_test.jsonl", licence="MIT",
             rule="among lines 1-100, every line whose metadata.field is Biology or Healthcare / Medicine and every "
                  "10th line (1, 11, 21, ...) of another field, in file order", cut=lines_at(expert_rows)),
        dict(fixture="expertqa/data/lfqa/rand_lfqa_test.json", repo=EXPERTQA, commit=EXPERTQA_COMMIT,
             path="data/lfqa/rand_lfqa_test.json", licence="MIT",
             rule="the lines at the same positions as the rand_test.jsonl excerpt (the release's own long-form QA "
                  "conversion of those questions: one row per answer, citation markers removed)",
             cut=lines_at(expert_rows)),
        dict(fixture="expertqa/data/lfqa/rand_val.jsonl", repo=EXPERTQA, commit=EXPERTQA_COMMIT,
             path="data/lfqa/rand_val.jsonl", licence="MIT", rule="the first 6 lines", cut=first_lines(6)),
        dict(fixture="expertqa/data/lfqa/domain_test.jsonl", repo=EXPERTQA, commit=EXPERTQA_COMMIT,
             path="data/lfqa/domain_test.jsonl", licence="MIT", rule="the first 3 lines", cut=first_lines(3)),
        dict(fixture="expertqa/lfs-pointer/r2_compiled_out_corrected_revised_atomic_w_evidences_factscores_anon.jsonl",
             repo=EXPERTQA, commit=EXPERTQA_COMMIT,
             path="data/r2_compiled_out_corrected_revised_atomic_w_evidences_factscores_anon.jsonl", licence="MIT",
             rule="the whole file: a Git LFS pointer, which is what a clone without LFS holds in place of "
                  "data/r2_compiled_anon.jsonl (kept outside the release's data/ folder)", cut=lambda raw: raw),
    ] + [
        dict(fixture=f"image_dependence/texts/{source}.jsonl", repo=repo, commit=commit, path=path, licence=licence,
             rule=f"the question and options of each line that image_dependence/labelled.jsonl labels for source "
                  f"{source}, in file order, as JSON lines {{line, question, options}} (values as released; "
                  f"`choices` taken as the options where the file names them so)",
             cut=labelled_lines(source))
        for source, (repo, commit, path, licence) in IMAGE_SOURCES.items()
    ]


def check() -> int:
    """The fixtures on disk against the manifest: `ok`, `BAD` (differs: cut it again) or `absent`."""
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8"))
    bad = 0
    for fixture, entry in manifest.items():
        target = FIXTURES / fixture
        state = "absent" if not target.exists() else (
            "ok" if hashlib.sha256(target.read_bytes()).hexdigest() == entry["sha256"] else "BAD")
        bad += state != "ok"
        print(f"{state:<7}{fixture}")
    return 1 if bad else 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group(required=True)
    where.add_argument("--repos", type=Path, help="folder of clones (or bare git dirs) named after the repositories")
    where.add_argument("--mirrors", type=Path, help="folder of bare mirrors laid out as <owner>+<name>/repo")
    where.add_argument("--check", action="store_true", help="only check the fixtures on disk against the manifest")
    args = ap.parse_args(argv)
    if args.check:
        return check()
    repos = Repos(args.repos or args.mirrors, mirrors=args.mirrors is not None)
    missing = []
    for repo in sorted({LIVEQA, PUBMEDQA, EXPERTQA, MEDAGENTS, MEDGENIE, MEDPREDICT}):
        try:
            git_dir(repos.root, repo, repos.mirrors)
        except CutError as exc:
            missing.append(str(exc))
    try:
        if missing:
            raise CutError("; ".join(missing) + " (nothing was written)")
        cut = [(e, e["cut"](repos.show(e["repo"], e["commit"], e["path"]))) for e in excerpts(repos)]
    except CutError as exc:  # nothing is written unless every fixture could be cut
        print(f"cut_fixtures: {exc}", file=sys.stderr)
        return 1
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else {}
    written = {}
    for e, text in cut:
        target = FIXTURES / e["fixture"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)
        written[e["fixture"]] = ({k: e[k] for k in ("repo", "commit", "path", "licence", "rule")}
                                 | {"sha256": hashlib.sha256(text).hexdigest(), "bytes": len(text)})
        print(f"wrote {e['fixture']} ({len(text)} bytes) from {e['repo']}@{e['commit'][:8]}:{e['path']}")
    if manifest and manifest != written:
        print("note: tests/fixtures/manifest.json changed; commit the new one with the rule change")
    MANIFEST.write_text(json.dumps(written, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
