"""How well `globmed.bench.extract.extract_answer` reads realistic model outputs, per language.

    python benchmarks/extraction/evaluate.py                 # the tuned part (corpus/*.yaml)
    python benchmarks/extraction/evaluate.py --part heldout  # the held-out part (heldout/*.yaml)
    python benchmarks/extraction/evaluate.py --corpus my.jsonl --misses

Each output has a gold answer assigned by a person who read it: the letter / label the model
gave, or null where it gave none (no answer, conflicting answers, a refusal). Every output is
one of three outcomes:
  right      the extractor returns the gold answer (None for a gold null);
  unparsed   it returns None where the model gave an answer (counted wrong by the bench);
  false      it returns a letter / label where the model gave a different one or none:
             the worst outcome, because a wrong number then looks like a real answer.
Printed: per language and per pattern tag, n, accuracy, the unparsed rate and the false-answer
rate; then overall. Exits 1 when overall accuracy < --min-accuracy (0.99) or the false-answer
rate > --max-false (0.005).

Corpus files: YAML (corpus/<lang>.yaml: `lang`, named `options` sets, `source` default, `items`
of {task, options, output, gold, tags, source}) or JSONL with one record per line holding the
fields lang, task, options (a list), output, gold, source and optional tags.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import yaml

from globmed import languages
from globmed.bench.extract import extract_answer

HERE = Path(__file__).parent


@dataclass(frozen=True)
class Case:
    where: str  # FILE:ITEM, for messages
    lang: str
    task: str
    options: tuple[str, ...]
    output: str
    gold: str | None
    source: str
    tags: tuple[str, ...]


def _case(where: str, rec: dict[str, Any], options: dict[str, list[str]], lang: str | None,
          source: str | None) -> Case:
    def need(field: str, value: Any) -> Any:
        if value is None or value == "":
            raise SystemExit(f"{where}: missing field {field!r}")
        return value

    opts = rec.get("options")
    if isinstance(opts, str):
        if opts not in options:
            raise SystemExit(f"{where}: field 'options' names an unknown set {opts!r} (known: {', '.join(options)})")
        opts = options[opts]
    task = need("task", rec.get("task"))
    if task not in ("mcqa", "nli"):
        raise SystemExit(f"{where}: field 'task' must be mcqa or nli, not {task!r}")
    gold = rec.get("gold")
    opts = tuple(need("options", opts))
    if gold is not None and ((task == "mcqa" and not ("A" <= gold <= "J" and ord(gold) - 65 < len(opts)))
                             or (task == "nli" and gold not in opts)):
        raise SystemExit(f"{where}: field 'gold' {gold!r} is not one of the options")
    return Case(where, need("lang", rec.get("lang", lang)), task, opts, need("output", rec.get("output")),
                gold, need("source", rec.get("source", source)), tuple(rec.get("tags") or ()))


def load(path: Path) -> list[Case]:
    """The cases of one corpus file (.yaml or .jsonl)."""
    if path.suffix == ".jsonl":
        out = []
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if line.strip():
                try:
                    rec = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise SystemExit(f"{path}:{n}: not valid JSON ({exc.msg})") from None
                out.append(_case(f"{path}:{n}", rec, {}, None, None))
        return out
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    if not isinstance(data, dict) or not isinstance(data.get("items"), list):
        raise SystemExit(f"{path}: a corpus YAML needs a list 'items'")
    return [_case(f"{path}:item {i}", rec, data.get("options") or {}, data.get("lang"), data.get("source"))
            for i, rec in enumerate(data["items"], 1)]


def outcome(case: Case) -> tuple[str, str | None]:
    pred = extract_answer(case.output, case.lang, case.task, list(case.options))
    if pred == case.gold:
        return "right", pred
    return ("unparsed" if pred is None else "false"), pred


def _row(name: str, outcomes: list[str]) -> str:
    n = len(outcomes)
    rate = {k: outcomes.count(k) / n for k in ("right", "unparsed", "false")}
    return (f"{name:<16} {n:>5} {100 * rate['right']:>8.1f} {100 * rate['unparsed']:>9.1f} "
            f"{100 * rate['false']:>7.1f}")


def report(cases: Iterable[Case], misses: bool = False) -> dict[str, Any]:
    by_lang: dict[str, list[str]] = defaultdict(list)
    by_tag: dict[str, list[str]] = defaultdict(list)
    everything: list[str] = []
    missed = []
    for case in cases:
        result, pred = outcome(case)
        everything.append(result)
        by_lang[case.lang].append(result)
        for tag in case.tags or ("untagged",):
            by_tag[tag].append(result)
        if result != "right":
            missed.append((case, result, pred))
    head = f"{'':<16} {'n':>5} {'right %':>8} {'unparsed':>9} {'false %':>7}"
    print(f"per language\n{head}")
    order = [c for c in languages.codes() if c in by_lang] + sorted(set(by_lang) - set(languages.codes()))
    for code in order:
        print(_row(code, by_lang[code]))
    print(f"\nper pattern tag\n{head}")
    for tag in sorted(by_tag):
        print(_row(tag, by_tag[tag]))
    print(f"\n{_row('overall', everything)}")
    if misses:
        print(f"\n{len(missed)} misses")
        for case, result, pred in missed:
            print(f"--- {case.where} [{case.lang} {case.task}] {result}: gold {case.gold!r}, got {pred!r} "
                  f"tags={','.join(case.tags)}\n{case.output.strip()}")
    n = len(everything)
    return {"n": n, "accuracy": everything.count("right") / n, "unparsed": everything.count("unparsed") / n,
            "false": everything.count("false") / n}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--part", choices=("tuned", "heldout", "all"), default="tuned",
                    help="which shipped part to read (ignored with --corpus)")
    ap.add_argument("--corpus", type=Path, nargs="*", help="corpus files (.yaml, .jsonl) instead of the shipped ones")
    ap.add_argument("--lang", help="only these languages (comma-separated)")
    ap.add_argument("--tag", help="only outputs with this pattern tag")
    ap.add_argument("--misses", action="store_true", help="print every output not read right")
    ap.add_argument("--min-accuracy", type=float, default=0.99)
    ap.add_argument("--max-false", type=float, default=0.005)
    args = ap.parse_args(argv)
    if args.corpus:
        files = args.corpus
    else:
        parts = {"tuned": ["corpus"], "heldout": ["heldout"], "all": ["corpus", "heldout"]}[args.part]
        files = [f for part in parts for f in sorted((HERE / part).glob("*.yaml"))]
    cases = [c for f in files for c in load(f)]
    if args.lang:
        cases = [c for c in cases if c.lang in args.lang.split(",")]
    if args.tag:
        cases = [c for c in cases if args.tag in c.tags]
    if not cases:
        print("no outputs to evaluate", file=sys.stderr)
        return 2
    figures = report(cases, args.misses)
    ok = figures["accuracy"] >= args.min_accuracy and figures["false"] <= args.max_false
    print(f"\ntarget: accuracy >= {100 * args.min_accuracy:g}% and false answers <= {100 * args.max_false:g}%: "
          f"{'met' if ok else 'NOT met'}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
