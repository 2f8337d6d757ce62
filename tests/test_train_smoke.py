"""`globmed train sft --recipe smoke` end to end (the real CLI), the saved model loading and generating,
the learning-rate schedule, LoRA with a merged model, two processes under a launcher, the model card
with a model-index from a real `globmed bench run`, and `globmed-push model` to the loopback Hub."""

from __future__ import annotations

import json
import math
import sys
import uuid
from pathlib import Path

import pytest

from tests.support.hub_server import HubServer, client_env
from tests.support.serving import free_port

from .conftest import ROOT, cli_env, generate, run_cli

SECRET = "hf_GlobmedTrainPush" + uuid.uuid4().hex


@pytest.fixture(scope="module")
def smoke(tmp_path_factory) -> Path:
    """The smoke recipe, unchanged but for the output folder, through the real CLI."""
    tmp = tmp_path_factory.mktemp("smoke")
    out = tmp / "smoke"
    res = run_cli(["train", "sft", "--recipe", "smoke", "--output-dir", out], cli_env(tmp / "hf_home"), timeout=600)
    assert res.returncode == 0, str(res)
    assert "Training language mix" in res.stdout and "bf16: auto -> off (no GPU" in res.stdout
    return out


@pytest.fixture(scope="module")
def lora(tmp_path_factory) -> Path:
    """LoRA on MedQA + HEAD-QA only (no MedNLI: a redistributable model), merged too."""
    tmp = tmp_path_factory.mktemp("lora")
    out = tmp / "lora"
    res = run_cli(["train", "sft", "--recipe", "smoke", "--output-dir", out, "--datasets", "medqa,headqa",
                   "--peft", "lora", "--lora-r", "4", "--lora-alpha", "8", "--lora-target-modules", "q_proj,v_proj",
                   "--merge-lora", "--max-steps", "3", "--learning-rate", "1e-2"], cli_env(tmp / "hf_home"), timeout=600)
    assert res.returncode == 0, str(res)
    return out


# ----------------------------------------------------------------------------------------- smoke run
def test_smoke_recipe_trains_and_the_model_loads_and_generates(smoke):
    for name in ("config.json", "model.safetensors", "tokenizer.json", "README.md", "globmed.json",
                 "language_mix.json", "train_report.json"):
        assert (smoke / name).is_file(), name
    report = json.loads((smoke / "train_report.json").read_text())
    t = report["training"]
    assert t["steps"] == 24 and t["epochs"] == 2 and t["conversations"] == 95  # 95 items, batch 8, 2 epochs
    losses = [h["loss"] for h in report["log_history"] if "loss" in h]
    assert losses[-1] < losses[0] - 0.3  # it learned something
    assert report["hyperparameters"]["bf16"] is False and report["hyperparameters"]["padding_free"] is True
    assert isinstance(generate(smoke), str)
    config = json.loads((smoke / "config.json").read_text())
    assert config["use_cache"] is True and "globmed_varlen" not in json.dumps(config)  # loads anywhere


def test_the_gpu_check_reads_a_real_report_and_refuses_a_cpu(smoke):
    """benchmarks/gpu_check.py (run on GPU machines only, not by CI) judges a run by its train_report.json:
    it must keep reading the report this code writes, and say plainly when there is no GPU."""
    import importlib.util
    import subprocess

    spec = importlib.util.spec_from_file_location("gpu_check", ROOT / "benchmarks" / "gpu_check.py")
    gpu_check = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(gpu_check)
    seen = gpu_check._report(smoke)
    report = json.loads((smoke / "train_report.json").read_text())
    losses = [h["loss"] for h in report["log_history"] if "loss" in h]
    assert (seen["steps"], seen["first_loss"], seen["final_loss"]) == (24, losses[0], losses[-1])
    assert (seen["bf16"], seen["gpu"], seen["num_processes"]) == (False, None, 1)
    assert seen["parallelism"] == gpu_check.PARALLELISM["single"] and seen["attn_implementation"] == "globmed_varlen"
    assert seen["tokens"] == report["training"]["num_input_tokens_seen"] > 0 and seen["tokens_per_s"] > 0
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "gpu_check.py"), "--out", str(smoke.parent / "gc")],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0 and "no CUDA device" in proc.stderr


def test_learning_rate_follows_cosine_with_ten_percent_warmup(smoke):
    report = json.loads((smoke / "train_report.json").read_text())
    peak = report["hyperparameters"]["learning_rate"]
    logged = [(h["step"], h["learning_rate"]) for h in report["log_history"] if "learning_rate" in h]
    total = report["training"]["steps"]
    warmup = math.ceil(0.1 * total)
    assert [s for s, _ in logged] == list(range(1, total + 1))

    def expected(t: int) -> float:  # the rate used for optimizer step t+1 (0-based t)
        if t < warmup:
            return peak * t / warmup
        progress = (t - warmup) / (total - warmup)
        return peak * 0.5 * (1 + math.cos(math.pi * progress))

    for step, lr in logged:
        assert lr == pytest.approx(expected(step - 1), rel=1e-6, abs=1e-12), step
    assert max(lr for _, lr in logged) == pytest.approx(peak)
    assert [lr for s, lr in logged if s <= warmup + 1] == sorted(lr for s, lr in logged if s <= warmup + 1)


def test_manifest_names_the_datasets_and_the_mednli_restriction(smoke):
    manifest = json.loads((smoke / "globmed.json").read_text())
    assert manifest["kind"] == "globmed-model" and "mednli" in manifest["datasets"]
    assert manifest["restricted"] == ["mednli"] and manifest["redistributable"] is False
    mix = json.loads((smoke / "language_mix.json").read_text())
    assert mix["mode"] == "random" and mix["conversations"] == 95 and sum(mix["languages"].values()) == 95
    card = (smoke / "README.md").read_text()
    assert "Restricted training data" in card and "MedNLI" in card and "Medical disclaimer" in card
    assert "| learning_rate | 0.003 |" in card and "| lr_scheduler_type | cosine |" in card
    assert "language mix" in card.lower() and "CPU" in card


def test_rerun_with_other_settings_refuses_to_resume_their_checkpoints(smoke, tmp_path):
    res = run_cli(["train", "sft", "--recipe", "smoke", "--output-dir", smoke, "--learning-rate", "1e-4"],
                  cli_env(tmp_path / "hf_home"))
    assert res.returncode == 2 and "holds checkpoints of a run with other settings" in res.output
    assert "--no-resume" in res.output


# ------------------------------------------------------------------------------------------ LoRA
def test_lora_saves_an_adapter_and_a_loadable_merged_model(lora):
    config = json.loads((lora / "adapter_config.json").read_text())
    assert config["peft_type"] == "LORA" and config["r"] == 4 and sorted(config["target_modules"]) == ["q_proj", "v_proj"]
    assert (lora / "adapter_model.safetensors").stat().st_size > 0
    assert not (lora / "model.safetensors").exists()  # the adapter only
    merged = lora / "merged"
    assert (merged / "model.safetensors").is_file() and not (merged / "adapter_config.json").exists()
    assert isinstance(generate(merged), str)
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    base = AutoModelForCausalLM.from_pretrained(config["base_model_name_or_path"])
    adapted = PeftModel.from_pretrained(base, lora)
    assert any("lora_A" in n for n, _ in adapted.named_parameters())
    manifest = json.loads((merged / "globmed.json").read_text())
    assert manifest["datasets"] == ["headqa", "medqa"] and manifest["redistributable"] is True


# ------------------------------------------------------------------------------- launcher, 2 processes
@pytest.mark.slow
def test_two_processes_under_a_launcher_derive_the_accumulation(tmp_path):
    """torchrun (what `accelerate launch --multi_gpu` runs) with 2 CPU processes: the same command,
    unchanged; global batch 8 = 4 per process x 1 x 2; a batch that does not divide fails clearly."""
    import subprocess

    env = cli_env(tmp_path / "hf_home")

    def launch(*extra: str) -> subprocess.CompletedProcess:
        cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2", "--master_port", str(free_port()),
               "-m", "globmed", "train", "sft", "--recipe", "smoke", "--datasets", "medqa,mednli", "--max-steps", "2",
               *extra]
        return subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=600)

    out = tmp_path / "ddp"
    proc = launch("--per-device-train-batch-size", "4", "--output-dir", str(out))
    assert proc.returncode == 0, proc.stderr[-4000:]
    report = json.loads((out / "train_report.json").read_text())
    hp = report["hyperparameters"]
    assert (hp["num_processes"], hp["per_device_train_batch_size"], hp["gradient_accumulation_steps"]) == (2, 4, 1)
    assert hp["global_batch_size"] == 8 and report["training"]["steps"] == 2
    assert "global batch 8 = per-device 4 x accumulation 1 x 2 process(es)" in " ".join(proc.stdout.split())
    bad = launch("--output-dir", str(tmp_path / "bad"))  # per-device 8 x 2 processes > global batch 8
    assert bad.returncode != 0
    assert "global batch 8 is not divisible by per-device batch 8 x 2 process(es) = 16" in " ".join(
        (bad.stdout + bad.stderr).split())


@pytest.mark.slow
@pytest.mark.parametrize("name, processes, parallelism", [
    ("fsdp2", 2, "DDP over CPU processes"),  # accelerate has FSDP on accelerators only; the log says so
    ("single_gpu", 1, "one process"),
])
def test_shipped_accelerate_configs_on_cpu(tmp_path, name, processes, parallelism):
    """`accelerate launch` with a shipped config, unchanged but for the process count, on CPU: the same
    `globmed train sft` command; the config's bf16 reaches the trainer through the recipe's `bf16:
    auto`; the model saved at the end loads and generates; the report and card say which parallelism
    trained it. (ZeRO-3 on DeepSpeed's CPU accelerator and FSDP2 itself on two CPU processes: the
    uninterrupted runs of tests/test_train_resume.py, which check the same and that the model gathered
    from the shards is whole.)"""
    import subprocess

    from safetensors import safe_open

    from globmed.train.accelerate import config

    out = tmp_path / name
    cmd = [str(Path(sys.executable).parent / "accelerate"), "launch", "--config_file", str(config(name)),
           "--num_processes", str(processes), "--main_process_port", str(free_port()),
           "-m", "globmed", "train", "sft", "--recipe", "smoke", "--max-steps", "2",
           "--per-device-train-batch-size", str(8 // processes), "--output-dir", str(out)]
    proc = subprocess.run(cmd, env=cli_env(tmp_path / "hf_home"), cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-4000:]
    log = " ".join(proc.stdout.split())
    assert "bf16: auto -> on (accelerate launch's mixed_precision bf16)" in log
    assert f"parallelism: {parallelism}" in log
    assert ("asks for FSDP, which accelerate runs on GPUs only" in log) is (name == "fsdp2")
    report = json.loads((out / "train_report.json").read_text())
    hp, hw = report["hyperparameters"], report["hardware"]
    assert (hp["num_processes"], hp["gradient_accumulation_steps"], hp["bf16"]) == (processes, 1, True)
    assert hw["parallelism"] == parallelism and report["training"]["steps"] == 2
    card = (out / "README.md").read_text()
    assert f"| parallelism | {parallelism} |" in card and "| saved weights | float32 |" in card
    config_json = json.loads((out / "config.json").read_text())
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        embed = f.get_tensor("model.embed_tokens.weight")
    assert tuple(embed.shape) == (config_json["vocab_size"], config_json["hidden_size"])
    assert isinstance(generate(out), str)


# ----------------------------------------------------------------------------- card + model-index
def test_model_card_model_index_from_bench_results(smoke, tmp_path):
    from huggingface_hub import ModelCard

    from globmed.core.resultsfolder import ResultsFolder

    results = tmp_path / "results"
    env = cli_env(tmp_path / "hf_home")
    res = run_cli(["bench", "run", "--data", smoke / ".cache" / "data", "--backend", "transformers", "--model", smoke,
                   "--name", "smoke", "--mode", "loglik", "--runs", "2", "--limit", "2", "--datasets", "medqa,mednli,liveqa",
                   "--languages", "en,sw", "--max-tokens-lfqa", "8", "--out", results, "--no-progress"], env, timeout=600)
    assert res.returncode == 0, str(res)
    res = run_cli(["train", "card", smoke, "--results", results], env)
    assert res.returncode == 0, str(res)
    card = ModelCard.load(smoke / "README.md")
    evals = card.data.eval_results
    assert card.data.model_name == "smoke" and len(evals) == 6  # 3 datasets x 2 languages
    rows = ResultsFolder(results).read_results()
    for e in evals:
        dataset, lang = e.dataset_config.split(".")
        key = "rougeL" if dataset == "liveqa" else "accuracy"
        values = [r[key] for r in rows if r["dataset"] == dataset and r["language"] == lang]
        assert len(values) == 2 and e.metric_value == pytest.approx(sum(values) / 2, abs=1e-4)
        assert e.metric_type == ("rouge" if dataset == "liveqa" else "accuracy")
        assert e.task_type == {"medqa": "multiple-choice", "mednli": "text-classification",
                               "liveqa": "question-answering"}[dataset]
        assert e.source_name == "GlobMed-Bench"
    text = (smoke / "README.md").read_text()
    assert "model-index:" in text and "GlobMed-Bench results" in text


# --------------------------------------------------------------------------------------------- push
@pytest.fixture
def hub(tmp_path):
    with HubServer(tmp_path / "hub", token=SECRET) as server:
        yield server


def push(hub, tmp_path, folder, repo, *args):
    env = client_env(hub.url, tmp_path / "hf_home", SECRET)
    env.update(COLUMNS="400", NO_COLOR="1", TERM="dumb")
    return run_cli(["model", folder, "--repo", repo, *args], env, exe="globmed-push")


def commits(hub):
    return [r for r in hub.requests if r["method"] == "POST" and "/commit/" in r["path"]]


def test_push_model_one_commit_private_and_mednli_refused_publicly(smoke, lora, hub, tmp_path):
    refused = push(hub, tmp_path, smoke, "org/smoke", "--public")
    assert refused.returncode != 0 and "refusing to publish" in refused.output and "MedNLI" in refused.output
    assert not commits(hub) and ("model", "org/smoke") not in hub.repos
    needs_flag = push(hub, tmp_path, smoke, "org/smoke")
    assert needs_flag.returncode != 0 and "--allow-restricted" in needs_flag.output

    ok = push(hub, tmp_path, smoke, "org/smoke", "--allow-restricted")
    assert ok.returncode == 0, str(ok)
    assert len(commits(hub)) == 1
    repo = hub.repos[("model", "org/smoke")]
    files = set(repo["commits"][repo["refs"]["main"]]["files"])
    assert {"README.md", "config.json", "model.safetensors", "globmed.json", "tokenizer.json"} <= files
    assert not any(f.startswith(".cache") for f in files)  # checkpoints, data and the base model stay home
    assert repo["private"] is True

    public = push(hub, tmp_path, lora / "merged", "org/lora-merged", "--public")  # no MedNLI: may be public
    assert public.returncode == 0, str(public)
    assert len(commits(hub)) == 2 and hub.repos[("model", "org/lora-merged")]["private"] is False
    for run in (refused, needs_flag, ok, public):
        assert SECRET not in run.stdout + run.stderr


def test_push_model_refuses_a_folder_without_a_manifest(tmp_path, hub):
    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "config.json").write_text("{}")
    res = push(hub, tmp_path, folder, "org/m")
    assert res.returncode != 0 and "globmed.json" in res.output and not commits(hub)
