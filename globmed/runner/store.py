"""The crash-safe response store: every response is committed the moment it arrives.

SQLite in WAL mode, one autocommitted INSERT per response: after a crash or `kill -9`, every
response that arrived is on disk, and a rerun skips it. The key is a hash of everything that
shapes a response (backend identity incl. URL, model and revision; the full request with its
generation settings and prompt; the dataset item and run index), so changing any of them makes
a new request instead of reusing a stale answer.

Each response carries a checksum (sha256 of key and response): a row that was corrupted or altered
on disk fails it, counts as absent, and is requested again. A damaged file is a one-line
StoreDamaged error naming the file and the remedy: `repair` (`--repair`) keeps the readable rows in
a fresh file and moves the damaged one aside; deleting the file starts afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any, Callable, Iterator, TypeVar

from ..backends.base import Response
from ..errors import RuntimeFailure

SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (key TEXT PRIMARY KEY, response TEXT NOT NULL, created REAL NOT NULL,
                                      checksum TEXT);
CREATE TABLE IF NOT EXISTS errors (key TEXT PRIMARY KEY, message TEXT NOT NULL, status INTEGER,
                                   attempts INTEGER NOT NULL, created REAL NOT NULL);
-- The plan: which request answers which (evaluation, dataset, language, item, run), so results can be
-- re-scored from the store alone; prompts are kept once per distinct text.
CREATE TABLE IF NOT EXISTS plan (eval TEXT NOT NULL, dataset TEXT NOT NULL, language TEXT NOT NULL, item TEXT NOT NULL,
                                 run INTEGER NOT NULL, key TEXT NOT NULL, prompt_hash TEXT NOT NULL,
                                 PRIMARY KEY (eval, dataset, language, item, run));
CREATE TABLE IF NOT EXISTS prompts (hash TEXT PRIMARY KEY, messages TEXT NOT NULL);
"""
TABLES = {"responses": ("key", "response", "created", "checksum"),
          "errors": ("key", "message", "status", "attempts", "created"),
          "plan": ("eval", "dataset", "language", "item", "run", "key", "prompt_hash"),
          "prompts": ("hash", "messages")}
CORRUPT = "the stored response failed its checksum (corrupted or altered on disk)"
T = TypeVar("T")


class StoreDamaged(RuntimeFailure):
    """The store's file cannot be used; the message names it and what to do."""

# Apart from SCHEMA (created on first use): the adaptive window per endpoint (backend + base URL), so
# the next run against the same server starts at the window the last one found.
WINDOWS_SCHEMA = "CREATE TABLE IF NOT EXISTS windows (endpoint TEXT PRIMARY KEY, state TEXT NOT NULL, updated REAL NOT NULL)"


def request_key(parts: dict[str, Any]) -> str:
    canonical = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def checksum(key: str, response: str) -> str:
    return hashlib.sha256(f"{key}\n{response}".encode("utf-8")).hexdigest()


def _readable(response: str) -> str | None:
    """Why a stored response cannot be scored, or None when it can."""
    try:
        Response.from_json(response)
    except ValueError as exc:
        return f"the stored response cannot be read: {exc}"
    return None


def _damaged(path: Path, exc: sqlite3.Error) -> StoreDamaged:
    reason = str(exc) or type(exc).__name__
    if "locked" in reason or "busy" in reason:
        return StoreDamaged(f"{path}: the request store is in use by another process ({reason}); wait for it to "
                            f"finish or stop it, then rerun")
    if "unable to open" in reason:
        return StoreDamaged(f"{path}: cannot open the request store ({reason}); check the folder exists and is writable")
    return StoreDamaged(f"{path}: the request store is damaged ({reason}). Rerun with --repair to keep its readable "
                        f"rows (the damaged file is kept beside it), or delete it to start afresh (every request is "
                        f"sent again)")


class Store:
    def __init__(self, path: Path, repair: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.repaired: dict[str, Any] | None = repair_store(self.path) if repair else None
        self._lock = threading.Lock()
        self._problems: dict[str, str] = {}  # key -> why its stored response is not used
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _damaged(self.path, exc) from None
        try:
            self._sql(self._open)
        except StoreDamaged:
            self._db.close()
            raise

    def _open(self) -> None:
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # durable across process crashes (kill -9)
        result = self._db.execute("PRAGMA quick_check").fetchone()[0]  # structure only: ~ a full read
        if result != "ok":
            raise sqlite3.DatabaseError(f"integrity check: {result}")
        self._db.executescript(SCHEMA)
        columns = {row[1] for row in self._db.execute("PRAGMA table_info(responses)")}
        if "checksum" not in columns:  # a store written before checksums: its rows are checked when read
            self._db.execute("ALTER TABLE responses ADD COLUMN checksum TEXT")

    def _sql(self, fn: Callable[[], T]) -> T:
        """Run fn; any SQLite failure becomes one StoreDamaged line naming the file."""
        try:
            return fn()
        except sqlite3.Error as exc:
            raise _damaged(self.path, exc) from None

    def _row(self, key: str) -> str | None:
        """The response of `key` when its row is sound; else None, with the reason kept in `problem(key)`.
        A row written with a checksum was readable when stored (the runner checks before `put`), so the
        checksum is enough; an older row without one is checked as a response, then sealed."""
        try:
            with self._lock:
                row = self._db.execute("SELECT response, checksum FROM responses WHERE key=?", (key,)).fetchone()
        except sqlite3.Error as exc:
            raise _damaged(self.path, exc) from None
        if row is None:
            return None
        response, stored = row
        if stored is not None:
            problem = None if stored == checksum(key, response) else CORRUPT
        else:
            problem = _readable(response)
            if problem is None:
                self._sql(lambda: self._seal(key, response))
        if problem is not None:
            self._problems[key] = problem
            return None
        if self._problems:
            self._problems.pop(key, None)
        return response

    def _seal(self, key: str, response: str) -> None:
        with self._lock:
            self._db.execute("UPDATE responses SET checksum=? WHERE key=?", (checksum(key, response), key))

    def has(self, key: str) -> bool:
        """Whether `key` has a sound response (a corrupted or unreadable one is requested again)."""
        return self._row(key) is not None

    def get(self, key: str) -> str | None:
        return self._row(key)

    def problem(self, key: str) -> str | None:
        """Why the response stored under `key` was not used by the last has/get, if it was not."""
        return self._problems.get(key)

    def error(self, key: str) -> tuple[str, int | None, int] | None:
        def read() -> Any:
            with self._lock:
                return self._db.execute("SELECT message, status, attempts FROM errors WHERE key=?", (key,)).fetchone()

        row = self._sql(read)
        return tuple(row) if row else None  # type: ignore[return-value]

    def put(self, key: str, response: str) -> None:
        def write() -> None:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?)",
                                 (key, response, time.time(), checksum(key, response)))
                self._db.execute("DELETE FROM errors WHERE key=?", (key,))

        self._sql(write)
        self._problems.pop(key, None)

    def put_error(self, key: str, message: str, status: int | None, attempts: int) -> None:
        def write() -> None:
            with self._lock:
                self._db.execute("INSERT OR REPLACE INTO errors VALUES (?, ?, ?, ?, ?)",
                                 (key, message, status, attempts, time.time()))

        self._sql(write)

    def put_plan(self, rows: list[tuple[str, str, str, str, int, str, str]], prompts: dict[str, str]) -> None:
        """Record a plan in one transaction (rows: eval, dataset, language, item, run, key, prompt_hash)."""
        def write() -> None:
            with self._lock:
                self._db.execute("BEGIN")
                try:
                    self._db.executemany("INSERT OR REPLACE INTO plan VALUES (?, ?, ?, ?, ?, ?, ?)", rows)
                    self._db.executemany("INSERT OR IGNORE INTO prompts VALUES (?, ?)", prompts.items())
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise
                self._db.execute("COMMIT")

        self._sql(write)

    def plan(self, eval_id: str, dataset: str, language: str) -> list[tuple[str, int, str, str]]:
        """(item, run, key, prompt_hash) rows of one evaluation's config, in item order then run."""
        def read() -> Any:
            with self._lock:
                return self._db.execute(
                    "SELECT item, run, key, prompt_hash FROM plan WHERE eval=? AND dataset=? AND language=? "
                    "ORDER BY rowid", (eval_id, dataset, language)).fetchall()

        return self._sql(read)

    def prompt(self, prompt_hash: str) -> str | None:
        def read() -> Any:
            with self._lock:
                return self._db.execute("SELECT messages FROM prompts WHERE hash=?", (prompt_hash,)).fetchone()

        row = self._sql(read)
        return row[0] if row else None

    def count(self) -> int:
        def read() -> int:
            with self._lock:
                return self._db.execute("SELECT COUNT(*) FROM responses").fetchone()[0]

        return self._sql(read)

    def keys(self) -> Iterator[str]:
        def read() -> Any:
            with self._lock:
                return self._db.execute("SELECT key FROM responses").fetchall()

        return (r[0] for r in self._sql(read))

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


# ------------------------------------------------------------------------------------------------ repair
def repair_store(path: Path) -> dict[str, Any] | None:
    """Move a damaged store aside (`<name>.damaged-<time>`, with its -wal/-shm files) and write the rows it
    still gives into a fresh file at `path`. Returns what was kept, or None when the store was sound."""
    path = Path(path)
    if not path.exists() or _sound(path):
        return None
    aside = path.with_name(f"{path.name}.damaged-{time.strftime('%Y%m%d-%H%M%S')}")
    for suffix in ("", "-wal", "-shm"):
        if Path(f"{path}{suffix}").exists():
            os.replace(f"{path}{suffix}", f"{aside}{suffix}")
    kept = _salvage(aside)
    sound = {"responses": 0, "errors": 0, "plan": 0, "prompts": 0}
    fresh = Store(path)
    try:
        with fresh._lock:
            fresh._db.execute("BEGIN")
            for table, rows in kept.items():
                if table == "responses":  # only rows that pass their checksum (or read as responses, if older)
                    rows = [r for r in rows if isinstance(r[0], str) and isinstance(r[1], str) and
                            (checksum(r[0], r[1]) == r[3] if r[3] else _readable(r[1]) is None)]
                    rows = [(k, resp, created, checksum(k, resp)) for k, resp, created, _ in rows]
                marks = ", ".join("?" * len(TABLES[table]))
                fresh._db.executemany(f"INSERT OR IGNORE INTO {table} VALUES ({marks})", rows)
                sound[table] = len(rows)
            fresh._db.execute("COMMIT")
    finally:
        fresh.close()
    return {"moved_to": str(aside), "kept": sound}


def _sound(path: Path) -> bool:
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            ok = db.execute("PRAGMA quick_check").fetchone()[0] == "ok"
            return ok and {r[0] for r in db.execute("SELECT name FROM sqlite_master")} >= set(TABLES)
        finally:
            db.close()
    except sqlite3.Error:
        return False


def _salvage(path: Path, give_up_after: int = 1000) -> dict[str, list[tuple[Any, ...]]]:
    """The rows each table still gives: a full scan in rowid order, and when that breaks on a bad page,
    one rowid at a time past it (up to the largest rowid, or `give_up_after` misses in a row)."""
    out: dict[str, list[tuple[Any, ...]]] = {t: [] for t in TABLES}
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error:
        return out
    try:
        for table, columns in TABLES.items():
            try:  # a store written before a column existed gives NULL for it
                present = {r[1] for r in db.execute(f"PRAGMA table_info({table})")} or set(columns)
            except sqlite3.Error:
                present = set(columns)
            picked = ", ".join(c if c in present else "NULL" for c in columns)
            select = f"SELECT rowid, {picked} FROM {table}"
            rows: dict[int, tuple[Any, ...]] = {}
            try:
                for row in db.execute(select + " ORDER BY rowid"):
                    rows[row[0]] = row[1:]
                out[table] = list(rows.values())
                continue
            except sqlite3.Error:
                pass
            try:
                top = db.execute(f"SELECT max(rowid) FROM {table}").fetchone()[0]
            except sqlite3.Error:
                top = None
            rowid, misses = max(rows, default=0) + 1, 0
            while (top is None or rowid <= top) and misses < give_up_after:
                try:
                    row = db.execute(select + " WHERE rowid=?", (rowid,)).fetchone()
                except sqlite3.Error:
                    row = None
                if row is None:
                    misses += 1
                else:
                    rows[rowid], misses = row[1:], 0
                rowid += 1
            out[table] = list(rows.values())
    finally:
        db.close()
    return out
