"""Benchmark: what the hardening of issue 16 costs.

What it measures
  1. The push checks on a synthetic build: 3 datasets x 4 languages x 50,000 MCQA rows (~200 MB as Arrow,
     ~30 MB of zstd parquet): the licence guard (globmed.hub.guard.derived_datasets) and the secret scan
     (globmed.hub.secrets.scan_files), wall time and decoded MB/s.
  2. The request store: `Store.has` on 200,000 checksummed rows against a bare `SELECT 1` (the cost of
     verifying each row's checksum on resume), and opening the store (`PRAGMA quick_check`).

Run
  .venv/bin/python benchmarks/hardening.py [--rows 50000] [--store-rows 200000]
Timings depend on the machine and its load (printed before and after): compare the ratios, measured in
the same run. Writes benchmarks/results/hardening.json.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
RESULTS = Path(__file__).resolve().parent / "results"

WORDS = ("patient presents with fever cough dyspnea aspirin metformin insulin kidney liver which drug is first "
         "line dose mg daily chronic acute").split()


def push_checks(root: Path, rows: int) -> dict:
    import pyarrow as pa
    import pyarrow.parquet as pq

    from globmed.hub.guard import derived_datasets
    from globmed.hub.push import plan
    from globmed.hub.secrets import scan_files

    rng = random.Random(0)
    arrow_bytes = 0
    for dataset in ("medqa", "headqa", "bionli"):
        for lang in ("en", "es", "sw", "zh"):
            table = pa.table({
                "id": [f"{dataset}-test-{i}" for i in range(rows)], "dataset": [dataset] * rows,
                "language": [lang] * rows, "question": [" ".join(rng.choices(WORDS, k=30)) for _ in range(rows)],
                "options": [[" ".join(rng.choices(WORDS, k=3)) for _ in range(4)] for _ in range(rows)],
                "answer": ["A"] * rows})
            folder = root / f"{dataset}.{lang}"
            folder.mkdir(parents=True)
            pq.write_table(table, folder / "test-00000-of-00001.parquet", compression="zstd")
            arrow_bytes += table.nbytes
    files = plan(root)
    disk = sum(f.size for f in files)
    start = time.perf_counter()
    found = derived_datasets(files)
    guard_s = time.perf_counter() - start
    start = time.perf_counter()
    scan_files(files, "hf_" + "x" * 34)
    scan_s = time.perf_counter() - start
    print(f"push checks: {len(files)} parquet files, {disk / 1e6:.1f} MB on disk, {arrow_bytes / 1e6:.1f} MB decoded, "
          f"{12 * rows:,} rows; found {sorted(found)}")
    print(f"  licence guard  {guard_s:6.2f} s")
    print(f"  secret scan    {scan_s:6.2f} s  ({arrow_bytes / 1e6 / scan_s:.0f} MB/s decoded)")
    return {"rows": 12 * rows, "disk_mb": disk / 1e6, "decoded_mb": arrow_bytes / 1e6, "guard_s": guard_s,
            "scan_s": scan_s}


def store_checks(root: Path, rows: int) -> dict:
    from globmed.runner.store import Store, checksum

    path = root / "requests.sqlite"
    store = Store(path)
    response = json.dumps({"text": "The answer is B. " + "x" * 400, "finish_reason": "stop", "tokens_in": 100,
                           "tokens_out": 20, "latency": 0.5})
    with store._lock:
        store._db.execute("BEGIN")
        store._db.executemany("INSERT INTO responses VALUES (?, ?, 0, ?)",
                              ((f"k{i}", response, checksum(f"k{i}", response)) for i in range(rows)))
        store._db.execute("COMMIT")
    store.close()
    start = time.perf_counter()
    store = Store(path)
    open_s = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(rows):
        store._db.execute("SELECT 1 FROM responses WHERE key=?", (f"k{i}",)).fetchone()
    bare = (time.perf_counter() - start) / rows
    start = time.perf_counter()
    assert all(store.has(f"k{i}") for i in range(rows))
    has = (time.perf_counter() - start) / rows
    store.close()
    print(f"store: {rows:,} rows, {path.stat().st_size / 1e6:.0f} MB")
    print(f"  open (quick_check)         {open_s:6.2f} s")
    print(f"  has() with checksum        {has * 1e6:6.1f} us/row")
    print(f"  bare SELECT 1              {bare * 1e6:6.1f} us/row  (has: {has / bare:.1f}x)")
    return {"rows": rows, "open_s": open_s, "has_us": has * 1e6, "select_us": bare * 1e6, "ratio": has / bare}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=50_000, help="rows per config (12 configs)")
    ap.add_argument("--store-rows", type=int, default=200_000)
    args = ap.parse_args()
    load = os.getloadavg()[0]
    print(f"load average before: {load:.2f} (2 cores)")
    with tempfile.TemporaryDirectory(prefix="globmed-hardening-") as tmp:
        result = {"push": push_checks(Path(tmp) / "out", args.rows), "store": store_checks(Path(tmp), args.store_rows)}
    result["load"] = {"before": load, "after": os.getloadavg()[0]}
    print(f"load average after: {result['load']['after']:.2f}")
    RESULTS.mkdir(exist_ok=True)
    (RESULTS / "hardening.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
