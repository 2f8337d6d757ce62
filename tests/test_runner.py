"""The runner against a real loopback HTTP server (tests/support/openai_server.py) and the real
openai SDK: the rolling window, retries, Retry-After, adaptive concurrency, the store key and
bounded memory."""

from __future__ import annotations

import asyncio
import io
import json
import shutil
import sqlite3
import subprocess
import sys
import tracemalloc
import urllib.request
from pathlib import Path
from typing import Any, Iterator

import pyarrow.parquet as pq
import pytest
from rich.console import Console

from globmed.backends import GenerationSettings, Request, make_backend
from globmed.bench.evaluate import BenchSettings, run_bench
from globmed.core.resultsfolder import ResultsFolder
from globmed.errors import GlobmedError
from globmed.runner import Job, RunStats, Store, execute, request_key
from globmed.runner.concurrency import INITIAL, endpoint_key
from globmed.runner.executor import PACE_SPREAD
from globmed.runner.store import checksum
from tests.conftest import ROOT, gold_responder
from tests.support.virtual_server import SimulatedServer, simulate


def make_job(i: int, text: str | None = None, max_tokens: int = 8) -> Job:
    text = text or f"question number {i}"
    request = Request(messages=({"role": "user", "content": text},), settings=GenerationSettings(max_tokens=max_tokens))
    return Job(request_key({"i": i, "text": text}), request)


def run_jobs(url: str, jobs: list[Job] | Iterator[Job], store: Store, total: int | None = None,
             model: str = "scripted-model", **options: Any) -> RunStats:
    """execute() the jobs with the openai backend, closing the client in the same event loop."""
    backend = make_backend("openai", model, base_url=url)

    async def go() -> RunStats:
        try:
            return await execute(jobs, total if total is not None else len(jobs), backend, store,  # type: ignore[arg-type]
                                 show_progress=False, **options)
        finally:
            await backend.aclose()

    return asyncio.run(go())


@pytest.fixture
def store(tmp_path) -> Iterator[Store]:
    s = Store(tmp_path / "requests.sqlite")
    yield s
    s.close()


def posts(server: Any, text: str | None = None) -> list[dict[str, Any]]:
    return [r for r in server.chat_requests() if text is None or text in r["json"]["messages"][-1]["content"]]


# -- the rolling window ----------------------------------------------------------------------------
def test_rolling_window_keeps_the_server_full(openai_server, store):
    server = openai_server(latency=0.2, capacity=8, mode="queue")
    stats = run_jobs(server.base_url, [make_job(i) for i in range(64)], store, concurrency=8)
    assert stats.done == 64 and stats.errors == 0 and stats.retries == 0
    assert 1.6 <= stats.elapsed <= 2.4, stats.elapsed  # 64 / 8 x 0.2 s: no lock-step batches, no idle slots
    assert server.max_in_flight == 8  # reached and never exceeded
    assert len(posts(server)) == 64 and store.count() == 64


def test_a_slow_request_does_not_hold_back_the_others(openai_server, store):
    server = openai_server(latency=0.05)
    server.slow("the slow one", 2.0)
    jobs = [make_job(0, "the slow one")] + [make_job(i) for i in range(1, 41)]
    stats = run_jobs(server.base_url, jobs, store, concurrency=4)
    assert stats.done == 41
    slow = posts(server, "the slow one")[0]
    fast = [r for r in posts(server) if r is not slow]
    # 40 fast requests over the 3 free slots take ~0.7 s: all of them finish while the slow one runs
    assert max(r["finished"] for r in fast) < slow["finished"]
    assert max(r["arrival"] for r in fast) < slow["arrival"] + 1.5
    assert stats.elapsed < 3.0


def test_scripted_server_throughput(openai_server, store):
    """The loopback server and the runner sustain hundreds of requests per second together."""
    server = openai_server(latency=0.0)
    stats = run_jobs(server.base_url, [make_job(i) for i in range(600)], store, concurrency=32)
    assert stats.done == 600
    assert stats.throughput > 100, stats.throughput


def test_a_burst_of_responses_goes_back_out_spread(openai_server, store):
    """The first window goes out at once and its answers land together; the next sends are spread over
    half a round trip (not sent back as a burst that would come back as one every round trip), and
    the run is no slower for it."""
    server = openai_server(latency=0.2, capacity=16, mode="queue")
    stats = run_jobs(server.base_url, [make_job(i) for i in range(64)], store, concurrency=16)
    assert stats.done == 64 and server.max_in_flight == 16
    arrivals = sorted(r["arrival"] for r in posts(server))
    first, second = arrivals[:16], arrivals[16:32]
    assert first[-1] - first[0] < 0.05  # the first window: one burst
    gaps = [b - a for a, b in zip(second, second[1:])]
    expected = 0.5 * 0.2 / 16  # PACE_SPREAD x floor latency / window
    # the median, not the smallest gap: a loop stalled by other load may wake two paced sends at once
    assert sorted(gaps)[len(gaps) // 2] > 0.5 * expected and second[-1] - second[0] > 0.7 * 15 * expected, gaps
    # 4 round trips + the one-time spreading is 0.9 s: bounded loosely here (CI once saw 1.41 s, the loop
    # stalled by other load); the exact figure is test_virtual_time_spreading_costs_half_a_round_trip_once
    assert stats.elapsed < 2.0, stats.elapsed

# -- retries ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("status", [500, 502, 503, 408, 429, "drop"])
def test_retryable_failure_is_retried_once_then_stored(openai_server, store, status):
    server = openai_server()
    server.fail("flaky", status, times=1)
    job = make_job(0, "flaky question")
    stats = run_jobs(server.base_url, [job, make_job(1)], store, concurrency=2)
    assert stats.retries == 1 and stats.done == 2 and stats.errors == 0
    assert [r["status"] for r in posts(server, "flaky")] == [status, 200]
    assert json.loads(store.get(job.key))["text"] == "entailment"
    assert store.error(job.key) is None


@pytest.mark.parametrize("status", [400, 401, 404, 422])
def test_client_errors_are_recorded_never_retried(openai_server, store, status):
    server = openai_server()
    server.fail("bad", status, times=None)
    job = make_job(0, "bad question")
    stats = run_jobs(server.base_url, [job], store, concurrency=1)
    assert stats.errors == 1 and stats.retries == 0 and stats.done == 0
    assert len(posts(server, "bad")) == 1
    message, got_status, attempts = store.error(job.key)
    assert got_status == status and attempts == 1 and str(status) in message
    assert store.get(job.key) is None


def test_retries_give_up_after_max_retries(openai_server, store):
    server = openai_server()
    server.fail("down", 503, times=None)
    job = make_job(0, "down")
    stats = run_jobs(server.base_url, [job], store, concurrency=1, max_retries=2)
    assert stats.errors == 1 and stats.retries == 2 and len(posts(server)) == 3
    assert store.error(job.key)[1:] == (503, 3)


def test_retry_after_is_honoured(openai_server, store):
    server = openai_server()
    server.fail("busy", 429, times=1, retry_after=1)
    stats = run_jobs(server.base_url, [make_job(0, "busy")], store, concurrency=1)
    first, second = posts(server, "busy")
    assert first["status"] == 429 and second["status"] == 200 and stats.retries == 1
    assert second["arrival"] - first["arrival"] >= 1.0


def quiet() -> Console:
    return Console(file=io.StringIO(), width=200)


def test_errors_are_counted_apart_never_scored_wrong(openai_server, sample_data, tmp_path):
    server = openai_server(responder=gold_responder(sample_data, "Answer: {}"))
    server.fail("ST-segment elevation", 400, times=None)  # one medqa.en item always answers 400
    settings = BenchSettings(data=str(sample_data), out=tmp_path / "out", model="scripted", base_url=server.base_url,
                             datasets="medqa", languages="en", runs=1, concurrency=4, progress=False)
    with pytest.raises(GlobmedError, match="1 request\\(s\\) failed"):  # results are written, the exit says so
        run_bench(settings, quiet())
    assert len(posts(server, "ST-segment elevation")) == 1  # a 400 is not retried
    (row,) = ResultsFolder(tmp_path / "out").read_results()
    assert row["errors"] == 1 and row["error_rate"] == pytest.approx(1 / row["n"])
    assert row["answered"] == row["n"] - 1 and row["correct"] == row["n"] - 1
    assert row["accuracy"] == 1.0  # the error is not in the denominator
    details = pq.read_table(tmp_path / "out" / "details.medqa.en").to_pylist()
    (failed,) = [d for d in details if d["error"] is not None]
    assert "400" in failed["error"] and failed["correct"] is None and failed["output"] is None


# -- adaptive concurrency --------------------------------------------------------------------------
def busy_average(server: Any) -> float:
    """Requests in service at the server, averaged over the middle half of the run (no ramp, no drain)."""
    answered = [r for r in posts(server) if r["status"] == 200]
    t0, t1 = answered[0]["arrival"], max(r["finished"] for r in answered)
    lo, hi = t0 + (t1 - t0) / 4, t1 - (t1 - t0) / 4
    return sum(max(0.0, min(r["finished"], hi) - max(r["arrival"], lo)) for r in answered) / (hi - lo)


def test_adaptive_concurrency_settles_near_capacity(openai_server, store):
    n = 320
    server = openai_server(latency=0.1, capacity=16, mode="reject", retry_after=0.1)
    stats = run_jobs(server.base_url, [make_job(i) for i in range(n)], store)  # no --concurrency: adaptive
    assert stats.done == n and stats.errors == 0 and store.count() == n
    assert server.max_active == 16 and 0 < server.rejected < n * 0.1  # it finds the ceiling, rarely hits it
    assert stats.max_window <= max(24, INITIAL)  # the first round trip sends the initial window at once
    # The window stays near 16 (it saw-tooths ~13.6 -> 17); with the client's own per-request overhead
    # on a small shared machine, 11-13 requests are in service on average (a fixed --concurrency 16
    # gets the same), so ask for at least half the capacity.
    assert busy_average(server) >= 8, busy_average(server)
    assert stats.elapsed < 2 * n * 0.1 / 8, stats.elapsed


def time_to_fill(server: Any, capacity: int) -> float:
    """Seconds from the run's first request until the server first held `capacity` requests."""
    chats = posts(server)
    return min(r["arrival"] for r in chats if r["concurrent"] >= capacity) - min(r["arrival"] for r in chats)


def test_the_window_found_is_remembered_per_endpoint(openai_server, store):
    """The window a run found is kept in the store under the server (backend + base URL), not the model:
    the next model on the same server starts there and fills the server at once, where the first run
    needed a round trip to grow into it."""
    latency, capacity, n = 0.2, 48, 300
    server = openai_server(latency=latency, capacity=capacity, mode="queue")
    first = run_jobs(server.base_url, [make_job(i) for i in range(n)], store)
    assert first.done == n and first.errors == 0
    start_first = sum(1 for r in posts(server) if r["arrival"] < posts(server)[0]["arrival"] + 0.9 * latency)
    fill_first = time_to_fill(server, capacity)
    endpoint = endpoint_key(make_backend("openai", "another-model", base_url=server.base_url))
    assert endpoint == endpoint_key(make_backend("openai", "scripted-model", base_url=server.base_url + "/"))
    state = store.window(endpoint)
    assert state is not None and state["settled"], state  # the capacity was measured, not just a lower bound
    assert 0.8 * capacity <= state["window"] <= 2 * capacity, state
    assert store.window(endpoint_key(make_backend("openai", "scripted-model", base_url="http://127.0.0.1:9/v1"))) is None

    server.reset()
    second = run_jobs(server.base_url, [make_job(i, f"another model {i}") for i in range(n)], store, model="another-model")
    assert second.done == n and second.errors == 0
    start_second = sum(1 for r in posts(server) if r["arrival"] < posts(server)[0]["arrival"] + 0.9 * latency)
    assert start_first <= INITIAL + 2 < 0.8 * capacity <= start_second, (start_first, start_second)
    fill_second = time_to_fill(server, capacity)
    assert fill_second < latency <= fill_first, (fill_first, fill_second)


def test_windows_are_remembered_per_server_and_per_model_on_a_providers_api(monkeypatch):
    """Models behind one base URL share a server's capacity (one window); a provider's public API limits
    each model apart (one window per model)."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test")
    local = {endpoint_key(make_backend("openai", m, base_url="http://gpu-box:8000/v1")) for m in ("a", "b")}
    public = {endpoint_key(make_backend("openai", m)) for m in ("gpt-5", "gpt-5-mini")}
    anthropic = endpoint_key(make_backend("anthropic", "claude-sonnet-4-5"))
    assert len(local) == 1 and len(public) == 2 and anthropic not in public | local


@pytest.mark.parametrize("mode", ["reject", "queue"])
def test_a_remembered_window_backs_off_on_a_smaller_server(openai_server, store, mode):
    """A window remembered from a large server never overloads a smaller one at the same address: the
    first sends are paced over the remembered latency, so refusals stop the rest (reject); a server that
    queues and serves under half the window two round trips running gets what it serves (queue)."""
    big = openai_server(latency=0.1, capacity=48, mode=mode, retry_after=0.1)
    assert run_jobs(big.base_url, [make_job(i) for i in range(300)], store).errors == 0
    endpoint = endpoint_key(make_backend("openai", "scripted-model", base_url=big.base_url))
    remembered = store.window(endpoint)["window"]
    assert remembered >= 3 * 8
    port = big.port
    big.stop()
    small = openai_server(latency=0.1, capacity=8, mode=mode, retry_after=0.1, port=port)
    assert small.base_url == big.base_url
    n = 160
    stats = run_jobs(small.base_url, [make_job(i, f"small {i}") for i in range(n)], store)
    assert stats.done == n and stats.errors == 0 and store.count() == 300 + n
    assert small.max_active == 8
    after = store.window(endpoint)["window"]
    assert after <= 20, (remembered, after)  # it backed off to about the small server's capacity
    if mode == "reject":
        # Its first sends are paced over the remembered latency: fewer refusals than one window's worth
        # (a refusal read at once stops the rest: a few in virtual time, below; this loaded machine reads
        # them late), then only the probes above the ceiling.
        start = posts(small)[0]["arrival"]
        later = [r for r in posts(small) if r["status"] == 429 and r["arrival"] > start + 0.5]
        assert small.rejected < remembered and len(later) <= 5, (remembered, small.rejected, len(later))
    else:  # the queue the remembered window built drained: the last round trips ran near the capacity
        # (bounded loosely: on this shared machine a late read lets one request more in now and then,
        # CI once saw 17 against 2 x 8; the exact figures are the virtual-time tests' below)
        tail = [r["concurrent"] for r in posts(small)][-20:]
        assert sorted(tail)[len(tail) // 2] <= 2 * 8 and max(tail) < remembered, (remembered, tail)


# -- the window's logic in virtual time ------------------------------------------------------------
# The same executor, window and store against a simulated server on a loop whose clock jumps from timer
# to timer (tests/support/virtual_server.py): exact figures, free of this shared machine's load, which
# the real-server tests above can only bound loosely.
def test_virtual_time_a_short_run_reaches_the_limit_and_the_next_starts_there(tmp_path):
    store = Store(tmp_path / "requests.sqlite")
    first = simulate(200, store, tag="first model")  # 0.2 s latency, capacity 64: 0.8 s at best (4 round trips)
    best = simulate(200, Store(tmp_path / "fixed.sqlite"), concurrency=64)
    assert first["first_window"] == INITIAL and first["errors"] == 0
    assert first["of_attainable"] >= 0.85, first  # the old window (x1.5 per round trip from 16): 0.66
    second = simulate(200, store, tag="second model")
    assert second["first_window"] == 64 and second["of_attainable"] >= 0.95, second
    assert second["elapsed_s"] <= 1.02 * best["elapsed_s"], (second, best)  # as good as the right fixed window


def test_virtual_time_spreading_costs_half_a_round_trip_once(tmp_path):
    """The paced sends of test_a_burst_of_responses_goes_back_out_spread, exactly: 64 requests through a
    window of 16 take 4 round trips, plus the spreading (PACE_SPREAD x latency) once, not once per window."""
    run = simulate(64, Store(tmp_path / "requests.sqlite"), capacity=16, concurrency=16)
    assert run["max_in_flight"] == 16 and run["errors"] == 0, run
    assert 4 * 0.2 < run["elapsed_s"] <= 4 * 0.2 + PACE_SPREAD * 0.2, run  # spread, and no more than once


def test_virtual_time_queue_mode_keeps_the_server_busy(tmp_path):
    run = simulate(4000, Store(tmp_path / "requests.sqlite"))
    # the old window: 0.90, 182 in flight at its peak, the answers of its overshoot cutting it again and again
    assert run["of_ideal"] >= 0.96 and run["errors"] == 0, run
    assert run["max_in_flight"] <= 3 * 64, run


@pytest.mark.parametrize("mode", ["queue", "reject"])
def test_virtual_time_a_remembered_window_backs_off_on_a_smaller_server(tmp_path, mode):
    store = Store(tmp_path / "requests.sqlite")
    simulate(2000, store, mode=mode, tag="large")
    endpoint = endpoint_key(SimulatedServer(model="any"))
    assert store.window(endpoint)["window"] >= 60
    small = simulate(400, store, capacity=8, mode=mode, tag="small")  # ideal: 400 / (8 / 0.2) = 10 s
    assert small["errors"] == 0 and small["of_ideal"] >= 0.97, small
    assert store.window(endpoint)["window"] <= 16
    if mode == "reject":
        assert small["rejected"] <= 4, small  # paced over the remembered latency: the first refusal stops the rest


# -- the store key ---------------------------------------------------------------------------------
def edited_copy(data: Path, dest: Path, config: str, change: dict[str, Any]) -> Path:
    """A copy of a built folder whose first row of `config` has `change` applied (a new build: the
    manifest changes too, as a rebuild's would)."""
    shutil.copytree(data, dest)
    file = next((dest / config).glob("*.parquet"))
    table = pq.read_table(file)
    rows = table.to_pylist()
    rows[0].update(change)
    pq.write_table(table.from_pylist(rows, schema=table.schema), file)
    manifest = json.loads((dest / "globmed.json").read_text())
    manifest["created"] = f"edited-{dest.name}"
    (dest / "globmed.json").write_text(json.dumps(manifest))
    return dest


def test_store_key_covers_everything_that_shapes_a_response(openai_server, sample_data, tmp_path):
    server, other = openai_server(), openai_server()
    n = 3  # medqa.en, --limit 3, one run
    base = dict(data=str(sample_data), out=tmp_path / "out", model="model-a", base_url=server.base_url,
                datasets="medqa", languages="en", runs=1, limit=n, max_tokens=16, concurrency=4, progress=False)

    def sent(**change: Any) -> tuple[int, int]:
        before = (len(posts(server)), len(posts(other)))
        run_bench(BenchSettings(**{**base, **change}), quiet())
        return len(posts(server)) - before[0], len(posts(other)) - before[1]

    assert sent() == (n, 0)
    assert sent() == (0, 0)  # a rerun sends nothing
    assert sent(model="model-b") == (n, 0)
    assert sent(base_url=other.base_url) == (0, n)
    assert sent(temperature=0.7) == (n, 0)
    assert sent(max_tokens=32) == (n, 0)
    assert sent(runs=2) == (n, 0)  # run 0 is stored; run 1 is new
    question = edited_copy(sample_data, tmp_path / "q", "medqa.en", {"question": "An edited question?"})
    assert sent(data=str(question)) == (1, 0)  # only the item whose prompt text changed
    item = edited_copy(sample_data, tmp_path / "i", "medqa.en", {"id": "medqa-test-renamed"})
    assert sent(data=str(item)) == (1, 0)  # same prompt, another item
    assert sent() == (0, 0)  # and everything before is still stored
    bodies = {json.dumps(r["json"], sort_keys=True) for r in posts(server)}
    assert len(bodies) == len(posts(server)) - 1  # all distinct but the renamed item's (same body, new key)


# -- bounded memory --------------------------------------------------------------------------------
def test_execute_streams_a_huge_plan(openai_server, store, tmp_path):
    """100k planned requests, all already answered: execute() pulls them lazily from a generator
    (memory stays flat) and sends nothing."""
    server = openai_server()
    total = 100_000
    db = sqlite3.connect(store.path)
    db.executemany("INSERT INTO responses VALUES (?, ?, 0, ?)",
                   ((f"key-{i}", "{}", checksum(f"key-{i}", "{}")) for i in range(total)))
    db.commit()
    db.close()

    def jobs() -> Iterator[Job]:
        for i in range(total):
            messages = ({"role": "user", "content": f"question {i} " + "padding " * 20},)
            yield Job(f"key-{i}", Request(messages=messages, settings=GenerationSettings(seed=i)))

    tracemalloc.start()
    try:
        base = tracemalloc.get_traced_memory()[0]
        stats = run_jobs(server.base_url, jobs(), store, total=total, concurrency=64)
        peak = tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()
    assert stats.cached == total and stats.done == 0 and posts(server) == []
    assert peak < 8_000_000, peak  # 100k materialised requests would take ~100 MB


# -- the server as a subprocess --------------------------------------------------------------------
def test_server_subprocess_reject_mode(store, tmp_path):
    log = tmp_path / "log.jsonl"
    proc = subprocess.Popen([sys.executable, "-m", "tests.support.openai_server", "--port", "0", "--latency", "0.05",
                             "--capacity", "4", "--mode", "reject", "--retry-after", "0.05", "--log", str(log)],
                            cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("serving http://127.0.0.1:"), line
        base_url = line.split()[1]
        url = base_url.removesuffix("/v1")
        assert json.loads(urllib.request.urlopen(url + "/health", timeout=5).read())["status"] == "ok"
        models = json.loads(urllib.request.urlopen(base_url + "/models", timeout=5).read())
        assert models["object"] == "list" and models["data"]
        stats = run_jobs(base_url, [make_job(i) for i in range(40)], store, concurrency=8, max_retries=100)
        assert stats.done == 40 and stats.errors == 0 and stats.retries > 0
        server_stats = json.loads(urllib.request.urlopen(url + "/stats", timeout=5).read())
        assert server_stats["max_active"] == 4 and server_stats["rejected"] == stats.retries
    finally:
        proc.terminate()
        proc.wait(10)
    lines = [json.loads(x) for x in log.read_text().splitlines()]
    answered = [x for x in lines if x["path"] == "/v1/chat/completions" and x["status"] == 200]
    assert len(answered) == 40 and sum(x["status"] == 429 for x in lines) == stats.retries


def test_streaming_and_usage(openai_server):
    import openai

    server = openai_server()
    client = openai.OpenAI(base_url=server.base_url, api_key="unused", max_retries=0)
    prompt = "Which is right?\nA. wrong\nB. the correct one\nC. other"
    out = client.chat.completions.create(model="m", messages=[{"role": "user", "content": prompt}])
    assert out.choices[0].message.content == "B" and out.choices[0].finish_reason == "stop"
    assert out.usage.prompt_tokens == len(prompt.split()) and out.usage.completion_tokens == 1
    chunks = list(client.chat.completions.create(model="m", stream=True, messages=[{"role": "user", "content": "hi"}]))
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == "entailment"
    assert chunks[-1].usage.completion_tokens == 1
    client.close()
