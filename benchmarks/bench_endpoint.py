"""Benchmark: throughput and start-up against a loopback OpenAI-compatible server, globmed vs lm-eval.

What it measures (issue 3, "Performance")
  The server is tests/support/openai_server.py in its own process, with a fixed latency (0.2 s)
  and capacity (64 requests served at once): beyond capacity it queues (mode "queue": latency
  grows) or answers 429 + Retry-After (mode "reject"). Its ideal throughput is capacity/latency
  = 320 req/s. Items: the same 400 synthetic English MCQA items as bench_local.py (~230-token
  prompts; a built GlobMed folder, config medqa.en), asked in generate mode (chat completions).
  (a) the ideal, capacity / latency;
  (b) `globmed bench run --backend openai` with DEFAULT settings (adaptive concurrency), in both
      server modes, and with `--concurrency 64`: achieved req/s (answered / the runner's own
      elapsed time, from OUT/globmed.json last_run) on 4,000 requests (the 400 items x --runs 10,
      so ramp-up does not dominate), as a fraction of the ideal; the server's own view (answered /
      (last finish - first arrival)) is printed beside it, and its steady state (answers per second
      from 1 s after the first arrival to 1 s before the last answer: no start, no tail where the
      work runs out; the target is checked on the whole run). Also the end-to-end wall time of the
      400-item run (`--runs 1`, default settings, queue mode);
  (c) lm-eval `local-chat-completions` (--apply_chat_template, --system_instruction = globmed's
      system prompt, a generate_until task whose doc_to_text is globmed's user prompt) against the
      same server on the same 400 items with num_concurrent=1 (its default) and 64: wall time and
      req/s; the messages each tool sent are compared (from the server log);
  (d) start-up: wall time of `globmed bench run --help`, time to first request of a real run
      (the server's arrival time of the first request minus the moment the process was started;
      both CLOCK_MONOTONIC), and whether torch / transformers are imported for an API backend
      (checked in-process via sys.modules at exit), plus the slowest imports (-X importtime).

Targets
  - default settings >= 90% of capacity/latency; with --concurrency 64 >= 97%;
  - globmed's 400-item end-to-end wall <= 1/3 of lm-eval's best wall;
  - start-up (time to first request) < 3 s; no torch import for API backends.

Run
  .venv/bin/python benchmarks/bench_endpoint.py [--runs 10] [--repeats 2] [--skip-lmeval]
  .venv/bin/python benchmarks/bench_endpoint.py --session [--repeats 3] [--baseline-src DIR] [--simulate]
      the request session's figures (issue 17): see session_bench and simulated_session
Needs
benchmarks/.venv-lmeval (created by benchmarks/lm_eval_env.py). Writes benchmarks/results/bench_endpoint.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

from _server import (  # noqa: E402
    CAPACITY,
    LATENCY,
    Server,
    chat_records,
    globmed_cli,
    globmed_cmd,
    quiet_env,
    run_globmed,
    run_measured,
    server_view,
)

GEN_TASK = "globmed_medqa_en_gen"


def write_gen_task(cache: Path, built: Path) -> tuple[Path, str, list[list[dict[str, str]]]]:
    """A generate_until task whose user message and system instruction are globmed's."""
    from globmed import languages, registry
    from globmed.core.datafolder import open_data
    from globmed.tasks import get_task

    items = open_data(str(built)).items("medqa.en", "test")
    lang, spec, task = languages.get("en"), registry.get("medqa"), get_task("mcqa")
    messages = [task.messages(item, lang, spec) for item in items]
    system = messages[0][0]["content"]
    assert all(m[0] == {"role": "system", "content": system} for m in messages)
    task_dir = cache / "lmeval-gen-task"
    task_dir.mkdir(parents=True, exist_ok=True)
    data = task_dir / "items.jsonl"
    data.write_text("".join(json.dumps({"id": it["id"], "user": m[1]["content"], "letter": it["answer"]},
                                       ensure_ascii=False) + "\n" for it, m in zip(items, messages)), encoding="utf-8")
    (task_dir / f"{GEN_TASK}.yaml").write_text(
        f"task: {GEN_TASK}\n"
        "dataset_path: json\n"
        f"dataset_kwargs:\n  data_files:\n    test: {json.dumps(str(data))}\n"
        "test_split: test\n"
        "output_type: generate_until\n"
        'doc_to_text: "{{user}}"\n'
        'doc_to_target: "{{letter}}"\n'
        "generation_kwargs:\n  max_gen_toks: 512\n  temperature: 0.0\n  do_sample: false\n"
        "metric_list:\n  - metric: exact_match\n"
        "metadata:\n  version: 1.0\n", encoding="utf-8")
    return task_dir, system, [[dict(x) for x in m] for m in messages]


def run_lmeval(py: Path, server: Server, task_dir: Path, system: str, out: Path, concurrent: int) -> dict[str, Any]:
    cmd = [str(py.parent / "lm_eval"), "run", "--model", "local-chat-completions", "--model_args",
           f"model=scripted,base_url={server.base_url}/chat/completions,num_concurrent={concurrent},max_retries=3",
           "--apply_chat_template", "--system_instruction", system, "--tasks", GEN_TASK,
           "--include_path", str(task_dir), "--output_path", str(out)]
    mark, server_cpu = server.mark(), server.cpu_seconds()
    proc = run_measured(cmd, quiet_env(HF_DATASETS_CACHE=str(task_dir.parent / "hf-datasets-cache")))
    t0, wall = proc["t0"], proc["wall_s"]
    if proc["returncode"] != 0:
        raise SystemExit(f"lm_eval failed:\n{proc['stdout'][-3000:]}\n{proc['stderr'][-3000:]}")
    time.sleep(0.1)
    server_cpu = server.cpu_seconds() - server_cpu
    records = server.read(mark)
    view = server_view(records)
    return {"command": " ".join(cmd), "wall_s": wall, "server": view, "req_per_s": view["req_per_s"],
            "first_request_s": (view["first_arrival"] - t0) if view.get("first_arrival") else None,
            "client_cpu_s": proc["cpu_s"], "client_cpu_ms_per_request": 1000 * proc["cpu_s"] / max(1, view["requests"]),
            "server_cpu_ms_per_request": 1000 * server_cpu / max(1, view["requests"]),
            "messages": [r["json"]["messages"] for r in chat_records(records)]}


_IMPORT_CHECK = r"""
import atexit, sys
def _report():
    mods = sys.modules
    print("IMPORTS " + repr({m: (m in mods) for m in ("torch", "transformers", "datasets", "huggingface_hub", "openai")}),
          file=sys.stderr)
atexit.register(_report)
sys.argv = ["globmed"] + sys.argv[1:]
from globmed.cli import main
main()
"""


def import_check(server: Server, built: Path, work: Path) -> dict[str, bool]:
    out = work / "import-check"
    cmd = [sys.executable, "-c", _IMPORT_CHECK, *globmed_cmd(server.base_url, built, out, 1)[1:], "--limit", "5"]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=quiet_env())
    line = next((l for l in proc.stderr.splitlines() if l.startswith("IMPORTS ")), None)
    if line is None:
        raise SystemExit(f"import check failed:\n{proc.stderr[-3000:]}")
    import ast

    return ast.literal_eval(line[len("IMPORTS "):])


def slowest_imports(args: list[str], top: int = 12) -> list[tuple[str, float]]:
    """Packages by cumulative import time (python -X importtime), top level and one level below (" > ")."""
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c",
                           "import sys; sys.argv=['globmed']+sys.argv[1:]\nfrom globmed.cli import main\nmain()", *args],
                          capture_output=True, text=True, env=quiet_env())
    rows = []
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+)\s+\|\s+(\d+)\s+\|(\s*)(\S+)", line)
        if m and len(m.group(3)) <= 3:  # top level and one level below (two spaces per level)
            rows.append(((" > " if len(m.group(3)) > 1 else "") + m.group(4), int(m.group(2)) / 1e6))
    return sorted(rows, key=lambda r: -r[1])[:top]


def trace_adaptive(base_url: str, built: Path, out: Path, runs: int) -> dict[str, Any]:
    """A default-settings run in-process with the adaptive limit instrumented: the window over time, its
    cuts (with the latency that caused them) and the latencies the runner saw."""
    from rich.console import Console

    import globmed.runner.executor as runner_mod
    from globmed.bench.evaluate import BenchSettings, run_bench

    original = runner_mod.AdaptiveLimit
    trace: dict[str, Any] = {"samples": [], "cuts": [], "latencies": []}
    t0 = time.monotonic()

    class Traced(original):  # type: ignore[misc, valid-type]
        def on_success(self, latency: float, limited: bool) -> None:
            before = self.limit
            super().on_success(latency, limited)
            trace["latencies"].append(latency)
            if self.limit < before:
                trace["cuts"].append({"t": time.monotonic() - t0, "from": before, "to": self.limit, "latency": latency,
                                      "base": self.base_latency, "why": "latency"})
            if len(trace["latencies"]) % 50 == 0:
                trace["samples"].append((round(time.monotonic() - t0, 2), round(self.limit, 1)))

        def on_overload(self, window: int = 0) -> bool:
            before = self.limit
            burst = super().on_overload(window)
            if self.limit < before:
                trace["cuts"].append({"t": time.monotonic() - t0, "from": before, "to": self.limit, "why": "429/503"})
            return burst

    runner_mod.AdaptiveLimit = Traced
    try:
        settings = BenchSettings(data=str(built), out=out, backend="openai", model="scripted", base_url=base_url,
                                 datasets="medqa", languages="en", runs=runs, progress=False)
        t0 = time.monotonic()
        run_bench(settings, Console(file=open(os.devnull, "w")))
    finally:
        runner_mod.AdaptiveLimit = original
    lat = sorted(trace["latencies"])
    windows = [w for _, w in trace["samples"]]
    return {"cuts": trace["cuts"][:20], "n_cuts": len(trace["cuts"]), "window_samples": trace["samples"],
            "window_median": statistics.median(windows) if windows else None,
            "latency_p50": lat[len(lat) // 2] if lat else None, "latency_p90": lat[int(len(lat) * 0.9)] if lat else None,
            "latency_min": lat[0] if lat else None}


def profile_run(base_url: str, built: Path, out: Path, runs: int, concurrency: int | None) -> str:
    """cProfile of an in-process run (the request phase dominates at --runs 10): the top functions."""
    import cProfile
    import io
    import pstats

    from rich.console import Console

    from globmed.bench.evaluate import BenchSettings, run_bench

    settings = BenchSettings(data=str(built), out=out, backend="openai", model="scripted", base_url=base_url,
                             datasets="medqa", languages="en", runs=runs, concurrency=concurrency, progress=False)
    run_bench(settings, Console(file=open(os.devnull, "w")))  # warm: imports and caches out of the profile
    settings.out = Path(str(out) + "-profiled")
    prof = cProfile.Profile()
    prof.runcall(run_bench, settings, Console(file=open(os.devnull, "w")))
    RESULTS.mkdir(parents=True, exist_ok=True)
    prof.dump_stats(RESULTS / "bench_endpoint.pstats")
    text = io.StringIO()
    stats = pstats.Stats(prof, stream=text)
    stats.sort_stats("tottime").print_stats(25)
    stats.sort_stats("cumulative").print_stats(45)
    return text.getvalue()


def raw_client(base_url: str, n: int, concurrency: int) -> dict[str, Any]:
    """A reference for the client's own cost: a bare aiohttp loop (a semaphore of `concurrency`, ~1 KB
    prompts, no store, no scoring, no pacing: its requests go back out in the bursts they came back
    in), measured in the same run."""
    import asyncio

    import aiohttp

    async def go() -> float:
        sem = asyncio.Semaphore(concurrency)
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            async def one(i: int) -> None:
                body = {"model": "scripted", "max_tokens": 8,
                        "messages": [{"role": "user", "content": f"question {i} " + "word " * 200}]}
                async with sem:
                    async with session.post(f"{base_url}/chat/completions", data=json.dumps(body),
                                            headers={"Content-Type": "application/json"}) as resp:
                        await resp.read()

            t0 = time.perf_counter()
            await asyncio.gather(*(one(i) for i in range(n)))
            return time.perf_counter() - t0

    seconds = asyncio.run(go())
    return {"requests": n, "seconds": seconds, "req_per_s": n / seconds}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=10, help="runs of the 400 items for the throughput figures")
    ap.add_argument("--repeats", type=int, default=2, help="repeats of the 400-item end-to-end runs (best used); --session: of every case (medians)")
    ap.add_argument("--skip-lmeval", action="store_true")
    ap.add_argument("--profile", action="store_true",
                    help="also cProfile an in-process --concurrency 64 run (writes results/bench_endpoint.pstats)")
    ap.add_argument("--cache-dir", default=None)
    ap.add_argument("--session", action="store_true",
                    help="only the request session's figures (short run, remembered window, queue mode; medians of "
                         "--repeats): see session_bench")
    ap.add_argument("--short", type=int, default=200, help="requests in a short run (--session)")
    ap.add_argument("--parts", default="queue,reject,long",
                    help="--session: queue / reject (short runs and a 2nd model, per server mode), long (--runs x 400 "
                         "requests, queue mode)")
    ap.add_argument("--baseline-src", default=None,
                    help="--session: also run the default-settings cases with the globmed of this source tree")
    ap.add_argument("--simulate", action="store_true",
                    help="--session in virtual time (tests/support/virtual_server.py): exact, free of the machine's load")
    args = ap.parse_args()
    if args.session and args.simulate:
        from _session import simulated_session

        return simulated_session(args)
    from bench_local import ensure_data

    cache = ensure_data(cache_dir=args.cache_dir)
    built = cache / "globmed"
    ideal = CAPACITY / LATENCY
    work = Path(tempfile.mkdtemp(prefix="globmed-bench-endpoint-"))
    if args.session:
        from _session import session_bench

        try:
            return session_bench(args, built, work)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    res: dict[str, Any] = {"ideal_req_per_s": ideal, "latency_s": LATENCY, "capacity": CAPACITY,
                           "load_before": os.getloadavg()}
    n_out = 0

    def fresh() -> Path:
        nonlocal n_out
        n_out += 1
        return work / f"out-{n_out}"

    try:
        # (d) start-up without a server
        helps = []
        for _ in range(3):
            t0 = time.monotonic()
            subprocess.run([globmed_cli(), "bench", "run", "--help"], capture_output=True, env=quiet_env(), check=True)
            helps.append(time.monotonic() - t0)
        res["help_s"] = min(helps)
        res["help_slowest_imports"] = slowest_imports(["bench", "run", "--help"])
        print(f"globmed bench run --help: {min(helps):.2f} s", flush=True)

        with Server(LATENCY, CAPACITY, "queue", work / "server-queue.log") as server:
            res["imports_api_backend"] = import_check(server, built, work)
            res["run_slowest_imports"] = slowest_imports(
                globmed_cmd(server.base_url, built, work / "importtime-out", 1)[1:] + ["--limit", "5"])
            print(f"modules imported by an openai-backend run: {res['imports_api_backend']}", flush=True)
            # (b) 400-item end-to-end, default settings
            e2e = []
            for _i in range(args.repeats):
                r = run_globmed(server, built, fresh(), 1)
                e2e.append(r)
                print(f"globmed 400 items, default settings: wall {r['wall_s']:.2f} s, first request after "
                      f"{r['first_request_s']:.2f} s, {r['req_per_s']:.0f} req/s in the run phase", flush=True)
            res["globmed_e2e"] = e2e
            # throughput, queue mode: default and --concurrency 64
            for label, conc in (("default", None), ("concurrency64", CAPACITY)):
                r = run_globmed(server, built, fresh(), args.runs, conc)
                res[f"globmed_queue_{label}"] = r
                print(f"globmed {r['answered']} requests, queue mode, {label}: {r['req_per_s']:.1f} req/s "
                      f"({r['req_per_s'] / ideal:.1%} of ideal; server view {r['server']['req_per_s']:.1f}), "
                      f"retries {r['retries']}, max concurrent at server {r['server']['max_concurrent']}", flush=True)
            # a reference: a bare aiohttp loop (no store, no pacing) against the same server, same run
            raw = raw_client(server.base_url, args.runs * 400, CAPACITY)
            res["raw_client_queue_c64"] = raw
            print(f"bare aiohttp client, {CAPACITY} in flight: {raw['req_per_s']:.1f} req/s "
                  f"({raw['req_per_s'] / ideal:.1%} of ideal)", flush=True)
            # why default settings land where they do: the adaptive window, traced in-process
            tr = trace_adaptive(server.base_url, built, fresh(), args.runs)
            res["adaptive_trace_queue"] = tr
            print(f"adaptive window (queue mode, in-process trace): median {tr['window_median']}, {tr['n_cuts']} cuts, "
                  f"latency min/p50/p90 {tr['latency_min']:.3f}/{tr['latency_p50']:.3f}/{tr['latency_p90']:.3f} s; "
                  f"first cuts: {[(round(c['t'], 2), round(c['from']), round(c['to']), c['why']) for c in tr['cuts'][:6]]}",
                  flush=True)
            if args.profile:
                print(profile_run(server.base_url, built, fresh(), args.runs, CAPACITY), flush=True)
            # (c) lm-eval local-chat-completions
            if not args.skip_lmeval:
                from lm_eval_env import ensure

                py = ensure(quiet=True)
                task_dir, system, g_messages = write_gen_task(cache, built)
                for conc in (1, CAPACITY):
                    r = run_lmeval(py, server, task_dir, system, fresh(), conc)
                    same = sorted(map(json.dumps, r.pop("messages"))) == sorted(map(json.dumps, g_messages))
                    r["messages_identical_to_globmed"] = same
                    res[f"lmeval_c{conc}"] = r
                    print(f"lm-eval local-chat-completions num_concurrent={conc}: wall {r['wall_s']:.1f} s, "
                          f"{r['req_per_s']:.1f} req/s (server view), first request after {r['first_request_s']:.1f} s, "
                          f"messages identical to globmed's: {same}", flush=True)

        with Server(LATENCY, CAPACITY, "reject", work / "server-reject.log") as server:
            tr = trace_adaptive(server.base_url, built, fresh(), args.runs)
            res["adaptive_trace_reject"] = tr
            print(f"adaptive window (reject mode, in-process trace): median {tr['window_median']}, {tr['n_cuts']} cuts, "
                  f"latency min/p50/p90 {tr['latency_min']:.3f}/{tr['latency_p50']:.3f}/{tr['latency_p90']:.3f} s; "
                  f"first cuts: {[(round(c['t'], 2), round(c['from']), round(c['to']), c['why']) for c in tr['cuts'][:6]]}",
                  flush=True)
            for label, conc in (("default", None), ("concurrency64", CAPACITY)):
                r = run_globmed(server, built, fresh(), args.runs, conc)
                res[f"globmed_reject_{label}"] = r
                print(f"globmed {r['answered']} requests, reject mode, {label}: {r['req_per_s']:.1f} req/s "
                      f"({r['req_per_s'] / ideal:.1%} of ideal; server view {r['server']['req_per_s']:.1f}), "
                      f"429s {r['server']['rejected']}, retries {r['retries']}", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)

    res["load_after"] = os.getloadavg()
    # ---------------------------------------------------------------- summary
    best_e2e = min(r["wall_s"] for r in res["globmed_e2e"])
    ttfr = min(r["first_request_s"] for r in res["globmed_e2e"])
    rows = [("ideal = capacity / latency", f"{ideal:.0f} req/s", "1.00")]
    targets: dict[str, bool] = {}
    for mode in ("queue", "reject"):
        for label, need in (("default", 0.90), ("concurrency64", 0.97)):
            r = res[f"globmed_{mode}_{label}"]
            frac = r["req_per_s"] / ideal
            key = f"{mode}_{label}>={need:.0%}"
            targets[key] = frac >= need
            rows.append((f"globmed {mode} mode, {'--concurrency 64' if label != 'default' else 'default settings'}",
                         f"{r['req_per_s']:.1f} req/s ({r['answered']} req)",
                         f"{frac:.3f} of ideal (target >= {need:.2f}: {'MET' if frac >= need else 'MISSED'}); "
                         f"server view {r['server']['req_per_s'] / ideal:.3f} (steady state "
                         f"{(r['server'].get('steady_req_per_s') or 0) / ideal:.3f}); max in flight "
                         f"{r['server']['max_concurrent']}; 429s {r['server']['rejected']}; retries {r['retries']}"))
    raw = res["raw_client_queue_c64"]["req_per_s"]
    rows.append(("bare aiohttp client, 64 in flight (queue)", f"{raw:.1f} req/s",
                 f"{raw / ideal:.3f} of ideal: no store, no scoring, no pacing (sends in bursts)"))
    for mode in ("queue", "reject"):
        for label in ("default", "concurrency64"):
            r = res[f"globmed_{mode}_{label}"]
            rows.append((f"  globmed {mode} {label} / bare client", "", f"{r['req_per_s'] / raw:.3f}"))
    rows.append(("globmed 400 items end to end (default, queue)", f"{best_e2e:.2f} s",
                 "runs: " + ", ".join(f"{r['wall_s']:.2f}" for r in res["globmed_e2e"])))
    if "lmeval_c1" in res:
        lm_best = min(res["lmeval_c1"]["wall_s"], res[f"lmeval_c{CAPACITY}"]["wall_s"])
        for conc in (1, CAPACITY):
            r = res[f"lmeval_c{conc}"]
            rows.append((f"lm-eval local-chat-completions num_concurrent={conc}",
                         f"{r['wall_s']:.1f} s wall, {r['req_per_s']:.1f} req/s",
                         f"{r['req_per_s'] / ideal:.3f} of ideal (server view); first request after "
                         f"{r['first_request_s']:.1f} s; process CPU {r['client_cpu_s']:.1f} s"))
        ratio = best_e2e / lm_best
        targets["e2e<=1/3 lm-eval best"] = ratio <= 1 / 3
        rows.append(("globmed e2e wall / lm-eval best wall", f"{ratio:.3f}",
                     f"target <= 0.333: {'MET' if ratio <= 1 / 3 else 'MISSED'}"))
        res["e2e_ratio"] = ratio
    # CPU: what one request costs the client once started (marginal, between a 400- and an N-request run
    # with the same start-up), against the server's cost; and the whole 400-item process.
    e2e_cpu = min(r["client_cpu_s"] for r in res["globmed_e2e"])
    for label in ("default", "concurrency64"):
        big = res[f"globmed_queue_{label}"]
        extra = big["server"]["requests"] - min(r["server"]["requests"] for r in res["globmed_e2e"])
        if extra > 0:
            res[f"client_cpu_ms_per_request_marginal_{label}"] = 1000 * (big["client_cpu_s"] - e2e_cpu) / extra
    flag = res.get("client_cpu_ms_per_request_marginal_concurrency64")
    if flag is not None:
        srv = res["globmed_queue_concurrency64"]["server_cpu_ms_per_request"]
        rows.append(("client CPU per request (marginal, --concurrency 64)", f"{flag:.2f} ms",
                     f"server: {srv:.2f} ms; at the ideal 320 req/s the client alone needs {flag * 0.32:.2f} of 2 cores"))
    rows.append(("CPU of the whole 400-item process", f"globmed {e2e_cpu:.1f} s",
                 (f"lm-eval (num_concurrent=64) {res[f'lmeval_c{CAPACITY}']['client_cpu_s']:.1f} s"
                  if f"lmeval_c{CAPACITY}" in res else "")))
    targets["time_to_first_request<3s"] = ttfr < 3
    targets["no_torch_for_api_backend"] = not res["imports_api_backend"]["torch"]
    rows += [
        ("globmed bench run --help", f"{res['help_s']:.2f} s", ""),
        ("time to first request (process start -> server)", f"{ttfr:.2f} s",
         f"target < 3 s: {'MET' if ttfr < 3 else 'MISSED'}"),
        ("torch imported for the openai backend", str(res["imports_api_backend"]["torch"]),
         "MET" if targets["no_torch_for_api_backend"] else "MISSED"),
        ("transformers / datasets imported", f"{res['imports_api_backend']['transformers']} / "
                                             f"{res['imports_api_backend']['datasets']}", ""),
    ]
    res["targets"] = targets
    width = max(len(r[0]) for r in rows)
    print("\n=== bench_endpoint summary (ratios against the server's ideal and lm-eval, measured in this run) ===")
    for k, v, note in rows:
        print(f"{k:<{width}}  {v:<34} {note}")
    print("slowest imports of `globmed bench run --help` (cumulative s): "
          + ", ".join(f"{m} {s:.2f}" for m, s in res["help_slowest_imports"][:8]))
    print("slowest imports of a real openai-backend run (cumulative s): "
          + ", ".join(f"{m} {s:.2f}" for m, s in res["run_slowest_imports"][:10]))
    print(f"load average before / after: {res['load_before'][0]:.2f} / {res['load_after'][0]:.2f} "
          "(other processes on this 2-core machine add noise)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_endpoint.json").write_text(json.dumps(res, indent=2, default=str))
    print(f"(written to {RESULTS / 'bench_endpoint.json'})")


if __name__ == "__main__":
    main()
