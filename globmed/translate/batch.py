"""Provider batch APIs for the LLM stages (`--batch-api`): OpenAI's Batch API and Anthropic's Message
Batches, about half the price of direct calls, answered within 24 hours.

The pipeline's code is the same in both modes: a stage awaits `caller(job)`. Here the jobs wait in a
queue; when every running record is waiting (or the queue holds `max_batch` requests) the queue is
sent as one batch (custom_id = the store key), polled, and each result goes into the same crash-safe
store under the same key as a direct call would. So a run can be resumed in either mode, and a batch
that was submitted before a crash is recorded in OUT/.cache/batches.jsonl and collected by the next run
instead of being submitted again.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any, Callable

from ..backends.base import Backend, Response
from ..backends.openai_compat import parse_completion
from ..errors import GlobmedError
from ..runner import RunStats, Store
from ..runner.calls import Outcome, StoredCaller

FINISHED_OPENAI = {"completed", "failed", "expired", "cancelled"}


def anthropic_response(message: Any) -> Response:
    """A Response from an anthropic Message object (as `AnthropicBackend.chat` builds it)."""
    text = "".join(b.text for b in message.content if getattr(b, "type", "") == "text")
    thinking = "".join(getattr(b, "thinking", "") for b in message.content if getattr(b, "type", "") == "thinking")
    return Response(text=text, finish_reason=message.stop_reason, tokens_in=message.usage.input_tokens,
                    tokens_out=message.usage.output_tokens, latency=0.0, model=message.model, reasoning=thinking or None)


class OpenAIBatches:
    provider = "openai"

    def __init__(self, backend: Backend):
        self.backend = backend
        self.client = backend.sdk  # type: ignore[attr-defined]

    def line(self, key: str, request: Any) -> dict[str, Any]:
        """One line of the batch input file: the same body a direct call sends."""
        body = self.backend.body(request)  # type: ignore[attr-defined]
        return {"custom_id": key, "method": "POST", "url": "/v1/chat/completions", "body": body}

    async def submit(self, lines: list[dict[str, Any]]) -> str:
        data = "".join(json.dumps(line, ensure_ascii=False) + "\n" for line in lines).encode("utf-8")
        upload = await self.client.files.create(file=("globmed-batch.jsonl", data, "application/jsonl"), purpose="batch")
        batch = await self.client.batches.create(input_file_id=upload.id, endpoint="/v1/chat/completions",
                                                 completion_window="24h", metadata={"globmed": "translate"})
        return batch.id

    async def status(self, batch_id: str) -> tuple[str, bool, str]:
        b = await self.client.batches.retrieve(batch_id)
        counts = getattr(b, "request_counts", None)
        detail = f"{counts.completed + counts.failed}/{counts.total}" if counts else ""
        return b.status, b.status in FINISHED_OPENAI, detail

    async def results(self, batch_id: str) -> list[tuple[str, Response | None, str | None]]:
        b = await self.client.batches.retrieve(batch_id)
        out: list[tuple[str, Response | None, str | None]] = []
        for file_id in (b.output_file_id, b.error_file_id):
            if not file_id:
                continue
            content = await self.client.files.content(file_id)
            for raw in content.text.splitlines():
                if raw.strip():
                    out.append(parse_openai_line(json.loads(raw)))
        if not out and b.status != "completed":
            errors = getattr(getattr(b, "errors", None), "data", None) or []
            reason = "; ".join(getattr(e, "message", str(e)) for e in errors) or b.status
            raise GlobmedError(f"OpenAI batch {batch_id} {b.status}: {reason}")
        return out


def parse_openai_line(obj: dict[str, Any]) -> tuple[str, Response | None, str | None]:
    """(custom_id, response, error) of one line of a Batch API output or error file."""
    key = obj.get("custom_id") or ""
    resp, err = obj.get("response") or {}, obj.get("error")
    status, body = resp.get("status_code"), resp.get("body")
    if err or status != 200 or not isinstance(body, dict):
        message = (err or {}).get("message") if isinstance(err, dict) else None
        if not message and isinstance(body, dict):
            message = (body.get("error") or {}).get("message") if isinstance(body.get("error"), dict) else None
        return key, None, f"batch request failed (HTTP {status}): {message or err or 'no answer'}"
    try:
        return key, parse_completion(body), None
    except Exception as exc:  # a malformed body
        return key, None, f"batch answer unreadable: {type(exc).__name__}: {exc}"


class AnthropicBatches:
    provider = "anthropic"

    def __init__(self, backend: Backend):
        self.backend = backend
        self.client = backend._client  # type: ignore[attr-defined]

    def line(self, key: str, request: Any) -> dict[str, Any]:
        return {"custom_id": key, "params": self.backend._kwargs(request)}  # type: ignore[attr-defined]

    async def submit(self, lines: list[dict[str, Any]]) -> str:
        batch = await self.client.messages.batches.create(requests=lines)
        return batch.id

    async def status(self, batch_id: str) -> tuple[str, bool, str]:
        b = await self.client.messages.batches.retrieve(batch_id)
        c = b.request_counts
        done = c.succeeded + c.errored + c.canceled + c.expired
        return b.processing_status, b.processing_status == "ended", f"{done}/{done + c.processing}"

    async def results(self, batch_id: str) -> list[tuple[str, Response | None, str | None]]:
        out = []
        async for entry in await self.client.messages.batches.results(batch_id):
            out.append(parse_anthropic_entry(entry))
        return out


def parse_anthropic_entry(entry: Any) -> tuple[str, Response | None, str | None]:
    """(custom_id, response, error) of one MessageBatchIndividualResponse."""
    result = entry.result
    if result.type == "succeeded":
        return entry.custom_id, anthropic_response(result.message), None
    if result.type == "errored":
        err = getattr(getattr(result, "error", None), "error", None)
        return entry.custom_id, None, f"batch request errored: {getattr(err, 'message', None) or result.error}"
    return entry.custom_id, None, f"batch request {result.type}"


def provider_for(backend: Backend) -> Any:
    if backend.kind == "openai":
        return OpenAIBatches(backend)
    if backend.kind == "anthropic":
        return AnthropicBatches(backend)
    raise GlobmedError(f"--batch-api works with --backend openai or anthropic, not {backend.kind!r}")


class Ledger:
    """OUT/.cache/batches.jsonl: every submitted batch, and whether its results were collected."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def _entries(self) -> dict[str, dict[str, Any]]:
        entries: dict[str, dict[str, Any]] = {}
        if self.path.exists():
            for raw in self.path.read_text(encoding="utf-8").splitlines():
                if raw.strip():
                    try:
                        obj = json.loads(raw)
                    except json.JSONDecodeError:  # a line cut by a crash
                        continue
                    entries.setdefault(obj["id"], {}).update(obj)
        return entries

    def pending(self, provider: str) -> list[str]:
        return [i for i, e in self._entries().items() if e.get("provider") == provider and not e.get("collected")]

    def _append(self, obj: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "a", encoding="utf-8") as fh:
            fh.write(json.dumps(obj) + "\n")
            fh.flush()

    def submitted(self, provider: str, batch_id: str, n: int) -> None:
        self._append({"id": batch_id, "provider": provider, "requests": n,
                      "submitted": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")})

    def collected(self, batch_id: str, status: str, n: int) -> None:
        self._append({"id": batch_id, "collected": True, "status": status, "results": n})


class BatchCaller(StoredCaller):
    """Same interface as runner.calls.Caller; requests go out as provider batches."""

    def __init__(self, provider: Any, store: Store, ledger: Ledger, *, poll: float = 30.0, max_batch: int = 5000,
                 stats: RunStats | None = None, log: Callable[[str], None] | None = None):
        self.provider, self.store, self.ledger = provider, store, ledger
        self.poll, self.max_batch = poll, max_batch
        self.stats = stats or RunStats()
        self.log = log or (lambda msg: None)
        self.active_flows = 0  # set by the pipeline: records under way
        self.batches = 0
        self._queue: list[tuple[Any, asyncio.Future[Outcome]]] = []
        self._flushing = False
        self._task: asyncio.Task[None] | None = None

    @property
    def window(self) -> int:
        return self.max_batch

    async def send(self, job: Any) -> Outcome:
        future: asyncio.Future[Outcome] = asyncio.get_running_loop().create_future()
        self._queue.append((job, future))
        self.kick()
        return await future

    def kick(self) -> None:
        """Start a batch when every running record waits for an answer, or the queue is full."""
        if self._flushing or not self._queue:
            return
        if len(self._queue) >= self.max_batch or len(self._queue) >= self.active_flows:
            self._flushing = True
            self._task = asyncio.ensure_future(self._flush())

    async def _flush(self) -> None:
        try:
            for _ in range(3):  # let records that are about to ask join this batch
                await asyncio.sleep(0.01)
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch:]
            try:
                batch_id = await self.provider.submit([self.provider.line(job.key, job.request) for job, _ in batch])
                self.ledger.submitted(self.provider.provider, batch_id, len(batch))
                self.batches += 1
                self.log(f"submitted {self.provider.provider} batch {batch_id} ({len(batch)} requests)")
                await self.collect(batch_id)
            except Exception as exc:  # the batch could not be sent or read: every request in it fails (not stored)
                message = f"{type(exc).__name__}: {exc}"
                for job, future in batch:
                    self.store.put_error(job.key, message, None, 1)
                    if not future.done():
                        future.set_result(Outcome(None, message))
                self.stats.errors += len(batch)
                return
            for job, future in batch:
                text = self.store.get(job.key)
                if text is not None:
                    future.set_result(Outcome(Response.from_json(text)))
                else:
                    err = self.store.error(job.key)
                    future.set_result(Outcome(None, err[0] if err else "the batch returned no result for this request"))
        finally:
            self._flushing = False
            self.kick()

    async def collect(self, batch_id: str) -> int:
        """Wait for a batch to finish and put its results into the store; returns how many answered."""
        while True:
            status, finished, detail = await self.provider.status(batch_id)
            if finished:
                break
            self.log(f"batch {batch_id}: {status} {detail}")
            await asyncio.sleep(self.poll)
        answered = 0
        results = await self.provider.results(batch_id)
        for key, response, error in results:
            if response is not None:
                self.store.put(key, response.to_json())
                self.stats.done += 1
                answered += 1
            else:
                self.store.put_error(key, error or "no answer", None, 1)
                self.stats.errors += 1
        self.ledger.collected(batch_id, status, len(results))
        self.log(f"batch {batch_id} {status}: {answered} answered, {len(results) - answered} failed")
        return answered

    async def resume(self) -> None:
        """Collect batches submitted by an earlier run that stopped before collecting them."""
        for batch_id in self.ledger.pending(self.provider.provider):
            self.log(f"collecting batch {batch_id} submitted by an earlier run")
            await self.collect(batch_id)
