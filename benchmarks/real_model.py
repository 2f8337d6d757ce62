"""Issue 18's 64-request run with a real model, before and after the stopping rules, in one run.

SmolLM2-135M-Instruct (`globmed models fetch smollm2-135m`) on the shipped sample, generate mode,
MedQA and MedNLI in en/es/sw/zh, 8 items each, one run, local transformers backend: 64 requests. Each
budget is a fresh `globmed bench run` (its own results folder: nothing comes from a store):
  - `512`: the old default (`--max-tokens 512` for MCQA/NLI), the "before" of the issue;
  - `default`: the per-task budgets (32 new tokens for MCQA/NLI; the model does not reason first).
Printed per budget: wall and CPU seconds of the bench process (CPU: the child's user+sys), new tokens
generated, requests/s, and per language the unparsed share and the finish reasons; then the speedup
(wall and CPU) of each budget against the first. Every output goes to
benchmarks/results/real_model_outputs.jsonl (language, dataset, id, budget, output, finish reason, gold,
extracted answer): cases for the extraction corpus. JSON figures: benchmarks/results/real_model.json.

    .venv/bin/python benchmarks/real_model.py                  # both budgets (the 512 one takes minutes)
    .venv/bin/python benchmarks/real_model.py --budgets default
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DATASETS, LANGUAGES, LIMIT = "medqa,mednli", "en,es,sw,zh", 8


def globmed(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "globmed", *args], cwd=ROOT, env=env, capture_output=True, text=True)


def run_budget(budget: str, model: str, data: Path, work: Path, env: dict[str, str]) -> dict:
    out = work / f"out-{budget}"
    args = ["bench", "run", "--backend", "transformers", "--model", model, "--name", f"smollm2-135m ({budget})",
            "--data", str(data), "--out", str(out), "--datasets", DATASETS, "--languages", LANGUAGES,
            "--limit", str(LIMIT), "--runs", "1", "--mode", "generate", "--no-progress"]
    if budget != "default":
        args += ["--max-tokens", budget]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = globmed(*args, env=env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"globmed bench run failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    import pyarrow.parquet as pq

    rows = []
    for folder in sorted(out.glob("details.*")):
        _, dataset, language = folder.name.split(".")
        for r in pq.read_table(next(folder.glob("*.parquet"))).to_pylist():
            rows.append({"language": language, "dataset": dataset, "id": r["id"], "budget": budget,
                         "output": r["output"], "finish_reason": r["finish_reason"], "tokens_out": r["tokens_out"],
                         "gold": r["gold"], "pred": r["pred"], "unparsed": r["unparsed"]})
    per_lang: dict[str, dict] = {}
    by_lang: dict[str, list[dict]] = defaultdict(list)
    for r in rows:
        by_lang[r["language"]].append(r)
    for lang, rs in sorted(by_lang.items()):
        per_lang[lang] = {"n": len(rs), "unparsed": sum(r["unparsed"] for r in rs) / len(rs),
                          "finish": dict(Counter(r["finish_reason"] for r in rs)),
                          "tokens_out": sum(r["tokens_out"] or 0 for r in rs)}
    return {"budget": budget, "requests": len(rows), "wall_s": wall,
            "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
            "tokens_out": sum(r["tokens_out"] or 0 for r in rows), "per_language": per_lang, "rows": rows}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budgets", default="512,default", help="comma-separated: a number (--max-tokens) or default")
    ap.add_argument("--threads", type=int, default=None, help="torch threads (OMP_NUM_THREADS) for the bench")
    ap.add_argument("--work", type=Path, default=None, help="work folder (default: a temporary one)")
    a = ap.parse_args()
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1"}
    if a.threads:
        env["OMP_NUM_THREADS"] = str(a.threads)
    print(f"load average before: {os.getloadavg()}")
    fetched = globmed("models", "fetch", "smollm2-135m", env=env)
    if fetched.returncode != 0:
        sys.exit(f"globmed models fetch failed:\n{fetched.stderr[-3000:]}")
    model = fetched.stdout.strip()
    with tempfile.TemporaryDirectory() as tmp:
        work = a.work or Path(tmp)
        data = work / "globmed"
        if not (data / "README.md").exists():
            built = globmed("data", "build", "--sources", "sample", "--out", str(data), "--datasets", DATASETS,
                            "--languages", LANGUAGES, "--overwrite", env=env)
            if built.returncode != 0:
                sys.exit(f"globmed data build failed:\n{built.stderr[-3000:]}")
        runs = [run_budget(b.strip(), model, data, work, env) for b in a.budgets.split(",")]
    print(f"load average after: {os.getloadavg()}\n")
    base = runs[0]
    print(f"{'budget':>8} {'requests':>8} {'wall s':>8} {'CPU s':>8} {'new tokens':>10} {'req/s':>7} "
          f"{'wall speedup':>12} {'CPU speedup':>11}")
    for r in runs:
        print(f"{r['budget']:>8} {r['requests']:>8} {r['wall_s']:>8.1f} {r['cpu_s']:>8.1f} {r['tokens_out']:>10} "
              f"{r['requests'] / r['wall_s']:>7.3f} {base['wall_s'] / r['wall_s']:>11.2f}x {base['cpu_s'] / r['cpu_s']:>10.2f}x")
    for r in runs:
        print(f"\nbudget {r['budget']}: per language (unparsed share; finish reasons; new tokens)")
        for lang, v in r["per_language"].items():
            finish = ", ".join(f"{k} {n}" for k, n in sorted(v["finish"].items(), key=lambda kv: -kv[1]))
            print(f"  {lang}: unparsed {100 * v['unparsed']:.0f}% of {v['n']}; {finish}; {v['tokens_out']} tokens")
    RESULTS.mkdir(parents=True, exist_ok=True)
    with open(RESULTS / "real_model_outputs.jsonl", "w", encoding="utf-8") as fh:
        for r in runs:
            for row in r["rows"]:
                fh.write(json.dumps(row, ensure_ascii=False) + "\n")
    summary = [{k: v for k, v in r.items() if k != "rows"} for r in runs]
    (RESULTS / "real_model.json").write_text(json.dumps({"runs": summary, "load_average": os.getloadavg()}, indent=2))
    print(f"\nwrote {RESULTS / 'real_model.json'} and {RESULTS / 'real_model_outputs.jsonl'}")


if __name__ == "__main__":
    main()
