"""bench_endpoint.py --session: the request session's figures (issue 17, part 8) against the loopback
server, and the same cases in virtual time (--simulate)."""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from _server import CAPACITY, LATENCY, RESULTS, ROOT, Server, quiet_env, run_globmed


def remembered_window(out: Path) -> dict[str, Any] | None:
    """The adaptive window the run into `out` left in its request store (None: none, or an older globmed)."""
    import sqlite3

    db = sqlite3.connect(out / ".cache" / "requests.sqlite")
    try:
        row = db.execute("SELECT state FROM windows").fetchone()
    except sqlite3.OperationalError:
        return None
    finally:
        db.close()
    return json.loads(row[0]) if row else None


def simulated_session(args: argparse.Namespace) -> None:
    """The session's figures in virtual time (tests/support/virtual_server.py): globmed's executor, window
    and store against a simulated server with the loopback server's rules, free of this machine's load;
    with --baseline-src, the same suite with that tree's globmed, side by side."""
    codes = [("globmed", str(ROOT))] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    suites = {}
    for label, src in codes:
        proc = subprocess.run([sys.executable, str(ROOT / "tests" / "support" / "virtual_server.py")], capture_output=True,
                              text=True, env=quiet_env(PYTHONPATH=f"{src}:{ROOT}"), cwd=tempfile.gettempdir())
        if proc.returncode != 0:
            raise SystemExit(f"the simulation failed for {label}:\n{proc.stderr[-3000:]}")
        suites[label] = json.loads(proc.stdout)
    print("=== bench_endpoint --session --simulate: virtual time, 0.2 s latency, capacity 64 (ideal 320 req/s) ===")
    for case in suites["globmed"]:
        print(case)
        for label, suite in suites.items():
            r = suite[case]
            print(f"  {label:9s} {r['elapsed_s']:7.3f} s  {r['of_ideal']:.3f} of capacity/latency, {r['of_attainable']:.3f} "
                  f"of attainable; started at {r['first_window']}, max in flight {r['max_in_flight']}, 429s {r['rejected']}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_endpoint_simulated.json").write_text(json.dumps(suites, indent=2))
    print(f"(written to {RESULTS / 'bench_endpoint_simulated.json'})")


def session_bench(args: argparse.Namespace, built: Path, work: Path) -> None:
    """The request session's figures (issue 17, part 8), each a median over --repeats runs interleaved with
    their references (this machine is shared: ratios taken within a repeat):
      short:  --short requests (200) with default settings, fresh OUT, against the queueing server: the
              runner's answered/elapsed as a fraction of capacity/latency, of the attainable (see
              _server.short_run_view), and of a --concurrency 64 run in the same repeat (the right fixed
              window: what this machine allows); the server's peak rate; reject mode alongside;
      memory: a second model into the same OUT (a new evaluation on the same server): the window it
              started at (arrivals in its first latency) and its fraction, against the first model's;
      queue:  --runs x 400 requests (4,000), default settings and --concurrency 64, queueing server.
    With --baseline-src DIR the default-settings runs are repeated with the globmed of DIR (before/after)."""
    res: dict[str, Any] = {"capacity": CAPACITY, "latency_s": LATENCY, "load_before": os.getloadavg(), "runs": []}
    ideal = CAPACITY / LATENCY
    codes = [("globmed", None)] + ([("baseline", args.baseline_src)] if args.baseline_src else [])
    n_out = 0

    def fresh() -> Path:
        nonlocal n_out
        n_out += 1
        return work / f"session-{n_out}"

    def record(part: str, mode: str, label: str, r: dict[str, Any], **extra: Any) -> dict[str, Any]:
        row = {"part": part, "mode": mode, "label": label, "frac": r["req_per_s"] / ideal,
               "attainable": r["req_per_s"] / r["short"]["attainable_req_per_s"],
               "peak": r["short"]["peak_req_per_s"] / ideal, "first_window": r["short"]["first_window"],
               "max_concurrent": r["short"]["max_concurrent"], "rejected": r["server"]["rejected"],
               "answered": r["answered"], **extra}
        res["runs"].append(row)
        print(f"  {part:6s} {mode:6s} {label:22s} {row['frac']:.3f} of capacity/latency, {row['attainable']:.3f} of "
              f"attainable, started at {row['first_window']}, max in flight {row['max_concurrent']}, "
              f"429s {row['rejected']} {' '.join(f'{k}={v}' for k, v in extra.items())}", flush=True)
        return row

    parts = set(args.parts.split(","))
    for mode in [m for m in ("queue", "reject") if m in parts or (m == "queue" and "long" in parts)]:
        with Server(LATENCY, CAPACITY, mode, work / f"session-{mode}.log") as server:
            for _i in range(args.repeats if mode in parts else 0):
                for label, src in codes:
                    out = fresh()
                    first = record("short", mode, f"{label} default", run_globmed(server, built, out, 1, limit=args.short, src=src))
                    second = run_globmed(server, built, out, 1, limit=args.short, model="scripted-b", src=src)
                    record("memory", mode, f"{label} 2nd model", second, remembered=remembered_window(out),
                           vs_first=round(second["req_per_s"] / (first["frac"] * ideal), 3))
                record("short", mode, "--concurrency 64", run_globmed(server, built, fresh(), 1, CAPACITY, limit=args.short))
            if mode == "queue" and "long" in parts:
                for _i in range(args.repeats):
                    for label, src in codes:
                        record("queue", mode, f"{label} default", run_globmed(server, built, fresh(), args.runs, src=src))
                    record("queue", mode, "--concurrency 64", run_globmed(server, built, fresh(), args.runs, CAPACITY))
    res["load_after"] = os.getloadavg()

    def median(part: str, mode: str, label: str, key: str) -> float:
        return statistics.median(r[key] for r in res["runs"] if (r["part"], r["mode"], r["label"]) == (part, mode, label))

    def vs_fixed(part: str, mode: str, label: str) -> float:
        """Median over repeats of (this run / the --concurrency 64 run of the same repeat)."""
        mine = [r for r in res["runs"] if (r["part"], r["mode"], r["label"]) == (part, mode, label)]
        fixed = [r for r in res["runs"] if (r["part"], r["mode"], r["label"]) == (
            "short" if part == "memory" else part, mode, "--concurrency 64")]
        return statistics.median(a["frac"] / b["frac"] for a, b in zip(mine, fixed))

    rows, targets = [], {}
    seen = {(r["part"], r["mode"]) for r in res["runs"]}
    for part, mode in [pm for pm in (("short", "queue"), ("memory", "queue"), ("short", "reject"), ("memory", "reject"),
                                     ("queue", "queue")) if pm in seen]:
        labels = sorted({r["label"] for r in res["runs"] if (r["part"], r["mode"]) == (part, mode)})
        for label in labels:
            rows.append((f"{part} ({mode}) {label}", f"{median(part, mode, label, 'frac'):.3f} of c/l",
                         f"{median(part, mode, label, 'attainable'):.3f} of attainable; "
                         + (f"{vs_fixed(part, mode, label):.3f} of --concurrency 64; " if "64" not in label else "")
                         + f"started at {median(part, mode, label, 'first_window'):.0f}, max in flight "
                         f"{median(part, mode, label, 'max_concurrent'):.0f}, 429s {median(part, mode, label, 'rejected'):.0f}"))
    if ("short", "queue") in seen:
        targets["short default >= 0.80 of attainable (queue)"] = median("short", "queue", "globmed default", "attainable") >= 0.80
        targets["2nd model starts at >= 80% of capacity (queue)"] = median("memory", "queue", "globmed 2nd model",
                                                                           "first_window") >= 0.8 * CAPACITY
    if ("queue", "queue") in seen:
        targets["queue default >= 0.93 of ideal"] = median("queue", "queue", "globmed default", "frac") >= 0.93
    res["targets"] = targets
    width = max(len(r[0]) for r in rows)
    print(f"\n=== bench_endpoint --session: medians of {args.repeats} repeats; ideal = capacity/latency = {ideal:.0f} req/s; "
          f"short = {args.short} requests, queue = {args.runs * 400} ===")
    for k, v, note in rows:
        print(f"{k:<{width}}  {v:<16} {note}")
    for k, ok in targets.items():
        print(f"target {k}: {'MET' if ok else 'MISSED'}")
    print(f"load average before / after: {res['load_before'][0]:.2f} / {res['load_after'][0]:.2f} "
          "(other processes on this 2-core machine add noise)")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "bench_endpoint_session.json").write_text(json.dumps(res, indent=2, default=str))
    print(f"(written to {RESULTS / 'bench_endpoint_session.json'})")
