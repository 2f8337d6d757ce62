"""Crash safety: `kill -9` a real `globmed bench run` mid-way, rerun it, and check that no finished
request is sent again and that the results equal those of an uninterrupted run; then re-score
offline with the server gone."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq

from globmed.bench.report import load_correctness, reference_tests, summary_cells
from globmed.runner import prompt_hash
from tests.conftest import BENCH_DATASETS, BENCH_LANGUAGES, BIN, ROOT, cli_env, run_cli

RUNS = 2
TIMESTAMPS = ("started", "finished")


def bench_args(data: Path, out: Path, base_url: str) -> list[str]:
    return ["bench", "run", "--data", str(data), "--out", str(out), "--backend", "openai", "--base-url", base_url,
            "--model", "scripted", "--datasets", BENCH_DATASETS, "--languages", BENCH_LANGUAGES,
            "--runs", str(RUNS), "--concurrency", "4", "--no-progress"]


def stored(out: Path) -> set[tuple[str, int]]:
    """(prompt hash, seed) of every response in OUT's store (read-only; the seed is the run here)."""
    path = out / ".cache" / "requests.sqlite"
    if not path.exists():
        return set()
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        rows = db.execute("SELECT p.prompt_hash, p.run FROM plan p JOIN responses r ON r.key = p.key").fetchall()
    except sqlite3.Error:  # not created yet
        rows = []
    finally:
        db.close()
    return {(ph, run) for ph, run in rows}


def request_id(rec: dict[str, Any]) -> tuple[str, int]:
    body = rec["json"]
    return prompt_hash(tuple(body["messages"])), body["seed"]


def table(out: Path, config: str, drop: tuple[str, ...]) -> list[dict[str, Any]]:
    rows = pq.read_table(out / config).to_pylist()
    rows = [{k: v for k, v in r.items() if k not in drop} for r in rows]
    return sorted(rows, key=lambda r: json.dumps(r, sort_keys=True, default=str))


def test_kill_9_then_resume_repeats_no_finished_request(openai_server, sample_data, tmp_path):
    server = openai_server(latency=0.05)
    env = cli_env(tmp_path / "hf_home")
    out = tmp_path / "out"
    log = open(tmp_path / "killed.log", "w")
    proc = subprocess.Popen([str(BIN / "globmed"), *bench_args(sample_data, out, server.base_url)], env=env, cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while len(stored(out)) < 80 and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.02)
    kill_time = time.monotonic()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    log.close()
    assert proc.returncode == -signal.SIGKILL, (tmp_path / "killed.log").read_text()[-3000:]
    done_at_kill = stored(out)
    time.sleep(0.3)  # requests the killed client wrote just before dying may still reach the server
    before = server.chat_requests()
    # Each response is stored as it arrives: whatever the server answered well before the kill is on disk.
    settled = {request_id(r) for r in before if r["finished"] is not None and r["finished"] < kill_time - 0.5}
    assert settled and settled <= done_at_kill
    assert 80 <= len(done_at_kill)

    res = run_cli(bench_args(sample_data, out, server.base_url), env)
    assert res.returncode == 0, str(res)
    after = [request_id(r) for r in server.chat_requests()[len(before):]]  # what the rerun sent
    assert not set(after) & done_at_kill  # (a) nothing completed before the kill is sent again
    assert len(after) == len(set(after))  # and nothing twice
    everything = done_at_kill | set(after)
    total = len(everything)
    assert total == RUNS * 3 * (10 + 10 + 9)  # medqa 10, headqa 10, mednli 9 items in en, es, sw
    assert len(done_at_kill) < total  # the kill did land mid-run

    clean = tmp_path / "clean"
    res = run_cli(bench_args(sample_data, clean, server.base_url), env)
    assert res.returncode == 0, str(res)
    # (b) the resumed results equal those of an uninterrupted run, row for row
    assert table(out, "results", TIMESTAMPS) == table(clean, "results", TIMESTAMPS)
    configs = sorted(p.name for p in out.glob("details.*"))
    assert configs == sorted(p.name for p in clean.glob("details.*")) and len(configs) == 9
    for config in configs:
        assert table(out, config, ("latency",)) == table(clean, config, ("latency",)), config
    results = table(out, "results", ())
    assert len(results) == 9 * RUNS and all(r["errors"] == 0 and r["missing"] == 0 for r in results)

    # Offline re-scoring: the server is gone, the numbers stay.
    server.stop()
    res = run_cli(["bench", "report", str(out), "--rescore"], env)
    assert res.returncode == 0, str(res)
    assert table(out, "results", ()) == results
    # ... and the report's statistics equal those of the uninterrupted run
    correct = load_correctness(clean)
    for name, expected in (("cells.json", summary_cells(correct)), ("tests.json", reference_tests(correct))):
        assert json.loads((out / "report" / name).read_text()) == json.loads(json.dumps(expected, default=str)), name
    assert (out / "report" / "report.md").exists() and "accuracy %" in res.output
