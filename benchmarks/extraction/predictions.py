"""Every prediction of `extract_answer` over both parts of the corpus and variants of each output, as
JSON lines: run it before and after a refactor of globmed/bench/extract.py and compare the files (the
corpus scores of evaluate.py are all 100%, so they cannot show a changed prediction).

    python benchmarks/extraction/predictions.py before.jsonl   # ... change extract.py ...
    python benchmarks/extraction/predictions.py after.jsonl && cmp before.jsonl after.jsonl

Variants of each output: lower and upper case, its last line, each half, brackets and bold removed,
wrapped in a think block, a letter appended or prefixed; each read in its language and in English (or
Spanish), MCQA with all its options and with the first four.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from evaluate import HERE, load  # noqa: E402

from globmed.bench.extract import extract_answer  # noqa: E402


def variants(output: str) -> list[str]:
    half = len(output) // 2
    return sorted({output, output.lower(), output.upper(), output.strip().split("\n")[-1], output[:half],
                   output[half:], output.replace("(", "").replace(")", ""), output.replace("**", ""),
                   "<think>" + output + "</think>", output + "\nB", "C. " + output})


def main(path: str) -> None:
    cases = [c for part in ("corpus", "heldout") for f in sorted((HERE / part).glob("*.*")) for c in load(f)]
    n = 0
    with open(path, "w", encoding="utf-8") as out:
        for c in cases:
            for text in variants(c.output):
                for lang in (c.lang, "es" if c.lang == "en" else "en"):
                    for options in ((list(c.options), list(c.options)[:4]) if c.task == "mcqa" else (list(c.options),)):
                        pred = extract_answer(text, lang, c.task, options)
                        out.write(json.dumps([c.where, lang, c.task, len(options), text, pred], ensure_ascii=False) + "\n")
                        n += 1
    print(f"{n} predictions of {len(cases)} corpus outputs -> {path}")


if __name__ == "__main__":
    main(sys.argv[1])
