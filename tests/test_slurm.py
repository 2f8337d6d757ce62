"""The shipped sbatch launcher on a real Slurm cluster: two slurmd nodes on this machine (see
tests/support/slurm_cluster.py), one `accelerate launch` per node through srun, the nodes meeting at
the first node's address. Skipped where Slurm is not installed (.ci/run installs it)."""
from __future__ import annotations

import json
import os
import re
import sys
import time
from pathlib import Path

import pytest

from tests.support.serving import free_port
from tests.support.slurm_cluster import missing, slurm_cluster

from .conftest import ROOT, cli_env, fsdp_on_cpu_pythonpath

pytestmark = [pytest.mark.skipif(missing() is not None, reason=missing() or ""), pytest.mark.slow]
STEPS = 24  # the requeued job's: the requeue must land mid-training, well before the end (after checkpoint 8)


@pytest.fixture(scope="module")
def cluster():
    with slurm_cluster() as c:
        yield c


def _job_env(tmp_path: Path, port: int) -> dict[str, str]:
    """One CPU process per node, the rendezvous on `port`, the script's own config (FSDP2, run as FSDP2 on
    CPUs through the test's sitecustomize)."""
    return cli_env(tmp_path / "hf_home", PATH=f"{Path(sys.executable).parent}:{os.environ['PATH']}",
                   GPUS_PER_NODE="1", MAIN_PORT=str(port), ACCELERATE_CONFIG=None, PYTHONPATH=fsdp_on_cpu_pythonpath())


def _sbatch(cluster, env: dict[str, str], log: Path, *args: str, wait: bool = False):
    """Submit the shipped script on the two CPU nodes: no GPUs to ask for, one CPU per task (the
    script asks for 8 GPUs and 32 CPUs per node)."""
    from globmed.train.slurm import SCRIPT

    return cluster.run("sbatch", *(["--wait"] if wait else []), "--nodes", "2", "--gpus-per-node", "0",
                       "--cpus-per-task", "1", "--chdir", str(ROOT), "--output", str(log), str(SCRIPT), *args,
                       env=env, timeout=600)


def _check_two_node_run(cluster, out: Path, text: str, job_id: str, parallelism: str, steps: int,
                        attempts: int = 1) -> None:
    """What every two-node job must show: srun started the job's step on both nodes (each slurmd logs
    the tasks it launched), the parallelism and transformers' summary were said once per attempt (by
    the main process only, not once per node), and the main process wrote one whole model and report."""
    from safetensors import safe_open

    for node in ("node1", "node2"):
        assert re.search(rf"launch task StepId={job_id}\.0 ", (cluster.root / f"slurmd-{node}.log").read_text()), node
    assert text.count(f"parallelism: {parallelism}") == attempts
    assert text.count("'train_loss'") == 1  # only the attempt that finished says it
    report = json.loads((out / "train_report.json").read_text())
    assert report["hyperparameters"]["num_processes"] == 2 and report["training"]["steps"] == steps
    assert report["hardware"]["parallelism"] == parallelism
    config_json = json.loads((out / "config.json").read_text())
    with safe_open(str(out / "model.safetensors"), "pt") as f:  # whole, though it was held in two shards
        embed = f.get_tensor("model.embed_tokens.weight")
    assert tuple(embed.shape) == (config_json["vocab_size"], config_json["hidden_size"])


def _job_state(cluster, job_id: str) -> str:
    shown = cluster.run("scontrol", "show", "job", job_id).stdout
    found = re.search(r"JobState=(\S+)", shown)
    return found.group(1) if found else "UNKNOWN"


def test_a_two_node_job_requeued_while_it_trains_resumes_from_its_last_checkpoint(cluster, tmp_path):
    """sbatch --nodes 2 with one process per node and the script's default config (FSDP2, run as FSDP2 on
    CPUs through the test's sitecustomize): the job's two tasks run on node1 and node2 and meet at node1's
    NodeAddr, the model is sharded across the nodes. Slurm requeues the job while it trains (as after a
    node failure or a preemption): it stops both nodes' tasks and runs the script again, and the run
    continues from its last complete checkpoint (sharded over the nodes) to the end; both attempts write
    to the one log, and the main process writes one whole model, report and card. (One job checks both:
    a second, plain two-node job cost 40 s of `make test`. Another config through ACCELERATE_CONFIG:
    tests/test_train.py's stubbed launcher; ZeRO-3's sharded resume: tests/test_train_resume.py.)"""
    out, log = tmp_path / "out", tmp_path / "job.log"
    port = free_port()
    job = _sbatch(cluster, _job_env(tmp_path, port), log, "smoke", "--max-steps", str(STEPS),
                  "--save-steps", "4", "--per-device-train-batch-size", "4", "--output-dir", str(out))
    assert job.returncode == 0, job.stderr
    job_id = re.search(r"Submitted batch job (\d+)", job.stdout).group(1)

    checkpoint = out / ".cache" / "checkpoints" / "checkpoint-8" / "trainer_state.json"
    deadline = time.monotonic() + 300
    while not checkpoint.exists():
        assert _job_state(cluster, job_id) in ("PENDING", "CONFIGURING", "RUNNING"), log.read_text()[-4000:]
        assert time.monotonic() < deadline, log.read_text()[-4000:]
        time.sleep(0.05)
    requeue = cluster.run("scontrol", "requeue", job_id)
    assert requeue.returncode == 0, requeue.stderr

    deadline = time.monotonic() + 600
    while (state := _job_state(cluster, job_id)) != "COMPLETED":
        assert state not in ("FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL", "OUT_OF_MEMORY"), \
            f"{state}\n{log.read_text()[-6000:]}\n{cluster.logs()}"
        assert time.monotonic() < deadline, f"{state}\n{log.read_text()[-4000:]}"
        if state == "PENDING":  # a requeued job waits a while (BeginTime) before it may start again
            cluster.run("scontrol", "update", f"JobId={job_id}", "StartTime=now")
        time.sleep(0.2)
    text = log.read_text()
    assert text.count(f"globmed-sft: 2 node(s) x 1 process(es) = 2; main 127.0.0.1:{port}") == 2  # both attempts
    resumed = re.search(r"resuming from \S+checkpoint-(\d+)", text)
    assert resumed and int(resumed.group(1)) >= 8, text[-4000:]
    _check_two_node_run(cluster, out, text, job_id, "FSDP2", steps=STEPS, attempts=2)
    report = json.loads((out / "train_report.json").read_text())
    assert report["training"]["resumed_from_step"] == int(resumed.group(1))
