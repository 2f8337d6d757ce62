"""The runner: how every request that costs money is sent.

- `executor.py`: `execute`, a rolling window of concurrent requests over the crash-safe store, with
  retries, rate limits and a deadline per request;
- `calls.py`: `Caller`, the same one request at a time, for pipelines whose next request depends on
  the last answer;
- `session.py`: `Session`, a backend, a store and the sending settings: plan, run, close; the one token
  estimate and prompt hash;
- `store.py` (the SQLite store and request keys), `limits.py` (rate limits), `concurrency.py` (the
  adaptive window), `progress.py` (the progress bar).
"""

from __future__ import annotations

from .executor import DEFAULT_DEADLINE, Job, RunStats, execute, make_limit
from .limits import RateLimiter
from .session import Session, estimate_tokens, prompt_hash, prompt_text, text_tokens
from .store import Store, request_key

__all__ = ["DEFAULT_DEADLINE", "Job", "RunStats", "RateLimiter", "Session", "Store", "estimate_tokens", "execute",
           "make_limit", "prompt_hash", "prompt_text", "request_key", "text_tokens"]
