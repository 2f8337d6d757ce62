"""The crash-safe response store: every response is committed the moment it arrives.

SQLite in WAL mode, one autocommitted INSERT per response: after a crash or `kill -9`, every
response that arrived is on disk, and a rerun skips it. The key is a hash of everything that
shapes a response (backend identity incl. URL, model and revision; the full request with its
generation settings and prompt; the dataset item and run index), so changing any of them makes
a new request instead of reusing a stale answer.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Iterator

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS errors (key TEXT PRIMARY KEY, message TEXT NOT NULL, status INTEGER,
                                   attempts INTEGER NOT NULL, created REAL NOT NULL);
-- The plan: which request answers which (evaluation, dataset, language, item, run), so results can be
-- re-scored from the store alone; prompts are kept once per distinct text.
CREATE TABLE IF NOT EXISTS plan (eval TEXT NOT NULL, dataset TEXT NOT NULL, language TEXT NOT NULL, item TEXT NOT NULL,
                                 run INTEGER NOT NULL, key TEXT NOT NULL, prompt_hash TEXT NOT NULL,
                                 PRIMARY KEY (eval, dataset, language, item, run));
CREATE TABLE IF NOT EXISTS prompts (hash TEXT PRIMARY KEY, messages TEXT NOT NULL);
"""

# Apart from SCHEMA (created on first use): the adaptive window per endpoint (backend + base URL), so
# the next run against the same server starts at the window the last one found.
WINDOWS_SCHEMA = "CREATE TABLE IF NOT EXISTS windows (endpoint TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)"


def request_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class Store:
    def __init__(self, path: Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes (kill -9)
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def has(self, key: str) -> bool:
        with self._lock:
            return self._db.execute("SELECT 1 FROM responses WHERE key=?", (key,)).fetchone() is not None

    def get(self, key: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT response FROM responses WHERE key=?", (key,)).fetchone()
        return row[0] if row else None

    def error(self, key: str) -> tuple[str, int | None, int] | None:
        with self._lock:
            row = self._db.execute("SELECT message, status, attempts FROM errors WHERE key=?", (key,)).fetchone()
        return tuple(row) if row else None  # type: ignore[return-value]

    def put(self, key: str, response: str) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?)", (key, response, time.time()))
            self._db.execute("DELETE FROM errors WHERE key=?", (key,))

    def put_error(self, key: str, message: str, status: int | None, attempts: int) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?, ?, ?)",
                             (key, message, status, attempts, time.time()))

    def put_plan(self, rows: list[tuple[str, str, str, str, int, str, str]], prompts: dict[str, str]) -> None:
        """Record a plan in one transaction (rows: eval, dataset, language, item, run, key, prompt_hash)."""
        with self._lock:
            self._db.execute("BEGIN")
            self._db.executemany("INSERT OR REPLACE INTO plan VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
            self._db.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", prompts.items())
            self._db.execute("COMMIT")

    def plan(self, eval_id: str, dataset: str, language: str) -> list[tuple[str, int, str, str]]:
        """(item, run, key, prompt_hash) rows of one evaluation's config, in item order then run."""
        with self._lock:
            return self._db.execute(
                "SELECT item, run, key, prompt_hash FROM plan WHERE eval=? AND dataset=? AND language=? ORDER BY rowid",
                (eval_id, dataset, language)).fetchall()

    def prompt(self, prompt_hash: str) -> str | None:
        with self._lock:
            row = self._db.execute("SELECT messages FROM prompts WHERE hash=?", (prompt_hash,)).fetchone()
        return row[0] if row else None

    def count(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def keys(self) -> Iterator[str]:
        with self._lock:
            rows = self._db.execute("SELECT key FROM responses").fetchall()
        return (r[0] for r in rows)

    # -- the adaptive window remembered per endpoint (globmed/runner/concurrency.py) ----------------
    def _windows(self) -> sqlite3.Connection:
        if not getattr(self, "_windows_ready", False):
            self._db.execute(WINDOWS_SCHEMA)
            self._windows_ready = True
        return self._db

    def window(self, endpoint: str) -> dict[str, Any] | None:
        """The window state last saved for `endpoint` (AdaptiveLimit.state()), or None."""
        with self._lock:
            row = self._windows().execute("SELECT state FROM windows WHERE endpoint=?", (endpoint,)).fetchone()
        try:
            state = json.loads(row[0]) if row else None
        except ValueError:
            return None  # a damaged row only costs the head start, never the run
        return state if isinstance(state, dict) else None

    def put_window(self, endpoint: str, state: dict[str, Any]) -> None:
        with self._lock:
            self._windows().execute("INSERT OR REPLACE INTO windows VALUES (?, ?, ?)",
                                    (endpoint, json.dumps(state, sort_keys=True), time.time()))

    def close(self) -> None:
        with self._lock:
            self._db.close()
