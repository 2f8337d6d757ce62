"""Benchmark: the SFT set-up of `globmed train sft` against TRL's plain padded baseline (CPU, tiny model).

What it measures
  Training throughput in real (non-padding) tokens per second, on the same data, in the same
  order, for the same number of optimizer steps, with the same model initialisation:

  - ours      : what `globmed train sft` does: TRL's padding-free collator (a batch's conversations
                concatenated into one row, position ids restarting per conversation) with attention
                restricted to each conversation (flash-attention varlen on a GPU; here, on CPU,
                globmed's `globmed_varlen` SDPA, see globmed/train/attention.py);
  - baseline  : TRL's plain SFTTrainer set-up: padded batches (pad to the longest conversation of
                the batch) with SDPA and an attention mask;
  - also shown: TRL padding-free with stock SDPA (transformers then builds a dense block-diagonal
                mask over the whole concatenated batch), and TRL's best-fit-decreasing packing.

  Every run uses the prompt/completion conversations of the shipped sample in all 12 languages
  (the `all` language mode: 1,140 conversations of 100-800 tokens), the tiny Qwen3-style model of
  the smoke recipe (globmed.tiny_model), per-device batch 8, loss on the answers only. Each run is
  a fresh child process, so its peak RSS (resource.getrusage) is its own; the runs alternate and
  repeat (the machine is shared: the median is reported). Tokens/s = real tokens trained on /
  trainer.train() wall time (model loading and tokenization excluded, the same for all); tokens per
  CPU-second divides by the process's CPU time instead, which other jobs on a shared machine
  disturb far less. Runs use one torch thread by default (--threads), so that a busy machine does
  not make threads wait on each other.

  Same data, same steps: ours and the padded baseline see exactly the same conversations per
  step, so their loss curves must agree up to floating-point noise; the script prints the final
  losses and the largest per-step difference.

Target (issue 5, "Performance"): ours >= 1.5x the padded baseline's tokens/s.

Run
  .venv/bin/python benchmarks/train.py [--steps 30] [--batch 8] [--repeats 3]
Prints a table and writes benchmarks/results/train.json.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = ROOT / "globmed" / "sample" / "sources"
CONFIGS = {
    "ours": {"padding_free": True, "packing": False, "attn_implementation": "globmed_varlen"},
    "baseline": {"padding_free": False, "packing": False, "attn_implementation": "sdpa"},
    "trl-padding-free-sdpa": {"padding_free": True, "packing": False, "attn_implementation": "sdpa"},
    "trl-packing-bfd": {"padding_free": True, "packing": True, "attn_implementation": "globmed_varlen"},
}

CHILD = r"""
import json, os, resource, sys, time
import torch
torch.set_num_threads(int(sys.argv[2]))
from globmed.settings import coerce
from globmed.train.settings import SFTSettings
from globmed.train.sft import prepare

cfg = json.loads(sys.argv[1])
settings = coerce(SFTSettings, cfg)
p = prepare(settings)
from itertools import islice
# what a step computes on: every position of the batch tensors (padding included), for `steps` batches
positions = sum(b["input_ids"].numel() for b in islice(p.trainer.get_train_dataloader(), cfg["max_steps"]))
rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
t0, c0 = time.perf_counter(), time.process_time()
result = p.trainer.train()
seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
losses = [h["loss"] for h in p.trainer.state.log_history if "loss" in h]
print("RESULT " + json.dumps({"seconds": seconds, "cpu_seconds": cpu, "tokens": p.trainer.state.num_input_tokens_seen,
                              "steps": p.trainer.state.global_step, "losses": losses, "positions": positions,
                              "peak_rss_mb": rss / 1024, "rss_before_train_mb": rss_before / 1024,
                              "attn": p.attn}))
"""


def run_config(name: str, work: Path, data: Path, base_model: Path, steps: int, batch: int, max_length: int,
               threads: int, bf16: str = "false") -> dict:
    cfg = {
        "data": str(data), "split": "test,validation", "language_mode": "all", "seed": 7,
        "model": str(base_model), "output_dir": str(work / f"out-{name}"),
        "learning_rate": 1e-3, "global_batch_size": batch, "per_device_train_batch_size": batch,
        "num_train_epochs": 1, "max_steps": steps, "warmup_ratio": 0.1, "lr_scheduler_type": "cosine",
        "bf16": bf16, "gradient_checkpointing": False, "max_length": max_length, "logging_steps": 1,
        "save_steps": 100000, "report_to": ["none"], "resume": False, **CONFIGS[name],
    }
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
           "HF_HOME": str(work / "hf_home"), "DISABLE_TQDM": "1", "OMP_NUM_THREADS": str(threads)}
    proc = subprocess.run([sys.executable, "-c", CHILD, json.dumps(cfg), str(threads)], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=1800)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"{name} failed (rc {proc.returncode}):\n{proc.stderr[-4000:]}")
    out = json.loads(lines[-1][len("RESULT "):])
    out["tokens_per_s"] = out["tokens"] / out["seconds"]
    out["tokens_per_cpu_s"] = out["tokens"] / out["cpu_seconds"]
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--max-length", type=int, default=2048)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per run (1: robust on a shared machine)")
    parser.add_argument("--hidden-size", type=int, default=64, help="tiny model width (64: the smoke recipe's model)")
    parser.add_argument("--layers", type=int, default=2, help="tiny model depth (2: the smoke recipe's model)")
    parser.add_argument("--bf16", default="false", choices=["false", "auto", "true"],
                        help="false: float32 everywhere (CPU); auto: bf16 where a GPU supports it (benchmarks/gpu_check.py)")
    parser.add_argument("--configs", default=",".join(CONFIGS), help="comma-separated: " + ", ".join(CONFIGS))
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    names = [n.strip() for n in args.configs.split(",") if n.strip()]

    sys.path.insert(0, str(ROOT))
    from rich.console import Console

    from globmed.hub.build import BuildSettings, build
    from globmed.io import write_json
    from globmed.tiny_model import build_tiny_model, sample_texts

    work = args.workdir or Path(tempfile.mkdtemp(prefix="globmed-train-bench-"))
    data = work / "data"
    if not (data / "README.md").exists():
        build(BuildSettings(sources=SAMPLE, out=data, overwrite=True), console=Console(quiet=True))
    base = work / f"tiny-model-h{args.hidden_size}-l{args.layers}"
    if not (base / "config.json").exists():
        build_tiny_model(base, sample_texts(data), hidden_size=args.hidden_size, layers=args.layers)
    print(f"workdir {work}; tiny model hidden {args.hidden_size} x {args.layers} layers; {args.steps} steps x batch "
          f"{args.batch}; {args.threads} thread(s); {args.repeats} repeat(s); configs: {', '.join(names)}", flush=True)

    runs: dict[str, list[dict]] = {n: [] for n in names}
    for r in range(args.repeats):
        for name in names:
            t = time.perf_counter()
            res = run_config(name, work, data, base, args.steps, args.batch, args.max_length, args.threads,
                             args.bf16)
            runs[name].append(res)
            print(f"  repeat {r + 1} {name:<22} {res['tokens_per_s']:8.0f} tok/s  {res['tokens_per_cpu_s']:8.0f} tok/CPU-s  "
                  f"{res['seconds']:6.1f} s train "
                  f"({time.perf_counter() - t:5.1f} s with start-up)  final loss {res['losses'][-1]:.4f}  "
                  f"peak RSS {res['peak_rss_mb']:.0f} MB", flush=True)

    summary = {}
    for name, rs in runs.items():
        summary[name] = {
            "tokens_per_s_median": statistics.median(r["tokens_per_s"] for r in rs),
            "tokens_per_cpu_s_median": statistics.median(r["tokens_per_cpu_s"] for r in rs),
            "tokens_per_s_all": [round(r["tokens_per_s"], 1) for r in rs],
            "tokens_per_cpu_s_all": [round(r["tokens_per_cpu_s"], 1) for r in rs],
            "train_seconds_median": statistics.median(r["seconds"] for r in rs),
            "tokens": rs[0]["tokens"], "positions": rs[0]["positions"], "steps": rs[0]["steps"],
            "final_loss": rs[0]["losses"][-1],
            "peak_rss_mb": max(r["peak_rss_mb"] for r in rs),
            "rss_growth_in_train_mb": max(r["peak_rss_mb"] - r["rss_before_train_mb"] for r in rs),
            "attn": rs[0]["attn"], "losses": rs[0]["losses"],
        }
    base = summary.get("baseline")
    print("\nconfig                   tokens/s  ratio  tokens/CPU-s  ratio  real tokens  final loss  peak RSS MB (+ in train)")
    for name, s in summary.items():
        s["ratio_to_baseline"] = s["tokens_per_s_median"] / base["tokens_per_s_median"] if base else None
        s["cpu_ratio_to_baseline"] = s["tokens_per_cpu_s_median"] / base["tokens_per_cpu_s_median"] if base else None
        print(f"{name:<24} {s['tokens_per_s_median']:8.0f} {s['ratio_to_baseline'] or 0:5.2f}x {s['tokens_per_cpu_s_median']:12.0f} "
              f"{s['cpu_ratio_to_baseline'] or 0:5.2f}x {s['tokens']:12d} {s['final_loss']:11.4f} {s['peak_rss_mb']:8.0f} "
              f"({s['rss_growth_in_train_mb']:+.0f})")
    if "ours" in summary and base:
        a, b = summary["ours"]["losses"], base["losses"]
        diff = max(abs(x - y) for x, y in zip(a, b)) if a and b else float("nan")
        ratio, cpu_ratio = summary["ours"]["ratio_to_baseline"], summary["ours"]["cpu_ratio_to_baseline"]
        # each repeat runs ours right before the baseline: its own ratio shows how much the machine moved
        paired = [o["tokens_per_s"] / b["tokens_per_s"] for o, b in zip(runs["ours"], runs["baseline"])]
        summary["ours"]["ratio_per_repeat"] = [round(r, 3) for r in paired]
        print(f"\nours vs TRL's padded baseline: {ratio:.2f}x tokens/s (wall), {cpu_ratio:.2f}x tokens per CPU-second "
              f"(target >= 1.5x: {'met' if min(ratio, cpu_ratio) >= 1.5 else 'NOT met'}); the same "
              f"{summary['ours']['tokens']} real tokens in {summary['ours']['steps']} steps; each repeat's own ratio "
              f"{', '.join(f'{r:.2f}x' for r in paired)}; final loss "
              f"{summary['ours']['final_loss']:.4f} vs {base['final_loss']:.4f} (largest per-step difference {diff:.1e}); "
              f"peak RSS {summary['ours']['peak_rss_mb']:.0f} vs {base['peak_rss_mb']:.0f} MB")
        summary["loss_max_abs_diff_ours_vs_baseline"] = diff
        ceiling = base["positions"] / base["tokens"]
        summary["padding_ceiling"] = ceiling
        print(f"the padded baseline computes on {base['positions']} positions for {base['tokens']} real tokens: removing "
              f"padding can save at most {ceiling:.2f}x of the token-proportional work on this data and batch size "
              f"(on CPU, TRL's fused LM head scores every position of the batch, padding included: it keeps only "
              f"the answer positions where Triton runs, i.e. on GPUs, in both set-ups alike)")
    out = ROOT / "benchmarks" / "results" / (f"train-h{args.hidden_size}-l{args.layers}.json"
                                             if (args.hidden_size, args.layers) != (64, 2) else "train.json")
    meta = {"steps": args.steps, "batch": args.batch, "repeats": args.repeats, "max_length": args.max_length,
            "threads": args.threads, "bf16": args.bf16, "hidden_size": args.hidden_size, "layers": args.layers,
            "cpu_count": os.cpu_count(), "python": sys.version.split()[0]}
    write_json(out, {"meta": meta, "summary": summary})
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
