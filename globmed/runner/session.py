"""One session: the request sequence every stage shares (bench, distillation, translation, the judge).

A Session holds a backend, a request store and how requests are sent (the window, rate limits,
retries, the deadline, the progress bar). It records a plan (which request answers which item) with
its prompts, runs jobs through the runner's rolling window (`execute`) or hands out a `Caller` for
pipelines whose next request depends on the last answer, and closes the backend and the store on every
path. The backend's async client is bound to the event loop it was used on, so a session runs in ONE
loop (`run`) and closes the backend at its end, on that loop; a session that never ran (or failed
before its loop) closes it on a fresh one when the `with` block ends. Closing happens once.

The estimates and hashes every stage shares live here too: `estimate_tokens` (UTF-8 bytes / 3.5 of
each message's content, plus the answer's ceiling; it only feeds the token rate limit and dry-run
costs) and `prompt_hash` (the index of a prompt in the store's prompts table).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from pathlib import Path
from typing import Any, Awaitable, Callable, Iterable, Mapping, Sequence, TypeVar

from rich.console import Console

from ..backends.base import Backend, Request
from .calls import Caller
from .executor import DEFAULT_DEADLINE, Job, RunStats, execute
from .limits import RateLimiter
from .store import Store

BYTES_PER_TOKEN = 3.5  # a rough count that holds across scripts better than characters / 4
PLAN_CHUNK = 20_000  # plan rows written per transaction: memory stays bounded for any plan
T = TypeVar("T")
# One plan row: dataset, language, item, run, the request's key and its messages.
PlanRow = tuple[str, str, str, int, str, Sequence[Mapping[str, str]]]


def text_tokens(text: str) -> float:
    """A rough token count of a text: its UTF-8 bytes / 3.5."""
    return len(text.encode("utf-8")) / BYTES_PER_TOKEN


def estimate_tokens(messages: Iterable[Mapping[str, str]], max_tokens: int = 0) -> int:
    """Prompt tokens (every message's content) plus `max_tokens`, the answer's ceiling."""
    return int(text_tokens("".join(m["content"] for m in messages))) + max_tokens


def request_tokens(request: Request) -> int:
    """A request's prompt and answer tokens (the answer at its ceiling; one token to score a choice)."""
    return estimate_tokens(request.messages, 1 if request.choices else request.settings.max_tokens)


def prompt_text(messages: Iterable[Mapping[str, str]]) -> str:
    """The messages as the store's prompts table keeps them."""
    return json.dumps([dict(m) for m in messages], ensure_ascii=False)


def prompt_hash(messages: Iterable[Mapping[str, str]]) -> str:
    """A prompt's index in the store's prompts table (the `prompt_hash` of plans, details and traces)."""
    text = json.dumps([dict(m) for m in messages], ensure_ascii=False, sort_keys=True)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


class Session:
    """A backend, a store and the sending settings; use it as a context manager. `store`: a Store the
    caller keeps open (and closes), or a path this session opens and closes."""

    def __init__(self, backend: Backend, store: Store | Path | str, *, concurrency: int | None = None,
                 rpm: float | None = None, tpm: float | None = None, max_retries: int = 6,
                 deadline: float | None = DEFAULT_DEADLINE, progress: bool = True, description: str = "requests",
                 console: Console | None = None):
        self.backend = backend
        self._owns_store = not isinstance(store, Store)
        self.store = Store(Path(store)) if self._owns_store else store  # type: ignore[arg-type]
        self.concurrency, self.max_retries, self.deadline = concurrency, max_retries, deadline
        self.limiter = RateLimiter(rpm, tpm)
        self.progress, self.description, self.console = progress, description, console
        self.stats = RunStats()
        self._identity: dict[str, Any] | None = None
        self._backend_closed = self._closed = False

    # -- what identifies the requests --------------------------------------------------------------------
    @property
    def identity(self) -> dict[str, Any]:
        """The backend's identity (part of every request key)."""
        if self._identity is None:
            self._identity = self.backend.identity()
        return self._identity

    def job(self, key: str, request: Request) -> Job:
        """A job; its tokens are estimated only when a token rate limit needs them."""
        return Job(key, request, request_tokens(request) if self.limiter.tokens is not None else 0)

    # -- the plan ---------------------------------------------------------------------------------------------
    def put_plan(self, eval_id: str, rows: Iterable[PlanRow], chunk: int = PLAN_CHUNK) -> int:
        """Record which request answers which (item, run) of `eval_id`, with each distinct prompt once, in
        bounded chunks; returns the number of rows."""
        plan: list[tuple[str, str, str, str, int, str, str]] = []
        prompts: dict[str, str] = {}
        n = 0
        for dataset, language, item, run, key, messages in rows:
            ph = prompt_hash(messages)
            if ph not in prompts:
                prompts[ph] = prompt_text(messages)
            plan.append((eval_id, dataset, language, item, run, key, ph))
            n += 1
            if len(plan) >= chunk:
                self.store.put_plan(plan, prompts)
                plan, prompts = [], {}
        self.store.put_plan(plan, prompts)
        return n

    def put_prompts(self, prompts: Mapping[str, str]) -> None:
        """Keep prompts (hash -> text) without plan rows (a translation's trace points at them)."""
        if prompts:
            self.store.put_plan([], dict(prompts))

    # -- running ------------------------------------------------------------------------------------------------
    def run(self, main: Callable[[Session], Awaitable[T]]) -> T:
        """Run `main(self)` in a fresh event loop and close the backend at its end, on that loop."""
        if self._backend_closed:
            raise RuntimeError("this session's backend is closed: a session runs one event loop")

        async def go() -> T:
            try:
                return await main(self)
            finally:
                await self.aclose_backend()

        return asyncio.run(go())

    def execute(self, jobs: Iterable[Job], total: int, description: str | None = None) -> RunStats:
        """Run every job not already in the store (the rolling window), then close the backend."""
        return self.run(lambda s: s.aexecute(jobs, total, description))

    async def aexecute(self, jobs: Iterable[Job], total: int, description: str | None = None) -> RunStats:
        """`execute` inside a loop the caller runs (through `run`)."""
        self.stats = await execute(jobs, total, self.backend, self.store, concurrency=self.concurrency,
                                   limiter=self.limiter, max_retries=self.max_retries,
                                   description=description or self.description, show_progress=self.progress,
                                   console=self.console, deadline=self.deadline)
        return self.stats

    def caller(self, stats: RunStats | None = None) -> Caller:
        """One request at a time from many coroutines, under this session's window, limits and retries."""
        if stats is not None:
            self.stats = stats
        return Caller(self.backend, self.store, concurrency=self.concurrency, limiter=self.limiter,
                      max_retries=self.max_retries, stats=self.stats, deadline=self.deadline)

    # -- closing ------------------------------------------------------------------------------------------------
    async def aclose_backend(self) -> None:
        if not self._backend_closed:
            self._backend_closed = True
            await self.backend.aclose()

    def close(self) -> None:
        """Close the backend (on a fresh loop, if no loop closed it) and the store this session opened."""
        if self._closed:
            return
        self._closed = True
        try:
            if not self._backend_closed:
                asyncio.run(self.aclose_backend())
        finally:
            if self._owns_store:
                self.store.close()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
