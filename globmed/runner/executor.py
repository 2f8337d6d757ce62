"""The runner's executor: a rolling window of concurrent requests over a crash-safe store.

A new request starts the moment one finishes (no lock-step batches); jobs are pulled lazily from
an iterator, so memory stays bounded for any number of requests. Each response is written to the
store as it arrives; jobs whose key is already there are skipped, so a rerun after a crash repeats
no completed request. Only retryable failures (408/429/5xx, timeouts, connection errors) are
retried, with exponential backoff, full jitter and Retry-After; the rest are recorded as errors.

Time is bounded twice: each attempt at a remote backend gets the backend's `timeout` (the whole answer,
body included, so a server that trickles bytes is cut off too), and each request a `deadline` across
all its attempts and the waits between them; past it, the request is recorded as an error.
"""

from __future__ import annotations

import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any, Iterable, Iterator

from rich.console import Console

from ..backends.base import Backend, BackendError, Request, Response
from ..errors import GlobmedError
from ..urls import redact_urls
from .concurrency import AdaptiveLimit, endpoint_key
from .limits import RateLimiter
from .progress import RunProgress
from .store import Store

# A burst of sends is spread over this share of a round trip: enough that no request in it waits for
# the others, at half the one-time delay of spreading it over a whole round trip.
PACE_SPREAD = 0.5
PACE_SLACK = 0.001  # a paced send this close to its moment goes at once (the event loop's timer resolution)
OVERLOAD_RETRIES = 30  # 429 answers tolerated per request before it is recorded as an error
DEFAULT_DEADLINE = 900.0  # seconds one request may take across all its attempts and backoff waits
REMEMBER_EVERY = 1.0  # seconds between saves of the adaptive window to the store (and once at the end)



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

    def on_success(self, latency: float, limited: bool) -> None:
        if self.base_latency is None or latency < self.base_latency:
            self.base_latency = latency

    def on_send(self) -> None:
        return None

    def on_overload(self, window: int) -> bool:
        return False


@dataclass
class _Executor:
    """Sends jobs under a window of slots. A request holds a slot while it is being sent and answered;
    while it sleeps before a retry it gives the slot back, and before resending it waits for a free
    slot again (ahead of new jobs), so retries never push the number in flight over the window."""

    backend: Backend
    store: Store
    limit: _FixedLimit | AdaptiveLimit  # the window: requests allowed in flight now
    limiter: RateLimiter
    max_retries: int
    stats: RunStats
    progress: RunProgress | None
    deadline: float | None = DEFAULT_DEADLINE
    in_flight: int = 0  # requests holding a slot
    sent: int = 0  # of those, sent and not answered yet (the rest wait to be paced out)
    waiting: int = 0  # requests sleeping before a retry or waiting for a slot (holding none)
    retry_queue: int = 0  # retries waiting for a slot: they go before new jobs
    _freed: asyncio.Event | None = None
    exhausted: bool = False  # the job iterator has run out
    _hold_until: float = 0.0  # after a 429, no new request for a moment: the rest of the burst's refusals land first
    _next_send: float = 0.0  # the earliest moment the next paced request goes out
    _remember_at: float = 0.0  # the next moment the adaptive window may be saved
    _remembered: dict[str, Any] | None = None

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

    async def one(self, job: Job, limited: bool | None = None) -> Response | None:
        """One request on a slot the caller already holds (released here when done), retried as needed;
        returns the stored response, or None when an error was recorded instead;
        `limited`: whether the window, rather than a lack of work, was holding the sender back (default:
        whether jobs were still waiting when the response came)."""
        call = self.backend.loglik if job.request.choices else self.backend.chat
        failures = overloads = 0
        loop = asyncio.get_running_loop()
        give_up_at = None if self.deadline is None else loop.time() + self.deadline
        try:
            while True:
                attempt = failures + overloads
                await self.limiter.acquire(job.tokens)
                await self._pace()
                while self.in_flight > self.limit.value:  # the window shrank while it waited to go out
                    await self._sleep_off_slot(0)
                    await self._pace()
                self.limit.on_send()
                window = self.sent + 1  # requests at the server as it reaches it: a refusal's capacity signal
                try:
                    response = await self._attempt(call, job.request, give_up_at)
                except BackendError as exc:
                    if exc.status in (429, 503) and self.limit.on_overload(window):
                        self._hold(min(0.5, (self.limit.base_latency or 0.1) / 2))
                    # A 429 is the server pacing us (the window adapts to it): a larger budget than failures.
                    overloaded = exc.status == 429
                    overloads, failures = overloads + overloaded, failures + (not overloaded)
                    budget_left = overloads <= OVERLOAD_RETRIES if overloaded else failures <= self.max_retries
                    delay = _delay(attempt, exc.retry_after)
                    in_time = give_up_at is None or loop.time() + delay < give_up_at
                    if exc.retryable and budget_left and in_time:
                        self.stats.retries += 1
                        await self._sleep_off_slot(delay)
                        continue
                    why = str(exc)
                    if exc.retryable and budget_left:  # only the deadline stopped it
                        why = (f"no answer within the deadline of {self.deadline:g} s per request (--deadline) "
                               f"after {attempt + 1} attempt(s); last: {why}")
                    self._error(job, why, exc.status, attempt + 1)
                    return None
                except Exception as exc:  # an SDK or parsing failure: record it, never score it
                    self._error(job, f"{type(exc).__name__}: {exc}", None, attempt + 1)
                    return None
                self.limit.on_success(response.latency, not self.exhausted if limited is None else limited)
                stored = response.to_json()
                try:  # what is stored must read back as a response (the store trusts checksummed rows)
                    Response.from_json(stored)
                except ValueError as exc:
                    self._error(job, f"the backend returned a response that cannot be stored: {exc}", None,
                                attempt + 1)
                    return None
                self.store.put(job.key, stored)
                self._remember()
                self.stats.done += 1
                self._advance(answered=True)
                return response
        finally:
            self.release()

    async def _attempt(self, call: Any, request: Request, give_up_at: float | None) -> Response:
        """One call, cut off after the backend's per-attempt timeout or at the request's deadline, whichever
        comes first (a local backend without a timeout is only bounded by the deadline between attempts);
        counted in `sent` while it is at the server."""
        timeout = getattr(self.backend, "timeout", None)
        if give_up_at is not None and timeout is not None:
            timeout = min(timeout, give_up_at - asyncio.get_running_loop().time())
        self.sent += 1
        try:
            if timeout is None:
                return await call(request)
            try:
                return await asyncio.wait_for(call(request), max(timeout, 0.001))
            except asyncio.TimeoutError:
                raise BackendError(f"TimeoutError: no complete answer within {timeout:.3g} s", retryable=True) from None
        finally:
            self.sent -= 1

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

    def _remember(self, now: float | None = None) -> None:
        """Save the adaptive window for this endpoint (at most every REMEMBER_EVERY s; `now`=inf: at once),
        so the next run, or the next model on the same server, starts there."""
        if not isinstance(self.limit, AdaptiveLimit):
            return
        now = asyncio.get_running_loop().time() if now is None else now
        if now < self._remember_at:
            return
        self._remember_at = now + REMEMBER_EVERY
        state = self.limit.state()
        if state != self._remembered:
            self.store.put_window(endpoint_key(self.backend), state)
            self._remembered = state

    def _error(self, job: Job, message: str, status: int | None, attempts: int) -> None:
        self.store.put_error(job.key, redact_urls(message)[:2000], status, attempts)
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

    async def _chain(self, job: Job, jobs: Iterator[Job]) -> None:
        """Send `job`, then, in the same task, the next one while a slot is free: the next request goes
        out right after a response is stored, not a few event-loop turns later through the
        dispatcher, which matters when many responses land at once (the dispatcher still fills slots
        that open otherwise, e.g. when an adaptive window grows)."""
        while job is not None:
            await self.one(job)
            job = self._take(jobs)

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
                    task = asyncio.ensure_future(self._chain(job, jobs))
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


def make_limit(backend: Backend, concurrency: int | None, store: Store | None = None) -> _FixedLimit | AdaptiveLimit:
    """The window: fixed when the user (or a local backend) says so, else (`concurrency` None) adaptive,
    starting from the window remembered in `store` for this endpoint."""
    if concurrency is not None and concurrency < 1:  # never read as "not set": 0 is a mistake, said so
        raise GlobmedError(f"concurrency must be at least 1 (leave it out for the adaptive window), not {concurrency}")
    fixed = concurrency if concurrency is not None else backend.default_concurrency
    if fixed is not None:
        return _FixedLimit(fixed)
    return AdaptiveLimit.resume(store.window(endpoint_key(backend)) if store is not None else None)


async def execute(jobs: Iterable[Job], total: int, backend: Backend, store: Store, *, concurrency: int | None = None,
                  limiter: RateLimiter | None = None, max_retries: int = 6, description: str = "requests",
                  show_progress: bool = True, console: Console | None = None,
                  deadline: float | None = DEFAULT_DEADLINE) -> RunStats:
    """Run every job not already in the store; returns counts and timing. `deadline`: seconds a request
    may take across all its attempts (None: no limit beyond the retry budget)."""
    limit = make_limit(backend, concurrency, store)
    stats = RunStats(total=total)
    progress = RunProgress(description, total, console) if show_progress else None
    executor = _Executor(backend, store, limit, limiter or RateLimiter(), max_retries, stats, progress, deadline)
    start = time.perf_counter()
    try:
        if progress is not None:
            with progress:
                await executor.run(iter(jobs))
        else:
            await executor.run(iter(jobs))
    finally:
        executor._remember(now=float("inf"))
    stats.elapsed = time.perf_counter() - start
    return stats
