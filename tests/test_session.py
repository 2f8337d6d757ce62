"""The runner's Session against the suite's real OpenAI-compatible server (tests/support/openai_server.py)
and the real openai backend: it closes the backend (once, on the loop that used it) and the store on every
path, and a second session over the same store sends nothing that was answered."""

from __future__ import annotations

import asyncio
import sqlite3
from typing import Any, Iterator

import pytest

from globmed.backends import GenerationSettings, Request, make_backend
from globmed.runner import Job, Session, Store, estimate_tokens, prompt_hash, request_key

MESSAGES = ({"role": "system", "content": "Réponds."}, {"role": "user", "content": "Question: 1+1? 答え"})


def watched_backend(url: str, closes: list[Any]) -> Any:
    """The real openai backend; its aclose is wrapped to record the loop it ran on (a spy, not a mock)."""
    backend = make_backend("openai", "scripted-model", base_url=url)
    close = backend.aclose

    async def aclose() -> None:
        closes.append(asyncio.get_running_loop())
        await close()

    backend.aclose = aclose  # type: ignore[method-assign]
    return backend


def requests(n: int) -> list[tuple[str, Request]]:
    out = []
    for i in range(n):
        request = Request(messages=({"role": "user", "content": f"question {i}"},),
                          settings=GenerationSettings(max_tokens=8))
        out.append((request_key({"test": "session", "i": i}), request))
    return out


def store_is_closed(store: Store) -> bool:
    try:
        store._db.execute("SELECT 1")
    except sqlite3.ProgrammingError:  # "Cannot operate on a closed database."
        return True
    return False


def test_session_closes_backend_and_store_when_a_job_raises(openai_server, tmp_path):
    server = openai_server()
    closes: list[Any] = []
    loops: list[Any] = []

    def jobs(session: Session) -> Iterator[Job]:
        for i, (key, request) in enumerate(requests(6)):
            loops.append(asyncio.get_running_loop())  # the jobs are pulled inside the session's loop
            if i == 3:
                raise ValueError("a job could not be built")
            yield session.job(key, request)

    with pytest.raises(ValueError, match="could not be built"):
        with Session(watched_backend(server.base_url, closes), tmp_path / "requests.sqlite", progress=False) as session:
            session.execute(jobs(session), 6)
    assert len(closes) == 1 and closes[0] is loops[0]  # once, on the loop whose client it was
    assert store_is_closed(session.store)
    reopened = Store(tmp_path / "requests.sqlite")  # the file is sound and opens again
    try:
        assert reopened.count() <= 3
    finally:
        reopened.close()


def test_a_session_that_never_ran_still_closes_both(openai_server, tmp_path):
    server = openai_server()
    closes: list[Any] = []
    with pytest.raises(KeyError):
        with Session(watched_backend(server.base_url, closes), tmp_path / "requests.sqlite") as session:
            raise KeyError("before any request")
    assert len(closes) == 1 and store_is_closed(session.store)
    assert server.chat_requests() == []


def test_session_resumes_from_the_store_without_resending(openai_server, tmp_path):
    server = openai_server()
    path = tmp_path / "requests.sqlite"
    planned = requests(5)

    def once() -> Any:
        with Session(make_backend("openai", "scripted-model", base_url=server.base_url), path,
                     progress=False) as session:
            session.put_plan("eval", [("ds", "en", f"item{i}", 0, key, req.messages)
                                      for i, (key, req) in enumerate(planned)])
            return session.execute((session.job(k, r) for k, r in planned), len(planned))

    first = once()
    assert (first.done, first.cached, len(server.chat_requests())) == (5, 0, 5)
    second = once()
    assert (second.done, second.cached, second.errors) == (0, 5, 0)
    assert len(server.chat_requests()) == 5  # nothing sent again
    store = Store(path)
    try:
        rows = store.plan("eval", "ds", "en")
        assert [r[0] for r in rows] == [f"item{i}" for i in range(5)]
        for (_, _, key, ph), (planned_key, request) in zip(rows, planned):
            assert key == planned_key and store.has(key)
            assert store.prompt(ph) == '[{"role": "user", "content": "' + request.messages[0]["content"] + '"}]'
    finally:
        store.close()


def test_token_limit_jobs_carry_the_one_estimate(openai_server, tmp_path):
    server = openai_server()
    key, request = requests(1)[0]
    with Session(make_backend("openai", "m", base_url=server.base_url), tmp_path / "s.sqlite") as free, \
            Session(make_backend("openai", "m", base_url=server.base_url), tmp_path / "t.sqlite", tpm=1e6) as limited:
        assert free.job(key, request).tokens == 0  # no token limit: nothing to estimate
        assert limited.job(key, request).tokens == estimate_tokens(request.messages, 8) == int(10 / 3.5) + 8


def test_prompt_hash_and_token_estimate_are_those_stores_already_hold():
    # 4ada55d63134e9c0: what the bench (globmed.tasks.prompt_hash) and distillation (by hand) wrote for these
    # messages before the session existed; a store's plan rows point at its prompts by it.
    assert prompt_hash(MESSAGES) == prompt_hash(list(MESSAGES)) == "4ada55d63134e9c0"
    # UTF-8 bytes / 3.5 over every message's content ("é" and "答え" count their bytes), plus the ceiling
    assert estimate_tokens(MESSAGES) == int(len("Réponds.Question: 1+1? 答え".encode()) / 3.5) == 8
    assert estimate_tokens(MESSAGES, 32) == 40
