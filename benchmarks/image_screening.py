"""Check: precision and recall of the image-dependence rule on real, hand-labelled exam items.

What it measures
  The screening rule `needs_image` (globmed/screening/images.yaml, applied to the question as
  `globmed data build` does) on tests/fixtures/image_dependence/labelled.jsonl: 625 real MedQA and
  MedMCQA questions, each labelled by reading it (needs_image true/false; the sources, the labelling
  policy and how the items were sampled are in that folder's README.md). A positive is an item the
  rule removes; precision = removed items that do need an image / all removed items; recall =
  removed items that need an image / all items that need one.

  The labels are committed; the questions are not (they are the releases' text): they are cut from
  the pinned commits of the public copies into image_dependence/texts/<source>.jsonl by
  `python dataset_scripts/cut_fixtures.py --repos DIR` (or `--mirrors DIR`), and joined to the labels
  by source and line here. Each label holds the SHA-256 of the question it was given to: a text that
  differs is refused. Without the texts this script says how to cut them and exits with status 2.

  The set has three parts: `dev` (read while the rule was written), `heldout1` (labelled before the
  rule was first run on it; its first score is in the README) and `heldout2` (drawn from two other
  files after the changes that heldout1 prompted, labelled blind, then scored). Figures are printed
  per part, per source and for the whole set.

Run
  python benchmarks/image_screening.py            # the table
  python benchmarks/image_screening.py --errors   # and every item the rule gets wrong, with the phrase
Targets (issue 20): recall >= 95%, precision >= 98%. Exit status 1 when the whole set misses one,
2 when the texts are missing or differ from the labelled ones.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from globmed.screening import images  # noqa: E402

LABELLED = ROOT / "tests" / "fixtures" / "image_dependence" / "labelled.jsonl"
TEXTS = LABELLED.parent / "texts"
CUT = ("run `python dataset_scripts/cut_fixtures.py --repos DIR` with clones of xk-huang/medagents-benchmark, "
       "disi-unibo-nlp/medgenie and Saf9933/Medpredict in DIR (or `--mirrors DIR`; see tests/fixtures/README.md)")
TARGETS = {"precision": 0.98, "recall": 0.95}


@dataclass
class Score:
    tp: int = 0
    fp: int = 0
    fn: int = 0
    tn: int = 0
    errors: list[tuple[str, dict, tuple[str, str] | None]] = field(default_factory=list)

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    def add(self, item: dict, found: tuple[str, str] | None) -> None:
        if found and item["needs_image"]:
            self.tp += 1
        elif found:
            self.fp += 1
            self.errors.append(("FP", item, found))
        elif item["needs_image"]:
            self.fn += 1
            self.errors.append(("FN", item, None))
        else:
            self.tn += 1


class TextsError(Exception):
    """The labelled items cannot be joined to their texts (the message names file, line and field)."""


class TextsMissing(TextsError):
    """The texts were not cut (yet)."""


def _jsonl(path: Path) -> list[tuple[int, dict]]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if line.strip():
                try:
                    rows.append((n, json.loads(line)))
                except json.JSONDecodeError as exc:
                    raise TextsError(f"{path}:{n}: not JSON ({exc.msg})") from None
    return rows


def load_items(labelled: Path = LABELLED, texts: Path = TEXTS) -> list[dict]:
    """The labelled items with their `question` and `options` joined from texts/<source>.jsonl (by line)."""
    by_source: dict[str, dict[int, dict]] = {}
    items = []
    for n, label in _jsonl(labelled):
        source = label["source"]
        if source not in by_source:
            path = texts / f"{source}.jsonl"
            if not path.exists():
                raise TextsMissing(f"{path} not cut: {CUT}")
            by_source[source] = {row["line"]: row for _, row in _jsonl(path)}
        row = by_source[source].get(label["line"])
        if row is None:
            raise TextsError(f"{labelled}:{n}: line: {source} line {label['line']} is not in "
                             f"{texts / f'{source}.jsonl'}: cut the texts again")
        if hashlib.sha256(row["question"].encode("utf-8")).hexdigest() != label["question_sha256"]:
            raise TextsError(f"{labelled}:{n}: question_sha256: the question of {source} line {label['line']} in "
                             f"{texts / f'{source}.jsonl'} is not the text that was labelled: cut the texts again")
        items.append({**label, "question": row["question"], "options": row["options"]})
    return items


def score(items: list[dict], rule: images.ImageRule | None = None) -> dict[str, Score]:
    """Scores by part ("dev", "heldout1", ...), by source ("source:medqa", ...) and "all"."""
    rule = rule or images.load()
    scores: dict[str, Score] = {}
    for item in items:
        found = rule.find(item["question"], "en")  # both sources are English; the rule reads the question
        for key in (item["part"], f"source:{item['source']}", "all"):
            scores.setdefault(key, Score()).add(item, found)
    return scores


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--errors", action="store_true", help="list the items the rule gets wrong")
    parser.add_argument("--labelled", type=Path, default=LABELLED, help="the labelled set (jsonl)")
    parser.add_argument("--texts", type=Path, default=TEXTS, help="the folder of the cut texts, <source>.jsonl")
    args = parser.parse_args(argv)
    try:
        items = load_items(args.labelled, args.texts)
    except TextsError as exc:
        print(f"image_screening: {exc}", file=sys.stderr)
        return 2
    scores = score(items)
    print(f"image-dependence rule on {args.labelled.relative_to(ROOT) if args.labelled.is_relative_to(ROOT) else args.labelled}")
    print(f"{'part':<22}{'items':>6}{'need':>6}{'TP':>5}{'FP':>5}{'FN':>5}{'precision':>11}{'recall':>8}")
    for key, s in sorted(scores.items(), key=lambda kv: (kv[0] == "all", kv[0].startswith("source:"), kv[0])):
        n = s.tp + s.fp + s.fn + s.tn
        print(f"{key:<22}{n:>6}{s.tp + s.fn:>6}{s.tp:>5}{s.fp:>5}{s.fn:>5}{s.precision:>11.3f}{s.recall:>8.3f}")
    total = scores["all"]
    met = total.precision >= TARGETS["precision"] and total.recall >= TARGETS["recall"]
    print(f"targets: precision >= {TARGETS['precision']}, recall >= {TARGETS['recall']}: {'met' if met else 'NOT met'}")
    if args.errors:
        for kind, item, found in total.errors:
            where = f"{item['source']}:{item['line']}"
            why = f" [{found[0]}: {found[1]!r}]" if found else ""
            print(f"{kind} {item['part']:<9}{where:<20}{why} {item['question'][-160:]!r}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
