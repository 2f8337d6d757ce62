"""Virtual time for the runner: globmed's own executor, adaptive window and request store against a
simulated server with the loopback server's rules (openai_server.py: a fixed latency; a capacity beyond
which it queues, or answers 429 + Retry-After), on an event loop whose clock jumps to the next timer
instead of sleeping.

Why: on a shared 2-core machine a real run's timing moves with the load (other processes stall the
client's event loop for tens of milliseconds, as long as a good part of the round trips measured), so a
tight figure for the window's logic cannot be asserted against the real server. In virtual time the
same run is exact, repeatable and takes a fraction of a second. The real server remains the test of
the whole path (tests/test_runner.py runs both).

    python tests/support/virtual_server.py            # the session suite, one JSON object
    PYTHONPATH=/other/tree python tests/support/virtual_server.py   # the same for another globmed
"""

from __future__ import annotations

import asyncio
import json
import math
import random
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from globmed.backends.base import Backend, BackendError, GenerationSettings, Request, Response
from globmed.runner import Job, Store, execute, request_key


class VirtualLoop(asyncio.SelectorEventLoop):
    """An event loop without real I/O whose clock jumps to the next timer: a sleep takes no time."""

    def __init__(self) -> None:
        super().__init__()
        self._now = 0.0
        select = self._selector.select

        def jump(timeout: float | None = None) -> Any:
            events = select(0)
            if not events and timeout:
                self._now += timeout
            return events

        self._selector.select = jump  # type: ignore[method-assign]

    def time(self) -> float:
        return self._now


@dataclass
class SimulatedServer(Backend):
    """An OpenAI-compatible server in the client's own loop: `latency` per request, `capacity` served at
    once; beyond it "queue" (wait for a slot) or "reject" (429 + Retry-After). Logs (arrival, finished,
    status, requests at the server on arrival)."""

    latency: float = 0.2
    capacity: int = 64
    mode: str = "queue"
    retry_after: float = 1.0
    base_url: str = "http://simulated/v1"
    log: list[tuple[float, float, int, int]] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.kind = "openai"  # remembered windows are keyed as for a real OpenAI-compatible server
        self._slots: asyncio.Semaphore | None = None
        self.active = self.in_flight = 0

    async def chat(self, request: Request) -> Response:
        loop = asyncio.get_running_loop()
        arrival = loop.time()
        if self.mode == "reject" and self.active >= self.capacity:
            self.log.append((arrival, arrival, 429, self.active + 1))
            raise BackendError("HTTP 429: simulated", status=429, retryable=True, retry_after=self.retry_after)
        self._slots = self._slots or asyncio.Semaphore(self.capacity)
        self.in_flight += 1
        concurrent = self.in_flight
        try:
            async with self._slots:
                self.active += 1
                try:
                    await asyncio.sleep(self.latency)
                finally:
                    self.active -= 1
        finally:
            self.in_flight -= 1
        self.log.append((arrival, loop.time(), 200, concurrent))
        return Response(text="A", latency=loop.time() - arrival, model=self.model)


def simulate(requests: int, store: Store, *, latency: float = 0.2, capacity: int = 64, mode: str = "queue",
             retry_after: float = 1.0, concurrency: int | None = None, tag: str = "") -> dict[str, Any]:
    """`requests` jobs through globmed.runner.execute in virtual time; the run's figures."""
    import globmed.runner.concurrency as window_module

    server = SimulatedServer(model="simulated", latency=latency, capacity=capacity, mode=mode, retry_after=retry_after)
    jobs = [Job(request_key({"tag": tag, "i": i}),
                Request(messages=({"role": "user", "content": f"{tag} question {i}"},), settings=GenerationSettings(8)))
            for i in range(requests)]
    loop = VirtualLoop()
    clock = getattr(window_module, "time", None)
    window_module.time = type("LoopClock", (), {"monotonic": staticmethod(loop.time)})  # an older globmed read it
    random.seed(0)  # retry jitter

    async def go() -> tuple[Any, float]:
        start = loop.time()
        stats = await execute(jobs, requests, server, store, concurrency=concurrency, show_progress=False)
        return stats, loop.time() - start

    try:
        stats, elapsed = loop.run_until_complete(go())
    finally:
        loop.close()
        window_module.time = clock
    first = min(a for a, *_ in server.log)
    ideal = capacity / latency
    return {"requests": requests, "elapsed_s": round(elapsed, 4), "of_ideal": round(requests / elapsed / ideal, 4),
            "of_attainable": round(math.ceil(requests / capacity) * latency / elapsed, 4),
            "first_window": sum(1 for a, *_ in server.log if a < first + latency),
            "max_in_flight": max(c for *_, c in server.log), "rejected": sum(1 for *_, s, _ in server.log if s == 429),
            "errors": stats.errors}


def session_suite() -> dict[str, Any]:
    """The figures of issue 17 part 8 in virtual time (0.2 s latency, capacity 64): a 200-request run
    with default settings and with --concurrency 64, a second model on the same server after it (same
    store), 4,000 requests in queue mode; reject mode (Retry-After 1 s) alongside."""
    out: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("queue", "reject"):
            store = Store(Path(tmp) / f"{mode}.sqlite")
            out[f"{mode} short default"] = simulate(200, store, mode=mode, tag="a")
            out[f"{mode} 2nd model"] = simulate(200, store, mode=mode, tag="b")
            store.close()
            out[f"{mode} short --concurrency 64"] = simulate(200, Store(Path(tmp) / f"{mode}-c64.sqlite"), mode=mode,
                                                             concurrency=64)
        out["queue 4000 default"] = simulate(4000, Store(Path(tmp) / "long.sqlite"))
        out["queue 4000 --concurrency 64"] = simulate(4000, Store(Path(tmp) / "long-c64.sqlite"), concurrency=64)
    return out


if __name__ == "__main__":
    json.dump(session_suite(), sys.stdout)
    print()
