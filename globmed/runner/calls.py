"""One request at a time from many coroutines: for pipelines whose next request depends on the last
answer (translation: draft -> review -> refine), where jobs cannot be listed up front for `execute`.

Same machinery as `execute`: the crash-safe store (an answered key is never sent again), rate
limits, retries of retryable failures with backoff and Retry-After, and a concurrency window
(fixed, or adaptive when none is given). Callers await `call(job)` and get the stored response or
the recorded error.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import Any

from ..backends.base import Backend, Response
from .executor import DEFAULT_DEADLINE, RunStats, _Executor, make_limit
from .limits import RateLimiter
from .store import Store


@dataclass
class Outcome:
    response: Response | None
    error: str | None = None
    cached: bool = False


class StoredCaller(ABC):
    """What every caller shares: answers come from the store first; `send` is the way to the model."""

    store: Store
    stats: RunStats

    def cached(self, key: str) -> Outcome | None:
        text = self.store.get(key)  # None also for a corrupted or unreadable row: it is requested again
        return Outcome(Response.from_json(text), cached=True) if text is not None else None

    async def __call__(self, job: Any) -> Outcome:
        hit = self.cached(job.key)
        if hit is not None:
            self.stats.cached += 1
            return hit
        return await self.send(job)

    @abstractmethod
    async def send(self, job: Any) -> Outcome:
        """Get `job` answered (or its error recorded) by the model."""


class Caller(StoredCaller):
    """Requests go out one by one through the runner's executor (window, limits, retries)."""

    def __init__(self, backend: Backend, store: Store, *, concurrency: int | None = None,
                 limiter: RateLimiter | None = None, max_retries: int = 6, stats: RunStats | None = None,
                 deadline: float | None = DEFAULT_DEADLINE):
        self.limit = limit = make_limit(backend, concurrency, store)
        self.stats = stats or RunStats()
        self.store = store
        self._executor = _Executor(backend, store, limit, limiter or RateLimiter(), max_retries, self.stats, None,
                                   deadline)

    @property
    def window(self) -> int:
        """Requests allowed in flight now."""
        return self.limit.value

    @property
    def in_flight(self) -> int:
        return self._executor.in_flight

    async def send(self, job: Any) -> Outcome:
        ex = self._executor
        await ex.acquire()
        response = await ex.one(job, limited=ex.in_flight >= self.limit.value - 1)
        if response is not None:
            return Outcome(response)
        err = self.store.error(job.key)
        return Outcome(None, err[0] if err else "no response was recorded")
