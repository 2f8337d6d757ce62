"""Benchmark: `globmed data build` on a synthetic corpus the size of GlobMed.

What it measures
  The whole build (read the original-format sources, screen, attach translations, write parquet
  per config + card) on ~500,000 rows: ~41,700 source items over the ten source files of the
  registry (eleven datasets: ExpertQA feeds -Bio and -Med), each written in its ORIGINAL layout
  (the same as globmed/sample/sources: MedQA jsonl, MedMCQA jsonl, MedNLI jsonl,
  MMLU-Pro jsonl, HEAD-QA JSON, PubMedQA JSON, LiveQA XML, ExpertQA jsonl, BioNLI jsonl,
  MedExpQA jsonl), plus `translations/<dataset>/<lang>.jsonl` for the 11 other languages.
  Texts are synthetic words (per-language alphabets: Latin with diacritics, Hanzi, kana, Hangul),
  40-150 words per item, with numbers and units that every translation keeps (the build's
  structure check compares them). A few items are deliberately screenable (MMLU-Pro rows outside
  health, repeated MedMCQA items, ExpertQA rows of other fields), as in the real sources.

How
  1. Generate the corpus once into a cache folder (default: $TMPDIR/globmed-bench/corpus-<params>;
     reused when present, `--regenerate` rebuilds it). Translation ids come from globmed's own
     readers + screening (as `globmed data records` -> `globmed translate` would give them).
  2. Baseline (lower bound), in this process: read every input file and json.loads every line
     (JSON documents: one json.loads; the XML file: one expat parse). Figures are ratios to it.
  3. In-process build: `globmed.hub.build.build(BuildSettings(...))` in a fresh child process
     (so its peak RSS, from os.wait4's rusage, is the build's alone); wall time, rows/s.
  4. The CLI: `globmed data build --sources S --out O` as a subprocess; wall time, peak RSS.
  5. Optional (`--tracemalloc`): the in-process build again under tracemalloc, for the peak
     Python heap (tracemalloc slows the run, so its time is not reported as a build time).
  6. Optional (`--profile`): the in-process build under cProfile; the top functions are printed
     and the .pstats file is written to benchmarks/results/.

Targets (issue 2, "Performance")
  - the whole build (CLI wall time) under 120 s on the 2-core machine;
  - memory bounded: peak RSS well below the corpus size (stream, don't hold everything twice).
    Reported: peak RSS, and peak RSS / input bytes of the largest dataset (all its languages).

Run
  .venv/bin/python benchmarks/data_build.py [--items 41700] [--regenerate] [--tracemalloc] [--profile]
Prints a summary table at the end and writes it to benchmarks/results/data_build.json.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator
from xml.sax.saxutils import escape as xml_escape

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
GEN_VERSION = 3  # bump when the generator changes: a new cache folder is used

LANGS = ["en", "zh", "fr", "de", "ja", "ko", "pt", "es", "sw", "wo", "yo", "zu"]
# ~41,700 source items in all (x 12 languages ~= 500,000 rows); shares loosely follow the real sources.
SHARES = {  # dataset file group -> share of the source items
    "medqa": 0.19, "medmcqa": 0.39, "headqa": 0.065, "medexpqa": 0.012, "mmlu_pro": 0.036,
    "mednli": 0.072, "bionli": 0.144, "pubmedqa": 0.024, "liveqa": 0.017, "expertqa": 0.05,
}
UNITS = ["mg", "mL", "mmHg", "°C", "kg", "mg/dL", "mmol/L", "%", "cm", "g/dL", "mEq/L", "IU", "µg", "bpm"]
UNIT_SET = set(UNITS)

# ------------------------------------------------------------------------------------------------
# Synthetic vocabularies
# ------------------------------------------------------------------------------------------------
_EN_SYLL = ["ka", "lo", "mi", "ne", "ta", "ro", "su", "vi", "de", "pa", "ther", "cor", "gen", "hep", "nal", "tri",
            "os", "um", "ia", "al", "ic", "on", "ex", "ra", "ma", "ly", "cy", "to", "pro", "sin"]
_EN_FUNCTION = ["the", "of", "and", "a", "in", "with", "is", "to", "for", "after", "patient", "has", "his", "her",
                "was", "which", "most", "likely", "following", "shows", "history", "presents", "days", "years"]
_ALPHABETS = {
    "fr": ("bcdfglmnprstv", "aeiouéèêàô"), "de": ("bcdfghklmnprstwz", "aeiouäöüß"),
    "pt": ("bcdfglmnprstv", "aeiouãõçáé"), "es": ("bcdfglmnprstv", "aeiouáéíóñ"),
    "en": ("bcdfghklmnprstvw", "aeiouy"), "sw": ("bchjkmnpstwy", "aeiou"), "wo": ("bdgjklmnrstwx", "aeiouëñ"),
    "yo": ("bdfgjklmnrstwy", "aeiouẹọṣ"), "zu": ("bhklmnphstzw", "aeiou"),
}


def _cjk_word(rng: random.Random, lang: str) -> str:
    if lang == "zh":
        return "".join(chr(rng.randint(0x4E00, 0x62FF)) for _ in range(rng.randint(1, 3)))
    if lang == "ja":
        kana = "".join(chr(rng.randint(0x3041, 0x3093)) for _ in range(rng.randint(1, 3)))
        return chr(rng.randint(0x4E00, 0x62FF)) + kana
    return "".join(chr(rng.randint(0xAC00, 0xD7A3)) for _ in range(rng.randint(1, 3)))  # ko


def _latin_word(rng: random.Random, lang: str) -> str:
    cons, vows = _ALPHABETS[lang]
    return "".join(rng.choice(cons) + rng.choice(vows) for _ in range(rng.randint(1, 4)))


class Vocab:
    """English synthetic words, and one synthetic word per English word in every other language."""

    def __init__(self, seed: int, size: int = 6000):
        rng = random.Random(seed)
        words = list(_EN_FUNCTION)
        seen = set(words)
        while len(words) < size:
            w = "".join(rng.choice(_EN_SYLL) for _ in range(rng.randint(1, 4)))
            if w not in seen and len(w) > 1:
                seen.add(w)
                words.append(w)
        self.words = words
        # Zipf-like weights: a few words are frequent, as in real text.
        self.cum_weights = list(itertools.accumulate(1.0 / (i + 10) for i in range(len(words))))
        self.maps: dict[str, dict[str, str]] = {}
        for lang in LANGS:
            if lang == "en":
                continue
            lr = random.Random(f"{seed}-{lang}")
            make = _cjk_word if lang in ("zh", "ja", "ko") else _latin_word
            self.maps[lang] = {w: make(lr, lang) for w in words}

    def sample(self, rng: random.Random, n: int) -> list[str]:
        return rng.choices(self.words, cum_weights=self.cum_weights, k=n)


class Writer:
    """Makes English texts with numbers and units; each text is 'sentences' of words."""

    def __init__(self, vocab: Vocab, rng: random.Random):
        self.v, self.rng = vocab, rng

    def measure(self) -> list[str]:
        r = self.rng
        kind = r.random()
        if kind < 0.4:
            return [f"{r.randint(1, 999)}", r.choice(UNITS)]
        if kind < 0.6:
            return [f"{r.randint(60, 200)}/{r.randint(40, 120)}", "mmHg"]
        if kind < 0.8:
            return [f"{r.randint(35, 41)}.{r.randint(0, 9)}", "°C"]
        return [f"{r.randint(2, 95)}-year-old"]

    def sentence(self, n: int, end: str = ".", measures: float = 0.3) -> str:
        words = self.v.sample(self.rng, n)
        out: list[str] = []
        for w in words:
            out.append(w)
            if self.rng.random() < measures / max(n, 1) * 3:
                out.extend(self.measure())
        out[0] = out[0].capitalize() if out[0][:1].isalpha() else out[0]
        return " ".join(out) + end

    def text(self, words: int, end: str = "?") -> str:
        parts, left = [], words
        while left > 0:
            n = min(left, self.rng.randint(6, 18))
            left -= n
            parts.append(self.sentence(n, end if left <= 0 else "."))
        return " ".join(parts)

    def options(self, k: int, lo: int = 1, hi: int = 6) -> list[str]:
        opts: list[str] = []
        while len(opts) < k:
            o = " ".join(self.v.sample(self.rng, self.rng.randint(lo, hi)))
            if self.rng.random() < 0.15:
                o += " " + " ".join(self.measure())
            o = o[:1].upper() + o[1:]
            if o.lower() not in {x.lower() for x in opts}:
                opts.append(o)
        return opts


# ------------------------------------------------------------------------------------------------
# Source files in their original layouts
# ------------------------------------------------------------------------------------------------
def _splits(n: int, shares: dict[str, float]) -> Iterator[tuple[str, int]]:
    done = 0
    names = list(shares)
    for i, name in enumerate(names):
        k = n - done if i == len(names) - 1 else int(n * shares[name])
        done += k
        yield name, k


def _jsonl(path: Path, rows: Iterator[dict[str, Any]]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    n = 0
    with open(path, "w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False) + "\n")
            n += 1
    return n


def write_sources(root: Path, total: int, seed: int, vocab: Vocab) -> dict[str, int]:
    rng = random.Random(seed)
    w = Writer(vocab, rng)
    counts = {name: max(8, round(total * share)) for name, share in SHARES.items()}
    L = "ABCDEFGHIJ"

    def medqa(n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            opts = w.options(4)
            k = rng.randrange(4)
            yield {"question": w.text(rng.randint(40, 120)), "answer": opts[k], "options": dict(zip(L, opts)),
                   "meta_info": rng.choice(["step1", "step2&3"]), "answer_idx": L[k],
                   "metamap_phrases": vocab.sample(rng, rng.randint(5, 15))}

    for split, n in _splits(counts["medqa"], {"train": 0.8, "dev": 0.1, "test": 0.1}):
        _jsonl(root / f"medqa/US/4_options/phrases_no_exclude_{split}.jsonl", medqa(n))

    def medmcqa(n: int, prefix: str) -> Iterator[dict[str, Any]]:
        last: dict[str, Any] | None = None
        for i in range(n):
            if last is not None and rng.random() < 0.002:  # a repeated item (screening: duplicate)
                yield {**last, "id": f"{prefix}-{i:07d}"}
                continue
            opts = w.options(4)
            last = {"id": f"{prefix}-{i:07d}", "question": w.text(rng.randint(10, 40)),
                    "opa": opts[0], "opb": opts[1], "opc": opts[2], "opd": opts[3], "cop": rng.randint(1, 4),
                    "choice_type": "single", "exp": w.text(rng.randint(20, 80), "."),
                    "subject_name": rng.choice(["Anatomy", "Pharmacology", "Medicine", "Surgery"]),
                    "topic_name": " ".join(vocab.sample(rng, 2))}
            yield last

    for split, n in _splits(counts["medmcqa"], {"train": 0.9, "dev": 0.1}):
        _jsonl(root / f"medmcqa/{split}.json", medmcqa(n, split))

    def headqa(n: int, split: str) -> dict[str, Any]:
        exams: dict[str, Any] = {}
        per_exam = 200
        for e in range(0, n, per_exam):
            name = f"Cuaderno_{2010 + e // per_exam}_{split}"
            data = []
            for q in range(min(per_exam, n - e)):
                opts = w.options(rng.choice([4, 5]))
                data.append({"qid": q + 1, "qtext": w.text(rng.randint(20, 90)), "ra": rng.randint(1, len(opts)),
                             "image": "", "answers": [{"aid": i + 1, "atext": o} for i, o in enumerate(opts)]})
            exams[name] = {"name": name, "year": str(2010 + e // per_exam), "category": "medicine", "data": data}
        return {"version": "1.0", "language": "es", "exams": exams}

    for split, n in _splits(counts["headqa"], {"train": 0.45, "dev": 0.2, "test": 0.35}):
        p = root / f"headqa/es/{split}_HEAD.json"
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(json.dumps(headqa(n, split), ensure_ascii=False, indent=2), encoding="utf-8")

    def medexpqa(n: int, start: int) -> Iterator[dict[str, Any]]:
        for i in range(n):
            opts = w.options(5, 2, 8)
            k = rng.randint(1, 5)
            yield {"id": start + i, "year": rng.randint(2008, 2023), "full_question": w.text(rng.randint(50, 130)),
                   "options": {str(j + 1): o for j, o in enumerate(opts)}, "correct_option": k,
                   "explanations": {str(j + 1): {"text": w.text(rng.randint(8, 20), "."), "char_ranges": []}
                                    for j in range(5)},
                   "full_answer": w.text(rng.randint(30, 80), "."), "type": rng.choice(["CARDIOLOGY", "INFECTIOUS"]),
                   "lang": "en", "rag": {}}

    start = 1
    for split, n in _splits(counts["medexpqa"], {"train": 0.7, "dev": 0.1, "test": 0.2}):
        _jsonl(root / f"medexpqa/{split}.en.casimedicos.rag.jsonl", medexpqa(n, start))
        start += n

    def mmlu_pro(n: int, start: int) -> Iterator[dict[str, Any]]:
        for i in range(n):
            opts = w.options(10)
            k = rng.randrange(10)
            health = rng.random() < 0.95  # the rest is outside health (screening: irrelevance)
            yield {"question_id": start + i, "question": w.text(rng.randint(20, 80)), "options": opts, "answer": L[k],
                   "answer_index": k, "cot_content": "", "category": "health" if health else "law",
                   "src": "ori_mmlu-clinical_knowledge"}

    start = 1
    for split, n in _splits(counts["mmlu_pro"], {"validation": 0.05, "test": 0.95}):
        _jsonl(root / f"mmlu_pro/data/{split}.jsonl", mmlu_pro(n, start))
        start += n

    def mednli(n: int, split: str) -> Iterator[dict[str, Any]]:
        for i in range(n):
            yield {"sentence1": w.text(rng.randint(25, 80), "."), "sentence2": w.text(rng.randint(6, 20), "."),
                   "gold_label": rng.choice(["entailment", "neutral", "contradiction"]),
                   "pairID": hashlib.md5(f"{seed}-mednli-{split}-{i}".encode()).hexdigest()}

    for split, n in _splits(counts["mednli"], {"train": 0.85, "dev": 0.075, "test": 0.075}):
        _jsonl(root / f"mednli/mli_{split}_v1.jsonl", mednli(n, split))

    def bionli(n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            yield {"pmid": str(rng.randint(10_000_000, 39_999_999)), "supp_set": w.text(rng.randint(40, 110), "."),
                   "conclusion": w.text(rng.randint(10, 30), "."), "label_cat": rng.choice(["pos", "neg"]),
                   "perturbation": rng.choice(["original", "swap_entities", "negation"])}

    for split, n in _splits(counts["bionli"], {"train": 0.8, "dev": 0.1, "test": 0.1}):
        _jsonl(root / f"bionli/{split}.jsonl", bionli(n))

    pub: dict[str, Any] = {}
    for i in range(counts["pubmedqa"]):
        pub[str(20_000_000 + i * 7)] = {
            "QUESTION": w.text(rng.randint(10, 25)),
            "CONTEXTS": [w.text(rng.randint(30, 60), ".") for _ in range(rng.randint(2, 3))],
            "LABELS": ["BACKGROUND", "METHODS", "RESULTS"][: 3], "MESHES": vocab.sample(rng, 5),
            "YEAR": str(rng.randint(1990, 2020)), "reasoning_required_pred": "yes", "reasoning_free_pred": "yes",
            "final_decision": rng.choice(["yes", "no", "maybe"]), "LONG_ANSWER": w.text(rng.randint(15, 40), "."),
        }
    (root / "pubmedqa").mkdir(parents=True, exist_ok=True)
    (root / "pubmedqa/ori_pqal.json").write_text(json.dumps(pub, ensure_ascii=False, indent=4), encoding="utf-8")

    (root / "liveqa").mkdir(parents=True, exist_ok=True)
    with open(root / "liveqa/med-qs-and-reference-answers.xml", "w", encoding="utf-8") as fh:
        fh.write('<?xml version="1.0" encoding="UTF-8"?>\n<LiveQA-Medical-Test-Set>\n')
        for i in range(counts["liveqa"]):
            fh.write(f'  <NLM-QUESTION qid="TQ{i + 1}">\n    <ORIGINAL-QUESTION>\n'
                     f'      <SUBJECT>{xml_escape(" ".join(vocab.sample(rng, 3)))}</SUBJECT>\n'
                     f'      <MESSAGE>{xml_escape(w.text(rng.randint(20, 70)))}</MESSAGE>\n    </ORIGINAL-QUESTION>\n'
                     f'    <NIST-PARAPHRASE>{xml_escape(w.text(rng.randint(8, 20)))}</NIST-PARAPHRASE>\n'
                     f'    <ReferenceAnswers>\n      <RefAnswer aid="1">\n'
                     f'        <ANSWER>{xml_escape(w.text(rng.randint(40, 120), "."))}</ANSWER>\n'
                     f'        <AnswerURL>https://example.org/liveqa/{i + 1}</AnswerURL>\n'
                     f'      </RefAnswer>\n    </ReferenceAnswers>\n  </NLM-QUESTION>\n')
        fh.write("</LiveQA-Medical-Test-Set>\n")

    def expertqa(n: int) -> Iterator[dict[str, Any]]:
        for _ in range(n):
            r = rng.random()
            field = "Biology" if r < 0.45 else "Healthcare / Medicine" if r < 0.97 else "Chemistry"
            answer = w.text(rng.randint(40, 120), ".")
            yield {"question": w.text(rng.randint(8, 30)),
                   "answers": {"gpt4": {"answer_string": answer, "revised_answer_string": answer,
                                        "claims": [{"claim_string": s + ".", "evidence": [], "support": "Complete",
                                                    "reliability": "Reliable"} for s in answer.split(". ")[:3]],
                                        "attribution": [], "usefulness": "Helpful"}},
                   "metadata": {"field": field, "specific_field": " ".join(vocab.sample(rng, 2)),
                                "question_type": "Directed question that has a single unambiguous answer"}}

    _jsonl(root / "expertqa/r2_compiled_anon.jsonl", expertqa(counts["expertqa"]))
    return counts


# ------------------------------------------------------------------------------------------------
# Translations: one line per kept source record, for each other language
# ------------------------------------------------------------------------------------------------
_PUNCT = ".,?;:!"


class Translator:
    def __init__(self, vocab: Vocab, lang: str):
        self.map = vocab.maps.get(lang, {w: w for w in vocab.words}) if lang != "en" else None
        self.lang = lang
        self.cjk = lang in ("zh", "ja")
        self.cache: dict[str, str] = {}
        self.full_stop = "。" if self.cjk else "."
        self.question = "？" if self.cjk else "?"

    def token(self, tok: str) -> str:
        hit = self.cache.get(tok)
        if hit is not None:
            return hit
        core = tok.rstrip(_PUNCT)
        tail = tok[len(core):]
        if any(c.isdigit() for c in core) or core in UNIT_SET or self.map is None:
            out = core  # numbers and units are kept as they are (the build checks them)
        else:
            out = self.map.get(core.lower(), core)
        tail = tail.replace(".", self.full_stop).replace("?", self.question)
        out += tail
        self.cache[tok] = out
        return out

    def __call__(self, text: str) -> str:
        toks = [self.token(t) for t in text.split()]
        if self.cjk:  # no spaces between words, but keep them around numbers and units
            out = []
            for i, t in enumerate(toks):
                if i and (t[:1].isascii() or toks[i - 1][-1:].isascii()):
                    out.append(" ")
                out.append(t)
            return "".join(out)
        return " ".join(toks)


def write_translations(root: Path, vocab: Vocab) -> int:
    sys.path.insert(0, str(ROOT))
    from globmed import registry
    from globmed.screening import Screener
    from globmed.sources import find_files, read_dataset

    # Read every kept record once (they are small), then write each language.
    kept: dict[str, list[Any]] = {}
    for name in registry.names():
        spec = registry.get(name)
        if find_files(root, spec):
            kept[name] = list(Screener(spec)(read_dataset(root, spec)))
    n = 0
    for lang in LANGS:
        tr = Translator(vocab, lang)
        for name, records in kept.items():
            spec = registry.get(name)
            if lang == spec.language:
                continue
            path = root / "translations" / name / f"{lang}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "w", encoding="utf-8") as fh:
                for rec in records:
                    row: dict[str, Any] = {"id": rec.id}
                    for field in rec.text_fields:
                        value = getattr(rec, field)
                        if value is None:
                            continue
                        row[field] = [tr(v) for v in value] if isinstance(value, list) else tr(value)
                    row["status"] = "ok"
                    row["trace"] = {"model": "synthetic", "attempts": 1}
                    fh.write(json.dumps(row, ensure_ascii=False) + "\n")
                    n += 1
    return n


def corpus_dir(args: argparse.Namespace) -> Path:
    base = Path(args.cache_dir) if args.cache_dir else Path(tempfile.gettempdir()) / "globmed-bench"
    return base / f"corpus-v{GEN_VERSION}-{args.items}-{args.seed}"


def ensure_corpus(args: argparse.Namespace) -> tuple[Path, dict[str, Any]]:
    root = corpus_dir(args)
    done = root / ".complete.json"
    if done.exists() and not args.regenerate:
        info = json.loads(done.read_text())
        print(f"reusing the corpus in {root} ({info['source_items']} source items, "
              f"{info['translation_rows']} translation rows)", flush=True)
        return root, info
    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    print(f"generating the corpus in {root} ...", flush=True)
    t0 = time.perf_counter()
    vocab = Vocab(args.seed)
    counts = write_sources(root, args.items, args.seed, vocab)
    t1 = time.perf_counter()
    n_tr = write_translations(root, vocab)
    t2 = time.perf_counter()
    (root / "SYNTHETIC.txt").write_text("Synthetic benchmark corpus written by benchmarks/data_build.py "
                                        "(random words; not GlobMed data).\n")
    info = {"source_items": sum(counts.values()), "per_source": counts, "translation_rows": n_tr,
            "bytes": sum(p.stat().st_size for p in root.rglob("*") if p.is_file()),
            "generate_sources_s": round(t1 - t0, 1), "generate_translations_s": round(t2 - t1, 1)}
    done.write_text(json.dumps(info, indent=2))
    print(f"generated in {t2 - t0:.0f} s: {info}", flush=True)
    return root, info


# ------------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------------
def baseline_read(root: Path) -> tuple[float, int]:
    """Lower bound: read every input file and parse it (json.loads per line / per document, expat)."""
    from xml.parsers import expat

    n = 0
    t0 = time.perf_counter()
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name.startswith(".") or path.suffix not in (".json", ".jsonl", ".xml"):
            continue
        if path.suffix == ".jsonl" or (path.suffix == ".json" and path.parent.name == "medmcqa"):
            with open(path, "rb") as fh:
                for line in fh:
                    if line.strip():
                        json.loads(line)
                        n += 1
        elif path.suffix == ".json":
            doc = json.loads(path.read_bytes())
            n += sum(len(e["data"]) for e in doc["exams"].values()) if "exams" in doc else len(doc)
        else:
            p = expat.ParserCreate()
            p.Parse(path.read_bytes(), True)
    return time.perf_counter() - t0, n


_CHILD = r"""
import json, resource, sys, time
from pathlib import Path
sources, out, mode = sys.argv[1], sys.argv[2], sys.argv[3]
sys.path.insert(0, sys.argv[4])
from rich.console import Console
from globmed.hub.build import BuildSettings, build
rss0 = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
console = Console(stderr=True, quiet=True)
settings = BuildSettings(sources=Path(sources), out=Path(out), overwrite=True)
result = {"rss_before_kb": rss0}
if mode == "tracemalloc":
    import tracemalloc
    tracemalloc.start()
    t0 = time.perf_counter(); r = build(settings, console); t = time.perf_counter() - t0
    result["heap_peak_bytes"] = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
elif mode == "profile":
    import cProfile, pstats, io
    prof = cProfile.Profile()
    t0 = time.perf_counter(); r = prof.runcall(build, settings, console); t = time.perf_counter() - t0
    prof.dump_stats(sys.argv[5])
    s = io.StringIO()
    pstats.Stats(prof, stream=s).sort_stats("tottime").print_stats(25)
    pstats.Stats(prof, stream=s).sort_stats("cumulative").print_stats(40)
    result["profile"] = s.getvalue()
else:
    t0 = time.perf_counter(); r = build(settings, console); t = time.perf_counter() - t0
result["seconds"] = t
result["rows"] = sum(sum(v.values()) for v in r.configs.values())
result["configs"] = len(r.configs)
result["removed"] = len(r.screening["removed"])
result["translation_problems"] = len(r.translation_problems)
print("RESULT " + json.dumps(result))
"""


def run_child(cmd: list[str], env: dict[str, str] | None = None) -> tuple[float, int, str, str]:
    """(wall s, peak RSS KiB of that child alone, stdout, stderr)."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env)
        _, status, usage = os.wait4(proc.pid, 0)
        proc.returncode = os.waitstatus_to_exitcode(status)
        wall = time.perf_counter() - t0
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode("utf-8", "replace"), err.read().decode("utf-8", "replace")
    if proc.returncode != 0:
        raise SystemExit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{stderr[-4000:]}")
    return wall, usage.ru_maxrss, stdout, stderr


def in_process(root: Path, out: Path, mode: str, prof_path: Path | None = None) -> dict[str, Any]:
    cmd = [sys.executable, "-c", _CHILD, str(root), str(out), mode, str(ROOT)]
    if prof_path:
        cmd.append(str(prof_path))
    wall, rss, stdout, _ = run_child(cmd)
    line = next(l for l in stdout.splitlines() if l.startswith("RESULT "))
    result = json.loads(line[7:])
    result.update(wall=wall, peak_rss_kb=rss)
    return result


def fmt_mb(kb: float) -> str:
    return f"{kb / 1024:,.0f} MiB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--items", type=int, default=41_700, help="source items (x12 languages = rows)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache-dir", default=None, help="where the corpus is cached (default: $TMPDIR/globmed-bench)")
    ap.add_argument("--regenerate", action="store_true", help="rebuild the cached corpus")
    ap.add_argument("--tracemalloc", action="store_true", help="also measure the peak Python heap (slow)")
    ap.add_argument("--profile", action="store_true", help="also run the build under cProfile and print the top")
    ap.add_argument("--skip-cli", action="store_true", help="do not time the CLI")
    args = ap.parse_args()

    root, info = ensure_corpus(args)
    input_bytes = sum(p.stat().st_size for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))
    # The largest dataset, with all its languages (what a per-dataset pass could hold at once).
    per_ds: dict[str, int] = {}
    for p in root.rglob("*"):
        if p.is_file() and not p.name.startswith("."):
            rel = p.relative_to(root).parts
            ds = rel[1] if rel[0] == "translations" else rel[0]
            ds = "expertqa" if ds.startswith("expertqa") else ds
            per_ds[ds] = per_ds.get(ds, 0) + p.stat().st_size
    largest = max(per_ds, key=per_ds.get)

    work = Path(tempfile.mkdtemp(prefix="globmed-build-bench-"))
    results: dict[str, Any] = {"load_before": os.getloadavg(), "corpus": str(root), "source_items": info["source_items"],
                               "input_bytes": input_bytes, "largest_dataset": largest,
                               "largest_dataset_bytes": per_ds[largest]}
    try:
        print("baseline: read + json.loads every input line ...", flush=True)
        base_s, base_items = baseline_read(root)
        results["baseline_s"] = base_s
        results["baseline_lines"] = base_items
        print(f"  {base_s:.2f} s for {base_items:,} lines/items", flush=True)

        print("in-process build (globmed.hub.build.build) in a child process ...", flush=True)
        r = in_process(root, work / "out-inproc", "plain")
        results["inproc"] = r
        print(f"  {r['seconds']:.1f} s, {r['rows']:,} rows in {r['configs']} configs, peak RSS {fmt_mb(r['peak_rss_kb'])}",
              flush=True)
        shutil.rmtree(work / "out-inproc", ignore_errors=True)

        if not args.skip_cli:
            print("CLI: globmed data build ...", flush=True)
            cli = str(Path(sys.executable).parent / "globmed")
            cmd = [cli, "data", "build", "--sources", str(root), "--out", str(work / "out-cli"), "--overwrite"]
            env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
            wall, rss, _, _ = run_child(cmd, env)
            results["cli"] = {"wall": wall, "peak_rss_kb": rss, "command": " ".join(cmd)}
            print(f"  {wall:.1f} s wall, peak RSS {fmt_mb(rss)}", flush=True)
            shutil.rmtree(work / "out-cli", ignore_errors=True)

        if args.tracemalloc:
            print("in-process build under tracemalloc (peak Python heap; slower) ...", flush=True)
            t = in_process(root, work / "out-tm", "tracemalloc")
            results["tracemalloc"] = {"heap_peak_bytes": t["heap_peak_bytes"], "seconds": t["seconds"]}
            print(f"  peak Python heap {t['heap_peak_bytes'] / 2**20:,.0f} MiB", flush=True)
            shutil.rmtree(work / "out-tm", ignore_errors=True)

        if args.profile:
            RESULTS.mkdir(parents=True, exist_ok=True)
            prof_path = RESULTS / "data_build.pstats"
            print("in-process build under cProfile ...", flush=True)
            p = in_process(root, work / "out-prof", "profile", prof_path)
            results["profile_file"] = str(prof_path)
            print(p["profile"])
            shutil.rmtree(work / "out-prof", ignore_errors=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    results["load_after"] = os.getloadavg()
    # ---------------------------------------------------------------- summary
    rows = r["rows"]
    total_wall = results["cli"]["wall"] if "cli" in results else r["wall"]
    peak_kb = max(r["peak_rss_kb"], results.get("cli", {}).get("peak_rss_kb", 0))
    summary = [
        ("source items / output rows / configs", f"{info['source_items']:,} / {rows:,} / {r['configs']}", ""),
        ("input size", f"{input_bytes / 2**20:,.0f} MiB", f"largest dataset: {largest} {per_ds[largest] / 2**20:,.0f} MiB"),
        ("baseline: read + json.loads every line", f"{base_s:.2f} s", "1.00x (lower bound)"),
        ("build() in-process", f"{r['seconds']:.1f} s = {rows / r['seconds']:,.0f} rows/s",
         f"{r['seconds'] / base_s:.1f}x baseline"),
    ]
    if "cli" in results:
        c = results["cli"]
        summary.append(("`globmed data build` CLI wall", f"{c['wall']:.1f} s = {rows / c['wall']:,.0f} rows/s",
                        f"{c['wall'] / base_s:.1f}x baseline"))
    summary.append(("peak RSS (build process)", fmt_mb(peak_kb),
                    f"{peak_kb * 1024 / input_bytes:.2f}x input; {peak_kb * 1024 / per_ds[largest]:.2f}x largest dataset"))
    summary.append(("RSS before build (imports)", fmt_mb(r["rss_before_kb"]), ""))
    if "tracemalloc" in results:
        summary.append(("peak Python heap (tracemalloc)", f"{results['tracemalloc']['heap_peak_bytes'] / 2**20:,.0f} MiB", ""))
    summary.append(("load average before / after", f"{results['load_before'][0]:.2f} / {results['load_after'][0]:.2f}",
                    "(other processes on this 2-core machine add noise)"))
    target_time = total_wall < 120
    summary.append(("TARGET whole build < 120 s", f"{total_wall:.1f} s", "MET" if target_time else "MISSED"))
    results["summary"] = {k: v for k, v, _ in summary}
    results["targets"] = {"build_under_120s": target_time, "wall_s": total_wall, "peak_rss_mib": peak_kb / 1024}

    width = max(len(k) for k, _, _ in summary)
    print("\n=== data_build summary (ratios against the baseline measured in this run) ===")
    for k, v, note in summary:
        print(f"{k:<{width}}  {v:<32} {note}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "data_build.json").write_text(json.dumps(results, indent=2, default=str))
    print(f"(written to {RESULTS / 'data_build.json'})")


if __name__ == "__main__":
    main()
