"""The runner: a rolling window of concurrent requests over a crash-safe store.

A new request starts the moment one finishes (no lock-step batches); jobs are pulled lazily from
an iterator, so memory stays bounded for any number of requests. Each response is written to the
store as it arrives; jobs whose key is already there are skipped, so a rerun after a crash repeats
no completed request. Only retryable failures (408/429/5xx, timeouts, connection errors) are
retried, with exponential backoff, full jitter and Retry-After; the rest are recorded as errors.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from rich.console import Console

from ..backends.base import Backend, BackendError, Request, Response
from .concurrency import AdaptiveLimit
from .limits import RateLimiter
from .progress import RunProgress
from .store import Store, request_key

# A burst of sends is spread over this share of a round trip: enough that no request in it waits for
# the others, at half the one-time delay of spreading it over a whole round trip.
PACE_SPREAD = 0.5
PACE_SLACK = 0.001  # a paced send this close to its moment goes at once (the event loop's timer resolution)
OVERLOAD_RETRIES = 30  # 429 answers tolerated per request before it is recorded as an error

__all__ = ["Job", "RunStats", "execute", "request_key", "Store", "RateLimiter"]


@dataclass(frozen=True)
class Job:
    key: str
    request: Request
    tokens: int = 0  # estimated prompt + completion tokens, for token rate limits


@dataclass
class RunStats:
    total: int = 0
    cached: int = 0
    done: int = 0
    errors: int = 0
    retries: int = 0
    elapsed: float = 0.0
    max_window: int = 0

    @property
    def throughput(self) -> float:
        return self.done / self.elapsed if self.elapsed else 0.0


class _FixedLimit:
    def __init__(self, n: int):
        self.value = max(1, n)
        self.base_latency: float | None = None  # the lowest latency seen, as AdaptiveLimit keeps it

    def on_success(self, latency: float, limited: bool, window: int = 0) -> None:
        if self.base_latency is None or latency < self.base_latency:
            self.base_latency = latency

    def on_overload(self, window: int) -> bool:
        return False


@dataclass
class _Executor:
    """Sends jobs under a window of slots. A request holds a slot while it is being sent and answered;
    while it sleeps before a retry it gives the slot back, and before resending it waits for a free
    slot again (ahead of new jobs), so retries never push the number in flight over the window."""

    backend: Backend
    store: Store
    limit: Any
    limiter: RateLimiter
    max_retries: int
    stats: RunStats
    progress: RunProgress | None
    in_flight: int = 0  # requests holding a slot
    waiting: int = 0  # requests sleeping before a retry or waiting for a slot (holding none)
    retry_queue: int = 0  # retries waiting for a slot: they go before new jobs
    _freed: asyncio.Event | None = None
    exhausted: bool = False  # the job iterator has run out
    _hold_until: float = 0.0  # after a 429, no new request for a moment: the rest of the burst's refusals land first
    _next_send: float = 0.0  # the earliest moment the next paced request goes out

    def _event(self) -> asyncio.Event:
        if self._freed is None:
            self._freed = asyncio.Event()
        return self._freed

    def has_slot(self) -> bool:
        return self.in_flight < self.limit.value and asyncio.get_running_loop().time() >= self._hold_until

    def _hold(self, seconds: float) -> None:
        loop = asyncio.get_running_loop()
        self._hold_until = max(self._hold_until, loop.time() + seconds)
        loop.call_later(seconds, self._event().set)

    def release(self) -> None:
        self.in_flight -= 1
        self._event().set()

    async def acquire(self, priority: bool = False) -> None:
        """Wait for a free slot and take it (retries pass `priority` and go before new jobs)."""
        freed = self._event()
        if priority:
            self.retry_queue += 1
        try:
            while not self.has_slot() or (not priority and self.retry_queue):
                freed.clear()
                await freed.wait()
        finally:
            if priority:
                self.retry_queue -= 1
        self._occupy()

    def _occupy(self) -> None:
        self.in_flight += 1
        self.stats.max_window = max(self.stats.max_window, self.in_flight)

    async def one(self, job: Job, limited: bool = True, window: int | None = None) -> Response | None:
        """One request on a slot the caller already holds (released here when done), retried as needed;
        returns the stored response, or None when an error was recorded instead;
        `limited`: whether the window, rather than a lack of work, was holding the sender back;
        `window`: the number in flight when the slot was taken (the capacity signal of a refusal)."""
        call = self.backend.loglik if job.request.choices else self.backend.chat
        failures = overloads = 0
        try:
            while True:
                attempt = failures + overloads
                window = window or self.in_flight
                await self.limiter.acquire(job.tokens)
                await self._pace()
                try:
                    response = await call(job.request)
                except BackendError as exc:
                    if exc.status in (429, 503) and self.limit.on_overload(window):
                        self._hold(min(0.5, (self.limit.base_latency or 0.1) / 2))
                    # A 429 is the server pacing us (the window adapts to it): a larger budget than failures.
                    overloaded = exc.status == 429
                    overloads, failures = overloads + overloaded, failures + (not overloaded)
                    budget_left = overloads <= OVERLOAD_RETRIES if overloaded else failures <= self.max_retries
                    if exc.retryable and budget_left:
                        self.stats.retries += 1
                        await self._sleep_off_slot(_delay(attempt, exc.retry_after))
                        window = self.in_flight  # the slot it took again
                        continue
                    self._error(job, str(exc), exc.status, attempt + 1)
                    return None
                except Exception as exc:  # an SDK or parsing failure: record it, never score it
                    self._error(job, f"{type(exc).__name__}: {exc}", None, attempt + 1)
                    return None
                self.limit.on_success(response.latency, limited, window)
                self.store.put(job.key, response.to_json())
                self.stats.done += 1
                self._advance(answered=True)
                return response
        finally:
            self.release()

    async def _pace(self) -> None:
        """Space sends PACE_SPREAD x floor / window apart. That never slows the run (a window of W gets at
        most W answers per floor latency), but a burst of responses that landed together no longer goes
        back out together: against a server with an even latency a burst otherwise comes back as a
        burst every round trip, and each request in it waits for the others at both ends (1-2% of a
        64-wide window's throughput on a 2-core machine: benchmarks/bench_endpoint.py)."""
        floor = self.limit.base_latency
        if not self.backend.paced or not floor:
            return
        loop = asyncio.get_running_loop()
        now = loop.time()
        send_at = max(now, self._next_send)
        self._next_send = send_at + PACE_SPREAD * floor / self.limit.value
        if send_at - now > PACE_SLACK:
            await asyncio.sleep(send_at - now)

    async def _sleep_off_slot(self, seconds: float) -> None:
        self.release()
        self.waiting += 1
        try:
            await asyncio.sleep(seconds)
            await self.acquire(priority=True)
        finally:
            self.waiting -= 1

    def _error(self, job: Job, message: str, status: int | None, attempts: int) -> None:
        self.store.put_error(job.key, message, status, attempts)
        self.stats.errors += 1
        self._advance(answered=True)

    def _advance(self, answered: bool) -> None:
        if self.progress is not None:
            self.progress.advance(answered)

    def _take(self, jobs: Iterator[Job]) -> Job | None:
        """The next job not in the store, on a slot taken for it; None when no slot is free, retries
        wait for one, or the jobs ran out (then `exhausted` is set)."""
        while not self.exhausted and self.has_slot() and not self.retry_queue:
            job = next(jobs, None)
            if job is None:
                self.exhausted = True
                return None
            if self.store.has(job.key):
                self.stats.cached += 1
                self._advance(answered=False)
                continue
            self._occupy()
            return job
        return None

    async def _chain(self, job: Job, jobs: Iterator[Job], window: int) -> None:
        """Send `job`, then, in the same task, the next one while a slot is free: the next request goes
        out right after a response is stored, not a few event-loop turns later through the
        dispatcher, which matters when many responses land at once (the dispatcher still fills slots
        that open otherwise, e.g. when an adaptive window grows)."""
        while job is not None:
            await self.one(job, window=window)  # the number in flight when its slot was taken
            job = self._take(jobs)
            window = self.in_flight

    async def run(self, jobs: Iterator[Job]) -> None:
        """Keep the window full from `jobs` until they run out; one Event wakes the dispatcher (O(1)
        per completion, where asyncio.wait over the whole window would be O(window))."""
        freed = self._event()
        active: set[asyncio.Task[None]] = set()
        failures: list[BaseException] = []

        def finished(task: asyncio.Task[None]) -> None:
            active.discard(task)
            if not task.cancelled() and task.exception() is not None:
                failures.append(task.exception())  # type: ignore[arg-type]
            freed.set()

        try:
            while True:
                while (job := self._take(jobs)) is not None:
                    task = asyncio.ensure_future(self._chain(job, jobs, self.in_flight))
                    active.add(task)
                    task.add_done_callback(finished)
                if failures:
                    raise failures[0]
                if not active:
                    return
                freed.clear()
                await freed.wait()
        finally:
            for task in active:
                task.cancel()


def _delay(attempt: int, retry_after: float | None, base: float = 0.5, cap: float = 60.0) -> float:
    if retry_after is not None:
        return min(cap, retry_after) + random.uniform(0, 0.1)
    return random.uniform(0, min(cap, base * 2 ** attempt))  # full jitter


def make_limit(backend: Backend, concurrency: int | None) -> Any:
    """The window: fixed when the user (or a local backend) says so, else adaptive."""
    if concurrency or backend.default_concurrency:
        return _FixedLimit(concurrency or backend.default_concurrency or 1)
    return AdaptiveLimit()


async def execute(jobs: Iterable[Job], total: int, backend: Backend, store: Store, *, concurrency: int | None = None,
                  limiter: RateLimiter | None = None, max_retries: int = 6, description: str = "requests",
                  show_progress: bool = True, console: Console | None = None) -> RunStats:
    """Run every job not already in the store; returns counts and timing."""
    limit = make_limit(backend, concurrency)
    stats = RunStats(total=total)
    progress = RunProgress(description, total, console) if show_progress else None
    executor = _Executor(backend, store, limit, limiter or RateLimiter(), max_retries, stats, progress)
    start = time.perf_counter()
    if progress is not None:
        with progress:
            await executor.run(iter(jobs))
    else:
        await executor.run(iter(jobs))
    stats.elapsed = time.perf_counter() - start
    return stats
