"""Benchmark: what the crash-safe store costs, and what a kill -9 + rerun repeats.

What it measures (issue 3, "Performance" and item 4 "The runner")
  1. Store overhead: the same endpoint run (`globmed.bench.evaluate.run_bench`, in-process, openai
     backend against the loopback server with 0.2 s latency and capacity 64, the 400 synthetic
     MCQA items x --runs 5 = 2,000 requests) once with the real SQLite store and once with a no-op
     in-memory store (a Store subclass with dict storage, monkeypatched into globmed.bench.evaluate and
     globmed.bench.scoring), alternated A B B A ... over --repeats pairs after one untimed warm-up.
     Printed: the median and best wall time of each and the overhead % (sqlite / memory - 1).
     The fixed `--concurrency 64` is used so that adaptive-concurrency variance does not hide a
     few-percent difference (the store's cost is the same per request either way).
  2. Resume: `globmed bench run` (CLI, default settings, 2,000 requests) is killed with SIGKILL
     once the server has answered about half of them; the same command is run again to the end.
     From the server's request log and the store: requests answered and stored before the kill,
     requests in flight at the kill (received by the server, not in the store), requests the
     rerun sent, and how many of those had already been answered and stored (re-sent: must be 0;
     re-sending the ones in flight at the kill is allowed). The final predictions are compared
     with an uninterrupted run's.

Targets
  - store overhead < 5% of the run's wall time;
  - after kill -9, the rerun re-sends 0 requests beyond those in flight at the kill, and ends with
    the same results as an uninterrupted run.

Run
  .venv/bin/python benchmarks/resume_overhead.py [--runs 5] [--repeats 3]
Needs tests/support/openai_server.py. Writes benchmarks/results/resume_overhead.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Iterator

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from _server import Server, chat_records, quiet_env, wait_for  # noqa: E402

LATENCY, CAPACITY = 0.2, 64


# ------------------------------------------------------------------------------------------------
# A no-op in-memory store with the Store interface
# ------------------------------------------------------------------------------------------------
def memory_store_class() -> type:
    from globmed.runner.store import Store

    class MemoryStore(Store):
        """Dict storage; instances opened on the same path share it (the run writes, scoring reads)."""

        _shared: dict[str, dict[str, Any]] = {}

        def __init__(self, path: Path, repair: bool = False):  # no SQLite at all
            self.path = Path(path)
            self.repaired = None
            d = self._shared.setdefault(str(self.path), {"responses": {}, "errors": {}, "plan": {}, "prompts": {}})
            self._r, self._e, self._p, self._q = d["responses"], d["errors"], d["plan"], d["prompts"]

        def has(self, key: str) -> bool:
            return key in self._r

        def get(self, key: str) -> str | None:
            return self._r.get(key)

        def error(self, key: str) -> tuple[str, int | None, int] | None:
            return self._e.get(key)

        def problem(self, key: str) -> str | None:
            return None

        def put(self, key: str, response: str) -> None:
            self._r[key] = response
            self._e.pop(key, None)

        def put_error(self, key: str, message: str, status: int | None, attempts: int) -> None:
            self._e[key] = (message, status, attempts)

        def put_plan(self, rows: list[tuple[str, str, str, str, int, str, str]], prompts: dict[str, str]) -> None:
            for ev, ds, lang, item, run, key, ph in rows:
                self._p[(ev, ds, lang, item, run)] = (item, run, key, ph)
            for h, m in prompts.items():
                self._q.setdefault(h, m)

        def plan(self, eval_id: str, dataset: str, language: str) -> list[tuple[str, int, str, str]]:
            return [v for k, v in self._p.items() if k[:3] == (eval_id, dataset, language)]

        def prompt(self, prompt_hash: str) -> str | None:
            return self._q.get(prompt_hash)

        def count(self) -> int:
            return len(self._r)

        def keys(self) -> Iterator[str]:
            return iter(list(self._r))

        def close(self) -> None:
            pass

    return MemoryStore


def run_in_process(base_url: str, built: Path, out: Path, runs: int, store_cls: type | None) -> float:
    from rich.console import Console

    import globmed.bench.evaluate as run_mod
    import globmed.bench.scoring as score_mod
    from globmed.bench.evaluate import BenchSettings, run_bench
    from globmed.runner.store import Store

    run_mod.Store = score_mod.Store = store_cls or Store
    settings = BenchSettings(data=str(built), out=out, backend="openai", model="scripted", base_url=base_url,
                             datasets="medqa", languages="en", runs=runs, concurrency=CAPACITY, progress=False)
    try:
        t0 = time.perf_counter()
        run_bench(settings, Console(file=open(os.devnull, "w")))
        return time.perf_counter() - t0
    finally:
        run_mod.Store = score_mod.Store = Store


# ------------------------------------------------------------------------------------------------
# Resume after kill -9
# ------------------------------------------------------------------------------------------------
def request_id(messages: list[dict[str, str]], seed: Any) -> str:
    return hashlib.sha256(json.dumps([messages, seed], sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def stored_request_ids(db: Path) -> tuple[set[str], int]:
    """Request ids (messages + seed) of the responses in a store, and the number of responses."""
    con = sqlite3.connect(db)
    try:
        rows = con.execute(
            "SELECT p.run, q.messages FROM responses r JOIN plan p ON p.key = r.key JOIN prompts q ON q.hash = p.prompt_hash"
        ).fetchall()
        n = con.execute("SELECT COUNT(*) FROM responses").fetchone()[0]
    finally:
        con.close()
    return {request_id(json.loads(m), run) for run, m in rows}, n  # seed = base seed 0 + run


def details_preds(out: Path) -> dict[tuple[str, int], Any]:
    import pyarrow.parquet as pq

    rows = pq.read_table(out / "details.medqa.en" / "train-00000-of-00001.parquet").to_pylist()
    return {(r["id"], r["run"]): (r["pred"], r["correct"], r["error"]) for r in rows}


def resume_check(server: Server, built: Path, work: Path, runs: int, total: int, fraction: float) -> dict[str, Any]:
    out = work / "resume-out"
    cmd = [str(Path(sys.executable).parent / "globmed"), "bench", "run", "--backend", "openai", "--model", "scripted",
           "--base-url", server.base_url, "--data", str(built), "--out", str(out), "--datasets", "medqa",
           "--languages", "en", "--runs", str(runs), "--mode", "generate"]
    mark = server.mark()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=quiet_env())
    target = int(total * fraction)
    ok = wait_for(lambda: len(server.read(mark)) >= target, timeout=120, every=0.005)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    if not ok:
        raise SystemExit("the run did not get half-way within 120 s")
    time.sleep(LATENCY * 3)  # let the server finish (and log) what was in flight at the kill
    first = chat_records(server.read(mark))
    answered_first = {request_id(r["json"]["messages"], r["json"].get("seed")) for r in first if r["status"] == 200}
    stored, n_stored = stored_request_ids(out / ".cache" / "requests.sqlite")
    in_flight = answered_first - stored  # the server answered, the client died before storing

    mark2 = server.mark()
    t0 = time.perf_counter()
    proc2 = subprocess.run(cmd, capture_output=True, text=True, env=quiet_env())
    rerun_wall = time.perf_counter() - t0
    if proc2.returncode != 0:
        raise SystemExit(f"the rerun failed:\n{proc2.stdout[-2000:]}\n{proc2.stderr[-2000:]}")
    second = chat_records(server.read(mark2))
    sent2 = [request_id(r["json"]["messages"], r["json"].get("seed")) for r in second]
    resent_stored = sum(1 for s in sent2 if s in stored)
    resent_in_flight = sum(1 for s in sent2 if s in in_flight)
    manifest = json.loads((out / "globmed.json").read_text())
    (ev,) = manifest["evaluations"].values()
    return {"command": " ".join(cmd), "killed_after_answered": len(first), "stored_at_kill": n_stored,
            "in_flight_at_kill": len(in_flight), "rerun_sent": len(sent2), "rerun_expected": total - n_stored,
            "resent_already_stored": resent_stored, "resent_in_flight_at_kill": resent_in_flight,
            "rerun_cached": ev["last_run"]["cached"], "rerun_wall_s": rerun_wall, "out": out,
            "final_preds": details_preds(out)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5, help="runs of the 400 items (requests = 400 x runs)")
    ap.add_argument("--repeats", type=int, default=3, help="(sqlite, memory) pairs, alternated")
    ap.add_argument("--kill-at", type=float, default=0.5, help="fraction answered before the kill")
    ap.add_argument("--cache-dir", default=None)
    args = ap.parse_args()
    from bench_local import ensure_data

    cache = ensure_data(cache_dir=args.cache_dir)
    built = cache / "globmed"
    MemoryStore = memory_store_class()
    work = Path(tempfile.mkdtemp(prefix="globmed-bench-resume-"))
    res: dict[str, Any] = {"load_before": os.getloadavg()}
    try:
        with Server(LATENCY, CAPACITY, "queue", work / "server.log") as server:
            from globmed.core.datafolder import open_data

            n_items = len(open_data(str(built)).items("medqa.en", "test"))
            total = n_items * args.runs
            print(f"store overhead: {total} requests per run, {args.repeats} pairs (sqlite, memory) ...", flush=True)
            run_in_process(server.base_url, built, work / "warmup", args.runs, MemoryStore)  # imports, caches
            times: dict[str, list[float]] = {"sqlite": [], "memory": []}
            k = 0
            for i in range(args.repeats):
                order = ("sqlite", "memory") if i % 2 == 0 else ("memory", "sqlite")
                for kind in order:
                    k += 1
                    t = run_in_process(server.base_url, built, work / f"out-{k}", args.runs,
                                       MemoryStore if kind == "memory" else None)
                    times[kind].append(t)
                    print(f"  {kind:6s}: {t:.2f} s", flush=True)
            reference = details_preds(work / "out-1") if (work / "out-1" / "details.medqa.en").exists() else None
            res["store_times"] = times
            print(f"resume: kill -9 after ~{args.kill_at:.0%} of {total} requests, then rerun ...", flush=True)
            rc = resume_check(server, built, work, args.runs, total, args.kill_at)
            preds = rc.pop("final_preds")
            rc["same_results_as_uninterrupted"] = reference is not None and preds == reference
            res["resume"] = {k: (str(v) if isinstance(v, Path) else v) for k, v in rc.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    res["load_after"] = os.getloadavg()

    med = {k: statistics.median(v) for k, v in times.items()}
    best = {k: min(v) for k, v in times.items()}
    overhead_med = med["sqlite"] / med["memory"] - 1
    overhead_best = best["sqlite"] / best["memory"] - 1
    r = res["resume"]
    targets = {"store_overhead<5%": overhead_med < 0.05,
               "resent_beyond_in_flight==0": r["resent_already_stored"] == 0,
               "same_results_after_resume": r["same_results_as_uninterrupted"]}
    res.update(overhead_median=overhead_med, overhead_best=overhead_best, targets=targets)
    rows = [
        ("requests per run (400 items x runs)", f"{total}", "--concurrency 64, in-process run_bench"),
        ("wall, in-memory no-op store (median / best)", f"{med['memory']:.2f} / {best['memory']:.2f} s", "1.00x"),
        ("wall, SQLite store (median / best)", f"{med['sqlite']:.2f} / {best['sqlite']:.2f} s",
         f"{med['sqlite'] / med['memory']:.3f}x / {best['sqlite'] / best['memory']:.3f}x"),
        ("TARGET store overhead < 5%", f"{overhead_med:+.1%} (best-of: {overhead_best:+.1%})",
         "MET" if targets["store_overhead<5%"] else "MISSED"),
        ("kill -9 after the server answered", f"{r['killed_after_answered']}", ""),
        ("stored at the kill / in flight at the kill", f"{r['stored_at_kill']} / {r['in_flight_at_kill']}", ""),
        ("rerun sent (expected: total - stored)", f"{r['rerun_sent']} ({r['rerun_expected']})",
         f"of which in flight at the kill: {r['resent_in_flight_at_kill']}"),
        ("TARGET re-sent requests already answered+stored", f"{r['resent_already_stored']}",
         "MET" if targets["resent_beyond_in_flight==0"] else "MISSED"),
        ("TARGET same results as an uninterrupted run", str(r["same_results_as_uninterrupted"]),
         "MET" if targets["same_results_after_resume"] else "MISSED"),
        ("load average before / after", f"{res['load_before'][0]:.2f} / {res['load_after'][0]:.2f}",
         "(other processes on this machine add noise)"),
    ]
    width = max(len(x[0]) for x in rows)
    print("\n=== resume_overhead summary (ratios between runs of this process) ===")
    for a, b, c in rows:
        print(f"{a:<{width}}  {b:<28} {c}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "resume_overhead.json").write_text(json.dumps(res, indent=2, default=str))
    print(f"(written to {RESULTS / 'resume_overhead.json'})")


if __name__ == "__main__":
    main()
