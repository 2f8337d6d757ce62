"""GPU check of the training paths that CI (CPU only) cannot run: one short script for a machine with
an NVIDIA GPU, printing what it saw and writing it as JSON.

First, always: torch, the CUDA device(s), bf16 support, NCCL, and the versions of the training libraries.
Then the checks, each on its own with a time limit (a failing check is reported and the next one still runs):
  single   `globmed train sft --recipe smoke` on one GPU with the recipe's `bf16: auto`: the report must
           say bf16 on and name the GPU, the loss must fall, and the saved model must load on the GPU in
           bf16 and generate
  fsdp2    the same command unchanged under `accelerate launch` with the shipped FSDP2 config (NCCL
           process group, bf16 mixed precision), one process per GPU
  zero3    the same with the shipped DeepSpeed ZeRO-3 config (skipped when deepspeed does not import)
  bench    benchmarks/train.py on the GPU in bf16 with a wider tiny model (hidden 512 x 4 layers):
           padding-free + varlen attention (ours) against TRL's padded baseline, tokens/s

Run (from the repository root, the training libraries installed: `pip install -e ".[train]"`)
  python benchmarks/gpu_check.py [--out DIR] [--checks single,fsdp2,zero3,bench]
On a machine without network, install wheels fetched elsewhere with benchmarks/gpu_wheels.sh first.
Writes DIR/gpu_check.json (DIR: $OUT when set, else benchmarks/results/gpu_check) and each step's log.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CHECKS = ("single", "fsdp2", "zero3", "bench")
PROMPT = "Which vitamin deficiency causes scurvy?"
PARALLELISM = {"single": "one process", "fsdp2": "FSDP2", "zero3": "DeepSpeed ZeRO-3"}  # as train_report.json says


def _env(**extra: str) -> dict[str, str]:
    return {**os.environ, **extra, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false",
            "HF_HUB_DISABLE_TELEMETRY": "1", "PYTHONUNBUFFERED": "1"}


def _run(cmd: list[str], log: Path, timeout: int, **env: str) -> tuple[int, float, str]:
    """Run `cmd` from the repository root with its output in `log`; (exit status, seconds, output tail)."""
    t = time.perf_counter()
    with log.open("w") as f:
        try:
            rc = subprocess.run(cmd, cwd=ROOT, env=_env(**env), stdout=f, stderr=subprocess.STDOUT, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    text = log.read_text(errors="replace")
    return rc, time.perf_counter() - t, text[-3000:]


def check_env() -> dict:
    import importlib.metadata as md

    import torch

    info: dict = {"torch": torch.__version__, "cuda": torch.version.cuda, "cuda_available": torch.cuda.is_available()}
    if torch.cuda.is_available():
        info.update(gpus=[torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())],
                    bf16_supported=torch.cuda.is_bf16_supported(),
                    nccl=torch.distributed.is_nccl_available() and ".".join(map(str, torch.cuda.nccl.version())))
    for name in ("transformers", "trl", "accelerate", "peft", "datasets", "huggingface_hub", "deepspeed", "flash_attn"):
        try:
            info[name] = md.version(name)
        except md.PackageNotFoundError:
            info[name] = None
    return info


def _report(out: Path) -> dict:
    report = json.loads((out / "train_report.json").read_text())
    losses = [h["loss"] for h in report["log_history"] if "loss" in h]
    hp, hw, tr = report["hyperparameters"], report["hardware"], report["training"]
    return {"bf16": hp["bf16"], "weights_dtype": hp["weights_dtype"], "attn_implementation": hp["attn_implementation"],
            "num_processes": hp["num_processes"], "gpu": hw.get("gpu"), "parallelism": hw.get("parallelism"),
            "steps": tr["steps"], "first_loss": losses[0] if losses else None, "final_loss": losses[-1] if losses else None,
            "train_seconds": tr["seconds"], "tokens": tr["num_input_tokens_seen"],
            "tokens_per_s": round(tr["num_input_tokens_seen"] / tr["train_runtime"], 1) if tr.get("train_runtime") else None}


def _generate_on_gpu(folder: Path) -> str:
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.bfloat16).to("cuda")
    ids = tok.apply_chat_template([{"role": "user", "content": PROMPT}], add_generation_prompt=True,
                                  return_tensors="pt", return_dict=True).to("cuda")
    out = model.generate(**ids, max_new_tokens=8, do_sample=False)
    if out.shape[1] <= ids["input_ids"].shape[1]:
        raise RuntimeError("generated nothing")
    return tok.decode(out[0, ids["input_ids"].shape[1]:])


def check_train(name: str, work: Path, logs: Path, launch: str | None, gpus: int) -> dict:
    out = work / name
    train = ["train", "sft", "--recipe", "smoke", "--max-steps", "30", "--output-dir", str(out)]
    env = {}
    if launch is None:  # one process on one GPU (with more visible, transformers would wrap it in DataParallel)
        cmd, env = [sys.executable, "-m", "globmed", *train], {"CUDA_VISIBLE_DEVICES": "0"}
    else:
        from globmed.train.accelerate import config

        cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", str(config(launch)),
               "--num_processes", str(gpus), "-m", "globmed", *train,
               "--per-device-train-batch-size", str(max(1, 8 // gpus))]
    rc, seconds, tail = _run(cmd, logs / f"{name}.log", timeout=240, **env)
    res: dict = {"rc": rc, "wall_seconds": round(seconds, 1), "command": " ".join(cmd[1:])}
    if rc != 0:
        return {**res, "ok": False, "tail": tail}
    res.update(_report(out))
    try:
        res["generated"] = _generate_on_gpu(out)
    except Exception as exc:  # noqa: BLE001 - reported, the next step still runs
        res["generate_error"] = repr(exc)
    res["ok"] = bool(res["bf16"] and res["gpu"] and res["parallelism"] == PARALLELISM[name] and res["final_loss"] is not None
                     and res["first_loss"] is not None and res["final_loss"] < res["first_loss"] and "generated" in res)
    return res


def check_bench(work: Path, logs: Path) -> dict:
    cmd = [sys.executable, "benchmarks/train.py", "--configs", "ours,baseline", "--repeats", "2", "--steps", "30",
           "--hidden-size", "512", "--layers", "4", "--bf16", "auto", "--workdir", str(work / "bench")]
    rc, seconds, tail = _run(cmd, logs / "bench.log", timeout=420)
    res: dict = {"rc": rc, "wall_seconds": round(seconds, 1), "tail": tail, "ok": rc == 0}
    result = ROOT / "benchmarks" / "results" / "train-h512-l4.json"
    if rc == 0 and result.exists():
        summary = json.loads(result.read_text())["summary"]
        res["ratio_to_baseline"] = summary["ours"]["ratio_to_baseline"]
        res["ratio_per_repeat"] = summary["ours"].get("ratio_per_repeat")
        res["tokens_per_s"] = {k: round(v["tokens_per_s_median"], 1) for k, v in summary.items() if isinstance(v, dict)}
        res["loss_max_abs_diff"] = summary.get("loss_max_abs_diff_ours_vs_baseline")
    return res


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(os.environ["OUT"]) if os.environ.get("OUT") else
                        ROOT / "benchmarks" / "results" / "gpu_check")
    parser.add_argument("--checks", default=",".join(CHECKS), help="comma-separated: " + ", ".join(CHECKS))
    args = parser.parse_args()
    checks = [s.strip() for s in args.checks.split(",") if s.strip()]
    unknown = sorted(set(checks) - set(CHECKS))
    if unknown:
        raise SystemExit(f"--checks: unknown check(s) {', '.join(unknown)} (known: {', '.join(CHECKS)})")
    sys.path.insert(0, str(ROOT))
    from globmed.io import write_json

    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="globmed-gpu-check-"))
    results: dict = {"started": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
    env = check_env()
    results["env"] = env
    print("env", json.dumps(env), flush=True)
    if not env["cuda_available"]:
        raise SystemExit("no CUDA device: this script checks the GPU paths (the CPU paths are the test suite's)")
    gpus = len(env["gpus"])
    for step in checks:
        t = time.perf_counter()
        if step == "zero3" and env["deepspeed"] is None:
            res = {"ok": None, "skipped": "deepspeed is not installed"}
        elif step == "bench":
            res = check_bench(work, args.out)
        else:
            res = check_train(step, work, args.out, None if step == "single" else step, gpus)
        results[step] = res
        shown = {k: v for k, v in res.items() if k != "tail"}
        print(f"{step} ({time.perf_counter() - t:.0f} s):", json.dumps(shown), flush=True)
        if res.get("ok") is False and "tail" in res:
            print(res["tail"], flush=True)
        # written after every step: a later step that hangs past the caller's limit loses nothing
        write_json(args.out / "gpu_check.json", results)
    print("summary:", ", ".join(f"{s} {'ok' if results[s].get('ok') else 'skipped' if results[s].get('ok') is None else 'FAILED'}"
                                for s in checks), flush=True)


if __name__ == "__main__":
    main()
