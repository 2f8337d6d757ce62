"""Shared helper for the endpoint benchmarks: start/stop the loopback OpenAI-compatible server
(tests/support/openai_server.py) as a separate process, read its request log, run `globmed bench run`
against it and measure."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
LATENCY, CAPACITY = 0.2, 64  # the loopback server of the endpoint benchmarks: ideal 320 req/s


class Server:
    """`python -m tests.support.openai_server` in its own process, logging every answered request."""

    def __init__(self, latency: float, capacity: int, mode: str, log: Path, retry_after: float | None = None):
        self.latency, self.capacity, self.mode, self.log = latency, capacity, mode, Path(log)
        self.retry_after = retry_after
        self.proc: subprocess.Popen[str] | None = None
        self.base_url = ""

    def __enter__(self) -> "Server":
        if self.log.exists():
            self.log.unlink()
        cmd = [sys.executable, "-m", "tests.support.openai_server", "--port", "0", "--latency", str(self.latency),
               "--capacity", str(self.capacity), "--mode", self.mode, "--log", str(self.log)]
        if self.retry_after is not None:
            cmd += ["--retry-after", str(self.retry_after)]
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        line = self.proc.stdout.readline()  # "serving http://127.0.0.1:P/v1"
        if not line.startswith("serving "):
            self.proc.kill()
            raise RuntimeError(f"the server did not start: {line!r}")
        self.base_url = line.split()[1].strip()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self.proc = None

    def cpu_seconds(self) -> float:
        """User + system CPU time the server process has used so far (from /proc)."""
        if self.proc is None:
            return 0.0
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
            return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, IndexError, ValueError):
            return 0.0

    def mark(self) -> int:
        """The number of log lines so far (to read only a later run's requests)."""
        return len(self.read())

    def read(self, since: int = 0) -> list[dict[str, Any]]:
        if not self.log.exists():
            return []
        lines = self.log.read_text(encoding="utf-8").splitlines()
        out = []
        for line in lines[since:]:
            try:
                out.append(json.loads(line))
            except ValueError:
                pass  # a line being written right now
        return out


def chat_records(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in records if r.get("method") == "POST"]


def server_view(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Throughput as the server saw it: answered (200) requests / (last finish - first arrival)."""
    chats = chat_records(records)
    ok = [r for r in chats if r.get("status") == 200]
    if not ok:
        return {"requests": len(chats), "ok": 0, "rejected": 0, "req_per_s": 0.0, "span_s": 0.0}
    first = min(r["arrival"] for r in chats)
    last = max(r["finished"] for r in ok)
    # steady state: answers per second between 1 s after the first arrival and 1 s before the last
    # answer (the run's start and its tail, where the work runs out, left out)
    a, b = first + 1.0, last - 1.0
    steady = sum(1 for r in ok if a <= r["finished"] < b) / (b - a) if b - a > 1.0 else None
    return {"requests": len(chats), "ok": len(ok), "rejected": sum(1 for r in chats if r.get("status") == 429),
            "span_s": last - first, "req_per_s": len(ok) / (last - first) if last > first else 0.0,
            "steady_req_per_s": steady,
            "first_arrival": first, "max_concurrent": max((r.get("concurrent") or 0) for r in chats)}


def wait_for(predicate, timeout: float, every: float = 0.02) -> bool:
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if predicate():
            return True
        time.sleep(every)
    return False


def quiet_env(**extra: str) -> dict[str, str]:
    return {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1", "HF_DATASETS_OFFLINE": "1",
            "TOKENIZERS_PARALLELISM": "false", "COLUMNS": "200", **extra}


def run_measured(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> dict[str, Any]:
    """Run a command to the end: wall time, its own CPU time (user+sys, from wait4), output, start time
    (CLOCK_MONOTONIC, comparable with the server's arrival times)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.monotonic()
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=cwd)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.monotonic() - t0
        out.seek(0)
        err.seek(0)
        return {"returncode": os.waitstatus_to_exitcode(status), "wall_s": wall, "t0": t0,
                "cpu_s": usage.ru_utime + usage.ru_stime, "peak_rss_kb": usage.ru_maxrss,
                "stdout": out.read().decode("utf-8", "replace"), "stderr": err.read().decode("utf-8", "replace")}


def short_run_view(records: list[dict[str, Any]], capacity: int, latency: float) -> dict[str, Any]:
    """How soon a run reached the server's limit, from the server's log:
    - `attainable_req_per_s`: the most any client gets from n requests, n / (ceil(n / capacity) x latency)
      (the last round trip is part-empty: 200 requests against capacity 64 cannot beat 0.78 x
      capacity/latency);
    - `peak_req_per_s`: the most answers in any two latencies, per second (two round trips, so a
      burst landing on a boundary is not counted twice);
    - `first_window`: requests that arrived within one latency of the first (the window it started at)."""
    chats = chat_records(records)
    ok = sorted(r["finished"] for r in chats if r.get("status") == 200)
    first = min(r["arrival"] for r in chats) if chats else 0.0
    span, peak, j = 2 * latency, 0, 0
    for i, t in enumerate(ok):
        while ok[j] <= t - span:
            j += 1
        peak = max(peak, i - j + 1)
    n = len(ok)
    return {"attainable_req_per_s": n / (math.ceil(n / capacity) * latency) if n else 0.0,
            "peak_req_per_s": peak / span, "first_window": sum(1 for r in chats if r["arrival"] < first + latency),
            "max_concurrent": max((r.get("concurrent") or 0) for r in chats) if chats else 0}


def globmed_cli() -> str:
    return str(Path(sys.executable).parent / "globmed")


def globmed_cmd(base_url: str, built: Path, out: Path, runs: int, concurrency: int | None = None,
                limit: int | None = None, model: str = "scripted") -> list[str]:
    cmd = [globmed_cli(), "bench", "run", "--backend", "openai", "--model", model, "--base-url", base_url,
           "--data", str(built), "--out", str(out), "--datasets", "medqa", "--languages", "en", "--runs", str(runs),
           "--mode", "generate"]
    if concurrency:
        cmd += ["--concurrency", str(concurrency)]
    if limit:
        cmd += ["--limit", str(limit)]
    return cmd


def run_globmed(server: Server, built: Path, out: Path, runs: int, concurrency: int | None = None,
                limit: int | None = None, model: str = "scripted", src: str | None = None) -> dict[str, Any]:
    """One `globmed bench run` process; `src`: a source tree whose globmed to run instead (a baseline)."""
    cmd = globmed_cmd(server.base_url, built, out, runs, concurrency, limit, model)
    mark, server_cpu = server.mark(), server.cpu_seconds()
    proc = run_measured(cmd, quiet_env(**({"PYTHONPATH": src} if src else {})))
    t0, wall = proc["t0"], proc["wall_s"]
    if proc["returncode"] != 0:
        raise SystemExit(f"globmed failed:\n{proc['stdout'][-3000:]}\n{proc['stderr'][-3000:]}")
    time.sleep(0.1)
    server_cpu = server.cpu_seconds() - server_cpu
    records = server.read(mark)
    manifest = json.loads((out / "globmed.json").read_text())
    last = next(ev for ev in manifest["evaluations"].values() if ev["model"] == model)["last_run"]
    answered = last["sent"] - last["errors"]
    view = server_view(records)
    return {"command": " ".join(cmd), "wall_s": wall, "phase_s": last["seconds"], "answered": answered,
            "errors": last["errors"], "retries": last["retries"], "req_per_s": answered / last["seconds"],
            "server": view, "first_request_s": (view["first_arrival"] - t0) if view.get("first_arrival") else None,
            "client_cpu_s": proc["cpu_s"], "client_cpu_ms_per_request": 1000 * proc["cpu_s"] / max(1, view["requests"]),
            "server_cpu_ms_per_request": 1000 * server_cpu / max(1, view["requests"]),
            "stats_line": next((l.strip() for l in proc["stdout"].splitlines() if "answered" in l), ""),
            "short": short_run_view(records, server.capacity, server.latency)}
