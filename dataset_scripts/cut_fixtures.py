"""Cut the real-data reader fixtures (tests/fixtures/<source>/...) from public GitHub copies of the releases.

Each fixture is a verbatim excerpt of a released file, cut by a rule written below, at the release's
own relative path under its source folder, so `tests/fixtures` is itself a sources folder. The excerpts
are not committed (their repositories' content stays out of this project's history); the tests that
read them (tests/test_real_sources.py) are skipped until this script has cut them. The commit, path,
licence, rule and SHA-256 of every excerpt are in tests/fixtures/manifest.json, which the tests check,
so an excerpt cut from another commit, or edited, is refused rather than tested.

    git clone https://github.com/abachaa/LiveQA_MedicalTask_TREC2017 repos/LiveQA_MedicalTask_TREC2017
    git clone https://github.com/pubmedqa/pubmedqa repos/pubmedqa
    git clone https://github.com/chaitanyamalaviya/ExpertQA repos/ExpertQA   # no LFS needed
    python dataset_scripts/cut_fixtures.py --repos repos

`--repos DIR` holds one clone (or bare git directory) per repository, named after the repository
(`pubmedqa`), `owner+name` or `owner+name/repo`; files are read from the pinned commits with `git show`.
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

LIVEQA = "abachaa/LiveQA_MedicalTask_TREC2017"
LIVEQA_TEST_COMMIT = "3f5a42ccbaa0b8ff1c665a6dc23785740ab0f09f"
LIVEQA_TRAIN_COMMIT = "74d361222a641703edd9874211cd84081bf1b042"  # the last commit that still has TrainingDatasets/
PUBMEDQA, PUBMEDQA_COMMIT = "pubmedqa/pubmedqa", "1cbae8e92f72f20c8d3747cbb3bf5bc53554d997"
EXPERTQA, EXPERTQA_COMMIT = "chaitanyamalaviya/ExpertQA", "1aa7ba81bd4c083c12ef1aa2fee338f6cb60fa87"
LIVEQA_LICENCE = "none stated in the repository (its readme asks users to cite Ben Abacha et al. 2017)"


def git_dir(repos: Path, repo: str) -> Path:
    owner, name = repo.split("/")
    for candidate in (repos / name, repos / f"{owner}+{name}" / "repo", repos / f"{owner}+{name}"):
        if (candidate / ".git").exists():
            return candidate / ".git"
        if (candidate / "HEAD").exists() and (candidate / "objects").exists():
            return candidate
    sys.exit(f"{repo}: no clone under {repos} (looked for {name}/, {owner}+{name}/repo/, {owner}+{name}/)")


def show(repos: Path, repo: str, commit: str, path: str) -> bytes:
    try:
        return subprocess.run(["git", "--git-dir", str(git_dir(repos, repo)), "show", f"{commit}:{path}"],
                              check=True, capture_output=True).stdout
    except subprocess.CalledProcessError as exc:
        sys.exit(f"{repo}@{commit[:8]}:{path}: {exc.stderr.decode().strip()} (fetch that commit)")


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


# ------------------------------------------------------------------------------------------ the excerpts
def excerpts(repos: Path) -> list[dict]:
    ori = show(repos, PUBMEDQA, PUBMEDQA_COMMIT, "data/ori_pqal.json")
    truth = show(repos, PUBMEDQA, PUBMEDQA_COMMIT, "data/test_ground_truth.json")
    test_ids, other_ids = pubmedqa_pmids(ori, truth)
    rand_test = show(repos, EXPERTQA, EXPERTQA_COMMIT, "data/lfqa/rand_test.jsonl")
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
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--repos", type=Path, required=True, help="folder of clones or bare git dirs of the repositories")
    ap.add_argument("--check", action="store_true", help="only check the existing fixtures against the manifest")
    args = ap.parse_args()
    manifest = json.loads(MANIFEST.read_text(encoding="utf-8")) if MANIFEST.exists() else {}
    written = {}
    for e in excerpts(args.repos):
        text = e["cut"](show(args.repos, e["repo"], e["commit"], e["path"]))
        digest = hashlib.sha256(text).hexdigest()
        entry = {k: e[k] for k in ("repo", "commit", "path", "licence", "rule")} | {"sha256": digest, "bytes": len(text)}
        target = FIXTURES / e["fixture"]
        if args.check:
            ok = target.exists() and hashlib.sha256(target.read_bytes()).hexdigest() == digest
            print(f"{'ok ' if ok else 'BAD'} {e['fixture']}")
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(text)
        written[e["fixture"]] = entry
        print(f"wrote {e['fixture']} ({len(text)} bytes) from {e['repo']}@{e['commit'][:8]}:{e['path']}")
    if not args.check:
        if manifest and manifest != written:
            print("note: tests/fixtures/manifest.json changed; commit the new one with the rule change")
        MANIFEST.write_text(json.dumps(written, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
