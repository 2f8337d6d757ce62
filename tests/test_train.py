"""`globmed train`: recipes and CLI overrides, the global batch arithmetic, language randomization,
loss on the answer tokens only (labels of a real collated batch), QLoRA's clear CPU error, the
accelerate configs and the Slurm launcher (dry run with stub srun/scontrol/accelerate)."""

from __future__ import annotations

import math
import os
import subprocess
from collections import Counter

import pytest
import yaml
from typer.testing import CliRunner

from globmed import languages
from globmed.errors import GlobmedError
from globmed.settings import coerce
from globmed.train.data import assign_languages, conversation, language_mix, load_records
from globmed.train.scale import gradient_accumulation, resolve_bf16
from globmed.train.settings import RECIPES, SFTSettings, load_recipe, recipe_names, recipe_path

from .conftest import SAMPLE_SOURCES

PAPER = ("qwen3-1.7b", "qwen3-4b", "qwen3-8b", "medgemma-4b")


# --------------------------------------------------------------------------------------------- recipes
def paper_settings(name: str) -> SFTSettings:
    return coerce(SFTSettings, {**load_recipe(name), "data": "some/globmed"}, name)


@pytest.mark.parametrize("name", PAPER)
def test_paper_recipes_state_the_paper_setup(name):
    s = paper_settings(name)
    assert (s.learning_rate, s.global_batch_size, s.num_train_epochs) == (1e-5, 256, 1)
    assert (s.weight_decay, s.lr_scheduler_type, s.warmup_ratio, s.optim) == (0.0, "cosine", 0.1, "adamw_torch")
    assert s.peft == "none" and s.bf16 == "auto" and s.language_mode == "random" and s.split == "train"
    # the recipe's per-GPU split for 16 GPUs: 4 per device x 4 accumulation x 16 processes
    assert s.per_device_train_batch_size == 4
    assert gradient_accumulation(s.global_batch_size, s.per_device_train_batch_size, 16) == 4
    assert "16" in recipe_path(name).read_text()


def test_shipped_recipes_are_package_data_and_resolve_by_name_or_path(tmp_path):
    assert set(PAPER) | {"smoke"} <= set(recipe_names())
    assert recipe_path("smoke") == RECIPES / "smoke.yaml"
    own = tmp_path / "mine.yaml"
    own.write_text(yaml.safe_dump({"model": "tiny", "sources": str(SAMPLE_SOURCES), "learning_rate": 2e-4}))
    assert load_recipe(str(own))["learning_rate"] == 2e-4
    with pytest.raises(GlobmedError, match="unknown recipe 'nope'.*smoke"):
        recipe_path("nope")
    with pytest.raises(GlobmedError, match="recipe file not found"):
        recipe_path(str(tmp_path / "missing.yaml"))


def test_cli_flags_override_the_recipe(monkeypatch):
    import globmed.train.sft as sft
    from globmed import cli

    seen = {}
    monkeypatch.setattr(sft, "run_sft", lambda settings, console=None: seen.setdefault("s", settings))
    res = CliRunner().invoke(cli.app, ["train", "sft", "--recipe", "qwen3-4b", "--data", "my/globmed",
                                       "--learning-rate", "2e-5", "--output-dir", "out/x", "--peft", "lora",
                                       "--lora-target-modules", "q_proj,v_proj", "--no-gradient-checkpointing"])
    assert res.exit_code == 0, res.output
    s = seen["s"]
    assert s.model == "Qwen/Qwen3-4B" and s.data == "my/globmed"  # from the recipe / the flag
    assert s.learning_rate == 2e-5 and str(s.output_dir) == "out/x" and s.peft == "lora"
    assert s.lora_target_modules == ["q_proj", "v_proj"] and s.gradient_checkpointing is False
    assert s.global_batch_size == 256 and s.warmup_ratio == 0.1  # untouched recipe values


def test_bad_settings_are_clear_errors():
    with pytest.raises(GlobmedError, match="exactly one of --data"):
        coerce(SFTSettings, {"model": "x"})
    with pytest.raises(GlobmedError, match="--peft must be one of none, lora, qlora"):
        coerce(SFTSettings, {"data": "x", "peft": "dora"})
    with pytest.raises(GlobmedError, match="--language-mode must be one of random, all"):
        coerce(SFTSettings, {"data": "x", "language_mode": "some"})


# ----------------------------------------------------------------------------------- batch arithmetic
@pytest.mark.parametrize("processes,accumulation", [(1, 64), (2, 32), (4, 16), (16, 4)])
def test_global_batch_arithmetic(processes, accumulation):
    assert gradient_accumulation(256, 4, processes) == accumulation
    assert 4 * accumulation * processes == 256


def test_global_batch_that_does_not_divide_is_a_clear_error():
    with pytest.raises(GlobmedError, match=r"global batch 256 is not divisible by per-device batch 3 x 16 process\(es\) "
                                           r"= 48; per-device batches that divide it with 16 processes: 1, 2, 4"):
        gradient_accumulation(256, 3, 16)
    with pytest.raises(GlobmedError, match=r"global batch 256 is not divisible by per-device batch 4 x 3 process\(es\)"):
        gradient_accumulation(256, 4, 3)
    with pytest.raises(GlobmedError, match="contradicts --global-batch-size 256"):
        gradient_accumulation(256, 4, 16, accumulation=8)
    assert gradient_accumulation(None, 4, 8, accumulation=3) == 3  # no global batch: as given


def test_bf16_auto_is_off_on_cpu():
    import torch

    on, why = resolve_bf16("auto")
    assert on is (torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if not torch.cuda.is_available():
        assert "off" in why and "no GPU" in why
    assert resolve_bf16("true")[0] is True and resolve_bf16("false")[0] is False


def test_bf16_follows_accelerate_launch(monkeypatch):
    """Where `accelerate launch`'s mixed_precision binds (bf16: transformers takes it from the launcher
    even with bf16=False; DeepSpeed: it copies the launcher's setting and refuses a mismatch deep in the
    trainer), `auto` follows it and a contradiction fails up front with what to change."""
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "bf16")
    assert resolve_bf16("auto") == (True, "bf16: auto -> on (accelerate launch's mixed_precision bf16)")
    assert resolve_bf16("true")[0] is True
    with pytest.raises(GlobmedError, match="--bf16 false contradicts accelerate launch's mixed_precision bf16"):
        resolve_bf16("false")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "no")  # DDP / FSDP: the trainer's own bf16 wins
    assert resolve_bf16("true") == (True, "bf16: on (asked for)") and resolve_bf16("false")[0] is False
    monkeypatch.setenv("ACCELERATE_USE_DEEPSPEED", "true")  # DeepSpeed: the launcher's setting binds
    assert resolve_bf16("auto") == (False, "bf16: auto -> off (accelerate launch's mixed_precision no)")
    with pytest.raises(GlobmedError, match="or launch with --mixed_precision bf16"):
        resolve_bf16("true")
    monkeypatch.setenv("ACCELERATE_MIXED_PRECISION", "fp16")
    with pytest.raises(GlobmedError, match="mixed_precision fp16"):
        resolve_bf16("auto")


# ---------------------------------------------------------------------------------- languages
@pytest.fixture(scope="module")
def records(sample_data):
    from globmed.core.datafolder import open_data

    return load_records(open_data(str(sample_data)), "all", "all", "test")


def synthetic(n_items: int, langs: list[str]) -> dict:
    return {"medqa": {lang: {f"item-{i}": {"id": f"item-{i}"} for i in range(n_items)} for lang in langs}}


def test_random_mode_one_language_per_instance_seeded(records):
    a = assign_languages(records, "random", seed=42)
    items = {(d, i) for d, by_lang in records.items() for rows in by_lang.values() for i in rows}
    assert len(a) == len(items) and {(x.dataset, x.id) for x in a} == items  # each instance exactly once
    for x in a:
        assert x.id in records[x.dataset][x.language]  # a language the item exists in
    assert assign_languages(records, "random", seed=42) == a  # deterministic
    assert assign_languages(records, "random", seed=43) != a  # another seed, another draw


def test_all_mode_every_language(records):
    a = assign_languages(records, "all", seed=42)
    expected = sum(len(rows) for by_lang in records.values() for rows in by_lang.values())
    assert len(a) == expected == len(set(a))
    per_item = Counter((x.dataset, x.id) for x in a)
    for (dataset, item_id), n in per_item.items():
        assert n == sum(item_id in rows for rows in records[dataset].values())


def test_language_mix_is_uniform_and_stable_when_items_are_added():
    langs = languages.codes()
    recs = synthetic(2400, langs)
    a = assign_languages(recs, "random", seed=7)
    counts = Counter(x.language for x in a)
    assert set(counts) == set(langs)
    expected = len(a) / len(langs)
    chi2 = sum((counts[c] - expected) ** 2 / expected for c in langs)
    assert chi2 < 40, counts  # 11 degrees of freedom: p ~ 1e-5 at 40; a uniform draw passes
    more = synthetic(2600, langs)  # adding items leaves the earlier draws unchanged
    b = {x.id: x.language for x in assign_languages(more, "random", seed=7)}
    assert all(b[x.id] == x.language for x in a)
    # only the languages an item exists in can be drawn
    partial = {"medqa": {"en": {"x": {}}, "zu": {"x": {}, "y": {}}}}
    draws = {x.id: x.language for x in assign_languages(partial, "random", seed=1)}
    assert draws["y"] == "zu" and draws["x"] in ("en", "zu")


def test_mix_report_for_a_seed(records):
    rows = [{"dataset": x.dataset, "language": x.language} for x in assign_languages(records, "random", seed=42)]
    mix = language_mix(rows, "random", 42)
    assert mix["conversations"] == len(rows) and sum(mix["languages"].values()) == len(rows)
    assert math.isclose(sum(mix["share"].values()), 1.0, abs_tol=1e-3)
    assert sum(sum(c.values()) for c in mix["datasets"].values()) == len(rows)
    assert list(mix["languages"]) == [c for c in languages.codes() if c in mix["languages"]]


def test_conversations_use_the_bench_prompts_and_targets(records):
    from globmed import registry
    from globmed.tasks import get_task

    for dataset, by_lang in records.items():
        lang, rows = next(iter(by_lang.items()))
        row = next(iter(rows.values()))
        spec = registry.get(dataset)
        conv = conversation(row, dataset, lang)
        task = get_task(spec.task)
        assert conv["prompt"] == [dict(m) for m in task.messages(row, languages.get(lang), spec)]  # what the bench sends
        assert conv["completion"] == [{"role": "assistant", "content": task.target(row, languages.get(lang), spec)}]


# ------------------------------------------------------------------------------------ loss masking
def test_only_answer_tokens_carry_loss(tmp_path):
    """A real collated batch from the trainer `globmed train sft` builds: in every conversation of the
    padding-free row, the labelled tokens are exactly the assistant's answer (and its end-of-turn)."""
    from globmed.train.sft import prepare

    values = {**load_recipe("smoke"), "sources": str(SAMPLE_SOURCES), "output_dir": str(tmp_path / "out"),
              "datasets": "medqa,mednli,liveqa", "per_device_train_batch_size": 4, "global_batch_size": 4}
    p = prepare(coerce(SFTSettings, values))
    tok = p.trainer.processing_class
    answers = {r["completion"][0]["content"] + "<|im_end|>\n" for r in _rows(p)}
    seen = 0
    for batch in p.trainer.get_train_dataloader():
        ids, labels, pos = batch["input_ids"][0], batch["labels"][0], batch["position_ids"][0]
        starts = (pos == 0).nonzero().flatten().tolist() + [len(pos)]
        assert len(starts) - 1 == len(batch["cu_seq_lens_q"]) - 1 <= 4
        for s, e in zip(starts[:-1], starts[1:]):
            seg, lab = ids[s:e], labels[s:e]
            first = int((lab != -100).nonzero().flatten()[0])
            assert (lab[first:] != -100).all()  # one contiguous labelled span: the answer, to the end
            assert (lab[first:] == seg[first:]).all()
            assert tok.decode(seg[:first]).endswith("<|im_start|>assistant\n")  # everything before: the prompt
            assert tok.decode(seg[first:]) in answers
            seen += 1
        if seen >= 12:
            break
    assert seen >= 12


def _rows(p):
    from globmed.core.datafolder import open_data
    from globmed.train.data import assign_languages as assign, conversations

    recs = load_records(open_data(p.data_ref), p.settings.datasets, p.settings.languages, p.settings.split)
    return conversations(recs, assign(recs, "all", 0))


def test_qlora_on_cpu_is_a_clear_error(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("has a GPU")
    from globmed.train.sft import run_sft

    s = coerce(SFTSettings, {**load_recipe("smoke"), "sources": str(SAMPLE_SOURCES), "peft": "qlora",
                             "output_dir": str(tmp_path / "q")})
    with pytest.raises(GlobmedError, match="--peft qlora needs a CUDA GPU.*--peft lora"):
        run_sft(s)
    assert not (tmp_path / "q").exists()  # failed before any work


# ------------------------------------------------------------------------------- scaling out
def test_accelerate_configs_are_shipped():
    from globmed.train.accelerate import NAMES, config

    kinds = {}
    for name in NAMES:
        data = yaml.safe_load(config(name).read_text())
        kinds[name] = data["distributed_type"]
        assert data["mixed_precision"] == "bf16"
    assert kinds == {"single_gpu": "NO", "fsdp2": "FSDP", "zero3": "DEEPSPEED"}
    assert yaml.safe_load(config("fsdp2").read_text())["fsdp_config"]["fsdp_version"] == 2
    assert yaml.safe_load(config("zero3").read_text())["deepspeed_config"]["zero_stage"] == 3
    with pytest.raises(GlobmedError, match="unknown accelerate config"):
        config("zero2")


def test_slurm_launcher_starts_accelerate_on_every_node(tmp_path):
    """The sbatch script with stub srun / scontrol / accelerate, as on a 2 x 8 GPU allocation (a real
    Slurm cluster runs it in tests/test_slurm.py): one `accelerate launch` per node with the machine
    count, the node's rank, the main node's address and the recipe's flags."""
    from globmed.train.slurm import SCRIPT

    stubs = tmp_path / "bin"
    stubs.mkdir()
    # the second host comes a moment later, as from a long listing: a reader that stops after the first
    # line (head -n 1) would kill scontrol with SIGPIPE, and the script (pipefail) with it
    # `scontrol show node NAME` gives the node's address (NodeAddr), which need not be its name
    (stubs / "scontrol").write_text('#!/bin/bash\nif [ "$2" = node ]; then\n'
                                    '  printf "NodeName=$3 Arch=x86_64\\n   NodeAddr=10.1.0.7 NodeHostName=$3\\n"; exit\nfi\n'
                                    "printf 'gpu-node-07\\n'\nsleep 0.2\nprintf 'gpu-node-08\\n'\n")
    # srun runs its command once per node, with that node's SLURM_NODEID
    (stubs / "srun").write_text('#!/bin/bash\nfor id in $(seq 0 $((SLURM_NNODES - 1))); do\n'
                                '  SLURM_NODEID=$id "${@: -3}"\ndone\n')
    (stubs / "accelerate").write_text('#!/bin/bash\necho "ACCELERATE $*"\n')
    for f in stubs.iterdir():
        f.chmod(0o755)
    config = tmp_path / "fsdp.yaml"
    config.write_text("distributed_type: FSDP\n")
    env = {**os.environ, "PATH": f"{stubs}:{os.environ['PATH']}", "SLURM_NNODES": "2", "SLURM_JOB_NODELIST": "gpu-node-[07-08]",
           "SLURM_GPUS_ON_NODE": "8", "ACCELERATE_CONFIG": str(config)}
    proc = subprocess.run(["bash", str(SCRIPT), "qwen3-8b", "--data", "my data", "--output-dir", "out/q"],
                          env=env, capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    launches = [line for line in proc.stdout.splitlines() if line.startswith("ACCELERATE ")]
    assert len(launches) == 2
    for rank, line in enumerate(launches):
        assert f"--num_machines 2 --num_processes 16 --machine_rank {rank} --main_process_ip 10.1.0.7" in line
        assert f"--rdzv_backend c10d --rdzv_conf is_host={'true' if rank == 0 else 'false'} " in line
        assert f"--config_file {config}" in line
        assert line.endswith("-m globmed train sft --recipe qwen3-8b --data my data --output-dir out/q")
    assert "16" in proc.stdout.splitlines()[0]
    bad = subprocess.run(["bash", str(SCRIPT)], env=env, capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "usage" in bad.stderr
