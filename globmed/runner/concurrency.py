"""Adaptive concurrency: find a server's capacity without being told, and remember it per endpoint.

* Slow start, per answer: each answer lets one more request out (the window doubles per round trip,
  from INITIAL) until requests are overdue: sent over OVERDUE x the floor latency (the lowest recent
  one) ago and not answered, they wait in a queue. A queue shows there a quarter round trip after it
  forms; the latency of answers shows it only when the queued requests come back, by when the window
  has grown again (the old rule, deciding on latency alone, overshot a capacity of 64 to 182 in
  flight). Once requests have stayed overdue for SETTLE x floor (a stalled event loop reads the
  answers that waited all at once, a queue stays), slow start ends with the window set to what the
  server answered in the last floor latency: by Little's law, the number it serves at once.
* Then, once per round trip, a gradient rule (after Netflix's concurrency-limits "gradient2"):
  limit * floor / mean + sqrt(limit). While the server does not queue that adds sqrt(limit) per round
  trip; once it queues, latency grows with the number in flight (Little's law), so the window settles
  at about the capacity plus a queue of sqrt(capacity): the server stays busy and latency stays near
  its floor. Answers to requests sent before the last cut are not judged again: they measure the
  window that was cut (judging them cut the window once per round trip until an overshoot's queue had
  drained, and the server then idled while the window grew back: 0.90 of capacity/latency instead of
  0.98 over 4,000 requests). Where the server serves under half the window two round trips running
  (a remembered window on a smaller server), the window goes straight to what it serves.
* A 429/503 means the request that got it exceeded the capacity: the window drops to just below the
  number at the server when that request was sent and stays under that ceiling, which is probed
  upwards by one per round trip after a quiet period; each probe that is refused doubles the quiet
  period (up to 64 round trips), so a steady server sees few refusals.

`state()` is what the request store remembers per endpoint (`endpoint_key`: the backend and its base
URL; globmed/runner/store.py, table `windows`) and `AdaptiveLimit.resume(state)` starts the next run
there: at a measured capacity in the gradient rule, its first sends paced over the remembered latency
(so a smaller server refuses or queues only the first few, and the window backs off as above); at a
window that never met a queue in slow start. Against a server with fixed latency L and capacity C this
keeps ~C requests in service: throughput near C/L (benchmarks/bench_endpoint.py --session; in virtual
time, tests/support/virtual_server.py).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import statistics
import time
from collections import deque
from typing import Any, Callable

from ..urls import public_url

GROWTH = 2.0  # slow start: window growth per round trip
INITIAL = 32  # LLM servers serve dozens at once; the window halves within a round trip where they do not
OVERDUE = 1.25  # x floor latency: a request not answered by then waited in a queue
OVERDUE_SHARE = 0.05  # overdue requests (share of the window) that end slow start
SETTLE = 0.5  # x floor latency: requests stay overdue this long before slow start ends
REMEMBER = 8  # round trips whose median window is remembered
DEEP_QUEUE = 0.5  # served / window below this: cut to what the server serves at once


class AdaptiveLimit:
    def __init__(self, initial: int = INITIAL, minimum: int = 1, maximum: int = 1024, tolerance: float = 1.05,
                 memory: float = 30.0, growth: float = GROWTH, clock: Callable[[], float] | None = None):
        self.limit = float(initial)
        self.minimum, self.maximum, self.tolerance, self.memory, self.growth = minimum, maximum, tolerance, memory, growth
        self.clock = clock or loop_time
        self.slow_start = True
        self.ceiling: float | None = None
        self._refused: float | None = None  # the ceiling the last refusal set (before probes raised it)
        self.validated = 0.0  # the largest window the server was seen to serve without queueing
        self.latency_hint: float | None = None  # a remembered floor: paces the first sends until one is measured
        self._floor: deque[tuple[float, float]] = deque()  # (time, latency) increasing: a sliding minimum
        self._sum = 0.0
        self._count = 0  # answers to requests sent since the last cut, this round trip
        self._answers = 0  # all answers this round trip
        self._all_limited = True  # the window held the sender back for every answer this round trip
        self._refused_now = False  # a refusal came this round trip
        self._deep = 0  # round trips running that served under DEEP_QUEUE x the window
        self._windows: deque[float] = deque(maxlen=REMEMBER)  # the window after the last round trips with work left
        self._startup = _Startup()
        self._limited = False
        self._period_start: float | None = None
        self._period_end = 0.0
        self._fresh_after = -math.inf  # answers to requests sent before this (the last cut) are stale
        self._probe_at = 0.0
        self._quiet = 4  # round trips to wait after a refusal before probing above the ceiling
        self._probing = False

    @classmethod
    def resume(cls, state: dict[str, Any] | None, **options: Any) -> "AdaptiveLimit":
        """A limit that starts where `state()` of an earlier run against the same endpoint left off."""
        limit = cls(**options)
        if not state or not state.get("window"):
            return limit
        limit.limit = float(max(limit.minimum, min(limit.maximum, int(state["window"]))))
        limit.slow_start = not state.get("settled")
        limit.validated = limit.limit if limit.slow_start else 0.0
        limit.latency_hint = state.get("latency") or None
        if state.get("ceiling"):
            limit.ceiling = limit._refused = max(float(limit.minimum), float(state["ceiling"]))
            limit.limit = min(limit.limit, limit.ceiling)
            limit._quiet = int(state.get("quiet") or limit._quiet)
            limit._probe_at = limit.clock() + limit._quiet * (limit.latency_hint or 0.1)
        return limit

    def state(self) -> dict[str, Any]:
        """What to remember for the endpoint: the window to start at, whether it is the measured capacity
        (else a lower bound, to grow from), the refusal ceiling and the floor latency."""
        if self.slow_start:  # the largest window served without a queue; the capacity if a queue was seen
            window, settled = max(self.minimum, int(self.validated)), self._startup.queue_seen
        else:  # the median of the last round trips that had more work than the window: not a stall's cut
            window, settled = int(statistics.median(self._windows)) if self._windows else self.value, True
        return {"window": window, "settled": settled, "ceiling": int(self._refused) if self._refused is not None else None,
                "quiet": self._quiet, "latency": round(self.base_latency, 4) if self.base_latency else None}

    @property
    def value(self) -> int:
        return max(self.minimum, min(self.maximum, int(self.limit)))

    @property
    def base_latency(self) -> float | None:
        return self._floor[0][1] if self._floor else self.latency_hint

    def on_success(self, latency: float, limited: bool) -> None:
        """A response; `limited`: whether the window (not a lack of work) was holding the sender back."""
        now = self.clock()
        latency = max(latency, 1e-4)
        while self._floor and self._floor[-1][1] >= latency:
            self._floor.pop()
        self._floor.append((now, latency))
        while self._floor[0][0] < now - self.memory:
            self._floor.popleft()
        if self.slow_start:
            self._grow(now, latency, limited)
            return
        if self._period_start is None:  # the first answer: the first round trip is measured from here
            self._period_start, self._period_end = now, now + self._floor[0][1]
        self._answers += 1
        self._all_limited = self._all_limited and limited
        if now - latency >= self._fresh_after:  # else sent before the last cut: it measures the window cut
            self._sum += latency
            self._count += 1
            self._limited = self._limited or limited
        if now >= self._period_end:
            self._decide(now)

    def on_send(self) -> None:
        """A request goes out (slow start tracks which ones are overdue)."""
        if self.slow_start:
            self._startup.sent(self.clock())

    def _grow(self, now: float, latency: float, limited: bool) -> None:
        """Slow start, per answer: one more request per answer (the window doubles per round trip) until
        requests are overdue for a while, then the window is what the server answered in the last round
        trip. The while (SETTLE x floor, the window held meanwhile) tells a queue from a stalled event
        loop: after a stall the answers that were waiting are read at once and nothing is overdue."""
        floor = self._floor[0][1]
        overdue, served = self._startup.answered(now, now - latency, floor)
        if overdue > max(2, OVERDUE_SHARE * self.limit):
            since = self._startup.overdue_since = self._startup.overdue_since or now
            self._startup.queue_seen = True
            if now - since >= SETTLE * floor:
                self.slow_start = False
                self._startup = _Startup()
                self._cut(now, min(self.limit, max(served, self.validated)))
                self._period_start, self._period_end = now, now + floor
            return
        self._startup.overdue_since = None
        if not overdue:
            self.validated = max(self.validated, min(self.limit, served))
        if limited:
            self.limit = min(float(self.maximum), self.limit + self.growth - 1)

    def _decide(self, now: float) -> None:
        floor = self._floor[0][1]
        served = self._answers * floor / max(now - self._period_start, floor)  # Little's law, as in slow start
        deep = self._all_limited and not self._refused_now and served < DEEP_QUEUE * self.limit
        self._deep = self._deep + 1 if deep else 0
        if self._deep >= 2:
            # Far more in flight than the server serves, two round trips running (one can be a stalled event
            # loop): a remembered window on a smaller server that queues (where it refuses, the ceiling
            # acts). Straight to what it serves, where the gradient would halve once per drained queue.
            self._cut(now, served + math.sqrt(served))
            self._deep = 0
        elif self._count:
            ratio = floor / (self._sum / self._count)
            self._cut(now, self.limit * max(0.5, min(1.0, ratio * self.tolerance))
                      + (math.sqrt(self.limit) if self._limited else 0.0))
        if self.ceiling is not None:
            if now >= self._probe_at:  # probe above the last overload point, one step per round trip
                self.ceiling += 1
                self._probing = True
                self._probe_at = now + floor
            self.limit = min(self.limit, self.ceiling)
        self.limit = max(float(self.minimum), min(self.limit, float(self.maximum)))
        if self._all_limited:
            self._windows.append(self.limit)
        self._sum, self._count, self._limited, self._answers, self._all_limited = 0.0, 0, False, 0, True
        self._refused_now = False
        self._period_start, self._period_end = now, now + floor

    def _cut(self, now: float, target: float) -> None:
        if target < self.limit:
            self._fresh_after = now
        self.limit = target

    def on_overload(self, window: int = 0) -> bool:
        """A 429/503 for a request sent with `window` in flight: the capacity is below that. Returns
        whether this looks like a burst over the capacity (the first refusals, or far over the known
        ceiling): then the sender should pause briefly so the burst's other refusals land first."""
        now = self.clock()
        self._refused_now = True
        burst = self.ceiling is None or window > self.ceiling + 1
        if self._probing:
            self._quiet = min(64, self._quiet * 2)  # a probe was refused: wait longer before the next
            self._probing = False
        ceiling = float(window - 1) if window > 1 else self.limit * 0.8
        self.ceiling = self._refused = max(float(self.minimum), min(ceiling, self.ceiling or ceiling))
        self.limit = min(self.limit, self.ceiling)
        self.slow_start = False
        self._startup = _Startup()
        self._probe_at = now + self._quiet * (self.base_latency or 0.1)
        return burst


def loop_time() -> float:
    """The running event loop's clock (the one the runner paces and sleeps by), else time.monotonic."""
    try:
        return asyncio.get_running_loop().time()
    except RuntimeError:
        return time.monotonic()


class _Startup:
    """Slow start's view of the server: how many requests are overdue (sent over OVERDUE x floor ago and
    not answered yet: they wait in a queue) and how many it answered in the last floor latency (Little's
    law: the number it serves at once). Requests are told apart by send time only (an answer's is its
    arrival less its latency), so this costs O(1) per request."""

    def __init__(self) -> None:
        self._sends: deque[float] = deque()  # send times not yet past the horizon, oldest first
        self._answers: list[float] = []  # heap: send times of answered requests not yet past the horizon
        self._recent: deque[float] = deque()  # answer times within the last floor latency
        self._old = 0  # sent before the horizon and not answered (answers counted as they come)
        self.overdue_since: float | None = None
        self.queue_seen = False  # requests were overdue (the run may end before slow start does)

    def sent(self, now: float) -> None:
        self._sends.append(now)

    def answered(self, now: float, sent_at: float, floor: float) -> tuple[int, int]:
        """(overdue, answered in the last floor) after an answer to a request sent at `sent_at`."""
        horizon = now - OVERDUE * floor
        heapq.heappush(self._answers, sent_at)
        while self._sends and self._sends[0] < horizon:
            self._sends.popleft()
            self._old += 1
        while self._answers and self._answers[0] < horizon:
            heapq.heappop(self._answers)
            self._old -= 1
        self._recent.append(now)
        while self._recent[0] <= now - floor:
            self._recent.popleft()
        return max(0, self._old), len(self._recent)


def endpoint_key(backend: Any) -> str:
    """Which server a remembered window belongs to: the backend and its base URL (every model served
    there shares its capacity); for a provider's public API (no base URL), whose limits are per model,
    the model too. Credentials in the URL are never part of it (the key is stored)."""
    base_url = public_url(getattr(backend, "base_url", None))
    if base_url:
        return f"{backend.kind} {base_url.rstrip('/')}"
    return f"{backend.kind} (default API) {backend.model}"
