"""A training run killed with SIGKILL resumes from its last complete checkpoint and ends exactly where
an uninterrupted run ends (same losses, same weights): on one process, and on two processes whose
checkpoints are sharded (DeepSpeed ZeRO-3; FSDP2 through tests/support/fsdp_on_cpu). A checkpoint the
kill left half-written is not resumed from.

The uninterrupted run is also the check of the shipped `zero3` and `fsdp2` accelerate configs on two CPU
processes (one launch serves both checks): the config's bf16 reaches the trainer, the log, report and card
say which parallelism trained the model, and the model saved at the end is whole (gathered from the
processes' shards), loads and generates. (The `fsdp2` config without the sitecustomize, where accelerate
trains as DDP on CPUs, and `single_gpu` are checked in tests/test_train_smoke.py.)"""
from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from safetensors.torch import load_file

from tests.support.serving import free_port

from .conftest import NO_DEEPSPEED, ROOT, cli_env, fsdp_on_cpu_pythonpath, generate

BIN = Path(sys.executable).parent
STEPS, SAVE_EVERY, KILL_AFTER = 8, 4, 4


def _command(launch: str | None, out: Path) -> list[str]:
    train = ["train", "sft", "--recipe", "smoke", "--max-steps", str(STEPS), "--save-steps", str(SAVE_EVERY),
             "--output-dir", str(out)]
    if launch is None:
        return [str(BIN / "globmed"), *train]
    from globmed.train.accelerate import config

    return [str(BIN / "accelerate"), "launch", "--config_file", str(config(launch)), "--num_processes", "2",
            "--main_process_port", str(free_port()), "-m", "globmed", *train, "--per-device-train-batch-size", "4"]


def _run(cmd: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    return proc


def _kill_after_checkpoint(cmd: list[str], env: dict[str, str], checkpoint: Path) -> None:
    """Start the run and SIGKILL it and every process it started (the launcher's workers too: a node
    going down) as soon as `checkpoint` is complete."""
    log = checkpoint.parents[2].with_suffix(".log")
    with log.open("w") as stderr:
        proc = subprocess.Popen(cmd, env=env, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=stderr)
        deadline = time.monotonic() + 600
        # globmed's clock is the last file of a checkpoint (after the trainer's trainer_state.json)
        while not (checkpoint / "globmed-clock.json").exists():
            assert proc.poll() is None, f"the run ended before {checkpoint.name}: {log.read_text()[-3000:]}"
            assert time.monotonic() < deadline
            time.sleep(0.02)
        for p in [psutil.Process(proc.pid), *psutil.Process(proc.pid).children(recursive=True)]:
            try:
                p.send_signal(signal.SIGKILL)
            except psutil.NoSuchProcess:
                pass
        proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL


def _check_parallelism(out: Path, log: str, launch: str | None) -> None:
    """What the uninterrupted run's log, report, card and saved model say of the parallelism that trained it."""
    from safetensors import safe_open

    parallelism = {None: "one process", "zero3": "DeepSpeed ZeRO-3", "fsdp2": "FSDP2"}[launch]
    processes = 1 if launch is None else 2
    assert f"parallelism: {parallelism}" in log and "runs on GPUs only" not in log
    if launch is not None:
        assert "bf16: auto -> on (accelerate launch's mixed_precision bf16)" in log
        assert f"global batch 8 = per-device 4 x accumulation 1 x {processes} process(es)" in log
    report = json.loads((out / "train_report.json").read_text())
    hp, hw = report["hyperparameters"], report["hardware"]
    assert (hp["num_processes"], hp["bf16"]) == (processes, launch is not None)
    assert hw["parallelism"] == parallelism and report["training"]["steps"] == STEPS
    card = (out / "README.md").read_text()
    assert f"| parallelism | {parallelism} |" in card
    assert f"| saved weights | {'bfloat16' if launch == 'zero3' else 'float32'} |" in card  # ZeRO-3 saves 16-bit
    config_json = json.loads((out / "config.json").read_text())
    with safe_open(str(out / "model.safetensors"), "pt") as f:  # each process held a shard of every weight
        names = set(f.keys())
        embed = f.get_tensor("model.embed_tokens.weight")
    assert tuple(embed.shape) == (config_json["vocab_size"], config_json["hidden_size"])
    assert sum(name.endswith("self_attn.q_proj.weight") for name in names) == config_json["num_hidden_layers"]
    assert isinstance(generate(out), str)


def _losses(out: Path) -> list[tuple[int, float]]:
    report = json.loads((out / "train_report.json").read_text())
    return [(h["step"], h["loss"]) for h in report["log_history"] if "loss" in h]


@pytest.mark.slow
@pytest.mark.parametrize("launch", [None, pytest.param("zero3", marks=NO_DEEPSPEED), "fsdp2"])
def test_killed_run_resumes_and_ends_as_an_uninterrupted_one(tmp_path, launch):
    env = cli_env(tmp_path / "hf_home")
    if launch == "fsdp2":  # FSDP2 itself (accelerate runs FSDP on GPUs only): see the sitecustomize's docstring
        env["PYTHONPATH"] = fsdp_on_cpu_pythonpath()
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _check_parallelism(whole, " ".join(_run(_command(launch, whole), env).stdout.split()), launch)

    checkpoints = killed / ".cache" / "checkpoints"
    _kill_after_checkpoint(_command(launch, killed), env, checkpoints / f"checkpoint-{KILL_AFTER}")
    assert not (killed / "model.safetensors").exists()
    # what a kill while the next checkpoint was being written leaves: its weights, no trainer state yet
    partial = checkpoints / f"checkpoint-{KILL_AFTER + SAVE_EVERY}"
    shutil.rmtree(partial, ignore_errors=True)
    shutil.copytree(checkpoints / f"checkpoint-{KILL_AFTER}", partial)
    (partial / "trainer_state.json").unlink()

    clock = json.loads((checkpoints / f"checkpoint-{KILL_AFTER}" / "globmed-clock.json").read_text())["seconds"]
    assert clock > 0
    started = time.monotonic()
    resumed = _run(_command(launch, killed), env)
    rerun_seconds = time.monotonic() - started
    log = " ".join(resumed.stdout.split())
    assert f"removing {partial.name}: incomplete" in log
    assert f"resuming from {checkpoints / f'checkpoint-{KILL_AFTER}'}" in log
    report = json.loads((killed / "train_report.json").read_text())
    assert report["training"]["steps"] == STEPS and report["training"]["resumed_from_step"] == KILL_AFTER
    # the training time counts the first attempt up to its checkpoint, and this one
    assert clock < report["training"]["seconds"] < clock + rerun_seconds
    assert f"resumed at step {KILL_AFTER}" in (killed / "README.md").read_text()
    assert json.loads((whole / "train_report.json").read_text())["training"]["resumed_from_step"] is None
    assert _losses(killed) == _losses(whole) and len(_losses(whole)) == STEPS
    a, b = load_file(str(whole / "model.safetensors")), load_file(str(killed / "model.safetensors"))
    assert a.keys() == b.keys()
    for name in a:  # the same data order, optimizer and RNG states: the same weights, bit for bit
        assert a[name].equal(b[name]), name
