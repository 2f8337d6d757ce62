"""A loopback OpenAI-compatible server (plus Anthropic's Messages route), for tests and benchmarks.

One asyncio event loop with a minimal HTTP/1.1 keep-alive parser: no thread per request, so it
sustains hundreds of requests per second on a small machine. Routes:

    POST /v1/chat/completions   non-streaming, or `stream: true` (SSE); logprobs/top_logprobs
    POST /v1/messages           Anthropic Messages API shape, non-streaming or `stream: true` (its SSE events)
    GET  /v1/models, GET /health, GET /stats (counters as JSON)

Behaviour per server: a fixed `latency`; a `capacity` (requests served at once) beyond which it
either queues ("queue": latency grows) or answers 429 + Retry-After ("reject"); a `responder`
(messages, request json) -> text; scripted failures (`fail`) and slow prompts (`slow`); and hostile
answers on request: `content` (the message content replaced by any JSON value: a list of parts, a
number), `hang` (read the request, never answer), `trickle` (a valid answer, one byte every N s),
`huge` (an answer of N bytes, with Content-Length or chunked). Every
request is recorded in `requests` (method, path, json, headers, arrival, finished, status), and
the most requests in flight at once is kept in `max_in_flight`.

    with OpenAIServer(latency=0.2, capacity=8) as server:     # server.base_url = http://127.0.0.1:P/v1
        ...

    python -m tests.support.openai_server --port P --latency 0.2 --capacity 64 --mode queue|reject
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Callable

LETTERS = "ABCDEFGHIJ"
_OPTION = re.compile(r"^\s*([A-J])[.)]\s+(.*)$", re.M)
REASONS = {200: "OK", 400: "Bad Request", 404: "Not Found", 408: "Request Timeout", 429: "Too Many Requests",
           500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}


def default_responder(messages: list[dict[str, str]], body: dict[str, Any]) -> str:
    """The letter of the option whose text holds the word "correct", else "A"; "entailment" when the
    prompt has no lettered options (NLI). Deterministic, so outputs are reproducible."""
    prompt = messages[-1]["content"] if messages else ""
    options = _OPTION.findall(prompt)
    if not options:
        return "entailment"
    return next((letter for letter, text in options if re.search(r"\bcorrect\b", text, re.I)), "A")


def tokens(text: str) -> int:
    return len(text.split())


@dataclass
class Rule:
    """Requests whose prompt text contains `match`: the first `times` answer `status` ("drop" closes the
    connection without an answer) with an optional Retry-After; `delay` replaces the latency."""

    match: str
    status: int | str | None = None
    times: int | None = 1  # None: every matching request
    retry_after: float | None = None
    delay: float | None = None
    action: str | None = None  # content | hang | trickle | huge
    value: Any = None  # the content (content), seconds per byte (trickle), bytes (huge)
    chunked: bool = False  # huge: no Content-Length, chunked transfer


class OpenAIServer:
    def __init__(self, latency: float = 0.0, capacity: int | None = None, mode: str = "queue",
                 responder: Callable[[list[dict[str, str]], dict[str, Any]], str] | None = None,
                 retry_after: float = 1.0, model: str | None = None, port: int = 0, log: str | None = None,
                 strict_model: bool = False):
        if mode not in ("queue", "reject"):
            raise ValueError("mode must be queue or reject")
        self.latency, self.capacity, self.mode, self.retry_after = latency, capacity, mode, retry_after
        self.responder, self.model, self.port, self.log = responder or default_responder, model, port, log
        self.strict_model = strict_model  # like vLLM: 404 for a chat request naming a model it does not serve
        self.rules: list[Rule] = []
        self.requests: list[dict[str, Any]] = []
        self.in_flight = self.max_in_flight = self.active = self.max_active = self.rejected = 0
        self.url = self.base_url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._slots: asyncio.Semaphore | None = None

    # -- scripting ---------------------------------------------------------------------------------
    def fail(self, match: str, status: int | str, times: int | None = 1, retry_after: float | None = None) -> Rule:
        self.rules.append(rule := Rule(match, status, times, retry_after))
        return rule

    def slow(self, match: str, seconds: float, times: int | None = None) -> Rule:
        self.rules.append(rule := Rule(match, None, times, None, seconds))
        return rule

    def content(self, match: str, value: Any, times: int | None = None) -> Rule:
        """Answer with `value` (any JSON value) as the message content."""
        self.rules.append(rule := Rule(match, times=times, action="content", value=value))
        return rule

    def hang(self, match: str, times: int | None = None) -> Rule:
        """Read the request and never answer (the connection stays open until the server stops)."""
        self.rules.append(rule := Rule(match, times=times, action="hang"))
        return rule

    def trickle(self, match: str, seconds_per_byte: float, times: int | None = None) -> Rule:
        """Send a valid answer one byte every `seconds_per_byte` seconds."""
        self.rules.append(rule := Rule(match, times=times, action="trickle", value=seconds_per_byte))
        return rule

    def huge(self, match: str, size: int, chunked: bool = False, times: int | None = None) -> Rule:
        """Answer with a content of `size` bytes (with Content-Length, or chunked without one)."""
        self.rules.append(rule := Rule(match, times=times, action="huge", value=size, chunked=chunked))
        return rule

    def reset(self) -> None:
        self.requests.clear()
        self.rules.clear()
        self.max_in_flight, self.max_active, self.rejected = self.in_flight, self.active, 0

    def chat_requests(self) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["method"] == "POST"]

    # -- lifecycle ---------------------------------------------------------------------------------
    def start(self) -> str:
        ready = threading.Event()
        self._loop = asyncio.new_event_loop()

        def serve() -> None:
            asyncio.set_event_loop(self._loop)
            self._loop.run_until_complete(self._open())
            ready.set()
            self._loop.run_forever()

        self._thread = threading.Thread(target=serve, name="openai-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self.url

    async def _open(self) -> None:
        self._slots = asyncio.Semaphore(self.capacity) if self.capacity else None
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", self.port, backlog=1024)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = self.url + "/v1"

    def stop(self) -> None:
        if self._loop is None:
            return

        async def close() -> None:
            self._server.close()
            for task in [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]:
                task.cancel()

        asyncio.run_coroutine_threadsafe(close(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop = None

    def __enter__(self) -> "OpenAIServer":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- HTTP ----------------------------------------------------------------------------------------
    async def _connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                line, *lines = head.decode("latin-1").split("\r\n")
                method, target, _ = line.split(" ", 2)
                headers = {k.strip().lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if not await self._request(method, target.split("?")[0], headers, body, writer):
                    break
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError, asyncio.CancelledError):
            pass  # the client went away, or the server is stopping
        finally:
            writer.close()

    async def _request(self, method: str, path: str, headers: dict[str, str], body: bytes,
                       writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False when the connection must be dropped."""
        try:
            data = json.loads(body) if body else None
        except ValueError:
            data = None
        rec = {"method": method, "path": path, "json": data, "headers": headers, "arrival": time.monotonic(),
               "finished": None, "status": None}
        self.requests.append(rec)
        if method == "GET":
            routes = {"/health": {"status": "ok"}, "/v1/models": self._models(), "/stats": self.stats()}
            return await self._send(writer, rec, *((200, routes[path]) if path in routes else (404, {"error": "not found"})))
        if path not in ("/v1/chat/completions", "/v1/messages") or not isinstance(data, dict):
            return await self._send(writer, rec, 404 if isinstance(data, dict) else 400, {"error": {"message": "bad request"}})
        if self.strict_model and data.get("model") != self.model:
            return await self._send(writer, rec, 404, {"error": {"message": f"The model `{data.get('model')}` does "
                                                               "not exist.", "type": "NotFoundError", "code": 404}})
        messages = _messages(data, anthropic=path == "/v1/messages")
        text = "\n".join(m["content"] for m in messages)
        delay, hostile = self.latency, None
        for rule in self.rules:
            if rule.match in text and (rule.times is None or rule.times > 0):
                if rule.times is not None:
                    rule.times -= 1
                if rule.action is not None:
                    hostile = hostile or rule
                    continue
                if rule.status == "drop":
                    rec["finished"], rec["status"] = time.monotonic(), "drop"
                    return False
                if rule.status is not None:
                    extra = {"Retry-After": _num(rule.retry_after)} if rule.retry_after is not None else {}
                    return await self._send(writer, rec, int(rule.status), _error(int(rule.status)), extra)
                delay = rule.delay if rule.delay is not None else delay
        if self.mode == "reject" and self.capacity and self.active >= self.capacity:
            self.rejected += 1
            rec["concurrent"] = self.active + 1
            return await self._send(writer, rec, 429, _error(429), {"Retry-After": _num(self.retry_after)})
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        rec["concurrent"] = self.in_flight
        try:
            if self._slots is not None:
                await self._slots.acquire()
            self.active += 1
            self.max_active = max(self.max_active, self.active)
            try:
                await asyncio.sleep(delay)
                answer = self.responder(messages, data)
            finally:
                self.active -= 1
                if self._slots is not None:
                    self._slots.release()
            if hostile is not None:
                return await self._hostile(writer, rec, hostile, _completion(data, messages, answer))
            if path == "/v1/messages":
                if data.get("stream"):
                    return await self._events(writer, rec, _anthropic_events(_anthropic(data, messages, answer)))
                return await self._send(writer, rec, 200, _anthropic(data, messages, answer))
            if data.get("stream"):
                return await self._stream(writer, rec, data, messages, answer)
            return await self._send(writer, rec, 200, _completion(data, messages, answer))
        finally:
            self.in_flight -= 1

    def _models(self) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model or "scripted", "object": "model", "created": 0,
                                            "owned_by": "tests"}]}

    def stats(self) -> dict[str, Any]:
        return {"requests": len(self.requests), "in_flight": self.in_flight, "max_in_flight": self.max_in_flight,
                "max_active": self.max_active, "rejected": self.rejected}

    async def _send(self, writer: asyncio.StreamWriter, rec: dict[str, Any], status: int, payload: Any,
                    extra: dict[str, str] | None = None) -> bool:
        body = json.dumps(payload).encode()
        head = {"Content-Type": "application/json", "Content-Length": str(len(body)), **(extra or {})}
        self._done(rec, status)  # before the client can see the answer: tests read the log right after
        writer.write(_head(status, head) + body)
        await writer.drain()
        return True

    async def _hostile(self, writer: asyncio.StreamWriter, rec: dict[str, Any], rule: Rule,
                       completion: dict[str, Any]) -> bool:
        rec["hostile"] = rule.action
        if rule.action == "hang":
            await asyncio.Event().wait()  # until the server stops (the task is cancelled)
        if rule.action == "content":
            completion["choices"][0]["message"]["content"] = rule.value
            return await self._send(writer, rec, 200, completion)
        if rule.action == "huge":
            completion["choices"][0]["message"]["content"] = "A" * int(rule.value)
            body = json.dumps(completion).encode()
            if not rule.chunked:
                return await self._send(writer, rec, 200, completion)
            writer.write(_head(200, {"Content-Type": "application/json", "Transfer-Encoding": "chunked"}))
            self._done(rec, 200)
            for i in range(0, len(body), 1 << 20):
                piece = body[i:i + (1 << 20)]
                writer.write(b"%x\r\n%s\r\n" % (len(piece), piece))
                await writer.drain()
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        # trickle: headers at once, then the body one byte at a time
        body = json.dumps(completion).encode()
        writer.write(_head(200, {"Content-Type": "application/json", "Content-Length": str(len(body))}))
        await writer.drain()
        for i in range(len(body)):
            await asyncio.sleep(float(rule.value))
            writer.write(body[i:i + 1])
            await writer.drain()
            rec["sent_bytes"] = i + 1
        self._done(rec, 200)
        return True

    async def _stream(self, writer: asyncio.StreamWriter, rec: dict[str, Any], data: dict[str, Any],
                      messages: list[dict[str, str]], answer: str) -> bool:
        full = _completion(data, messages, answer)
        base = {k: full[k] for k in ("id", "created", "model")} | {"object": "chat.completion.chunk"}
        pieces = re.findall(r"\S+\s*|\s+", full["choices"][0]["message"]["content"]) or [""]
        events = [{**base, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}]
        events += [{**base, "choices": [{"index": 0, "delta": {"content": p}, "finish_reason": None}]} for p in pieces]
        events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": full["choices"][0]["finish_reason"]}],
                       "usage": full["usage"]})
        return await self._events(writer, rec, [f"data: {json.dumps(e)}\n\n" for e in events] + ["data: [DONE]\n\n"])

    async def _events(self, writer: asyncio.StreamWriter, rec: dict[str, Any], events: list[str]) -> bool:
        """Server-sent events, one chunk each."""
        writer.write(_head(200, {"Content-Type": "text/event-stream", "Transfer-Encoding": "chunked"}))
        for event in events:
            chunk = event.encode()
            writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        self._done(rec, 200)
        writer.write(b"0\r\n\r\n")
        await writer.drain()
        return True

    def _done(self, rec: dict[str, Any], status: int) -> None:
        rec["finished"], rec["status"] = time.monotonic(), status
        if self.log:
            with open(self.log, "a", encoding="utf-8") as fh:
                fh.write(json.dumps({k: v for k, v in rec.items() if k != "headers"}) + "\n")


def _num(x: float) -> str:
    return str(int(x)) if float(x).is_integer() else f"{x:g}"


def _head(status: int, headers: dict[str, str]) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Status')}", "Connection: keep-alive"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def _error(status: int) -> dict[str, Any]:
    return {"type": "error", "error": {"message": f"scripted {status}", "type": "scripted_error", "code": status}}


def _messages(data: dict[str, Any], anthropic: bool) -> list[dict[str, str]]:
    def text(content: Any) -> str:
        if isinstance(content, list):
            return "".join(b.get("text", "") for b in content if isinstance(b, dict))
        return str(content or "")

    messages = [{"role": m.get("role", "user"), "content": text(m.get("content"))} for m in data.get("messages") or []]
    if anthropic and data.get("system"):
        messages.insert(0, {"role": "system", "content": text(data["system"])})
    return messages


def _limit(data: dict[str, Any], answer: str) -> tuple[str, str]:
    """Cut the answer to max_tokens whitespace tokens: (text, finish_reason)."""
    cap = data.get("max_completion_tokens") or data.get("max_tokens")
    words = re.findall(r"\S+\s*", answer)
    if cap is not None and len(words) > int(cap):
        return "".join(words[: int(cap)]).rstrip(), "length"
    return answer, "stop"


def _completion(data: dict[str, Any], messages: list[dict[str, str]], answer: str) -> dict[str, Any]:
    text, finish = _limit(data, answer)
    choice: dict[str, Any] = {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish,
                              "logprobs": None}
    if data.get("logprobs"):
        choice["logprobs"] = {"content": [_logprobs(text, int(data.get("top_logprobs") or 0))]}
    n_in, n_out = sum(tokens(m["content"]) for m in messages), tokens(text)
    return {"id": f"chatcmpl-{abs(hash(text)) % 10**8}", "object": "chat.completion", "created": int(time.time()),
            "model": data.get("model") or "scripted", "choices": [choice],
            "usage": {"prompt_tokens": n_in, "completion_tokens": n_out, "total_tokens": n_in + n_out}}


def _logprobs(text: str, k: int) -> dict[str, Any]:
    """Next-token log-probabilities over the letters A-J: the answer's letter first (-0.05), then the
    others in alphabetical order, each 0.5 lower. Deterministic."""
    first = text.strip()[:1]
    best = first if first in LETTERS else "A"
    order = [best] + [c for c in LETTERS if c != best]
    top = [{"token": c, "logprob": -0.05 - 0.5 * i, "bytes": list(c.encode())} for i, c in enumerate(order)]
    return {"token": best, "logprob": top[0]["logprob"], "bytes": list(best.encode()), "top_logprobs": top[:k]}


def _anthropic(data: dict[str, Any], messages: list[dict[str, str]], answer: str) -> dict[str, Any]:
    text, finish = _limit(data, answer)
    return {"id": "msg_scripted", "type": "message", "role": "assistant", "model": data.get("model") or "scripted",
            "content": [{"type": "text", "text": text}], "stop_reason": "end_turn" if finish == "stop" else "max_tokens",
            "stop_sequence": None,
            "usage": {"input_tokens": sum(tokens(m["content"]) for m in messages), "output_tokens": tokens(text)}}


def _anthropic_events(message: dict[str, Any]) -> list[str]:
    """The Messages API's stream of a message: start, one text block in word-sized deltas, stop."""
    text = message["content"][0]["text"]
    start = {**message, "content": [], "stop_reason": None, "usage": {**message["usage"], "output_tokens": 0}}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}}]
    events += [{"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": piece}}
               for piece in re.findall(r"\S+\s*|\s+", text)]
    events += [{"type": "content_block_stop", "index": 0},
               {"type": "message_delta", "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                "usage": {"output_tokens": message["usage"]["output_tokens"]}},
               {"type": "message_stop"}]
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events]


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve a scripted OpenAI-compatible API on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.0)
    parser.add_argument("--capacity", type=int, default=None)
    parser.add_argument("--mode", choices=("queue", "reject"), default="queue")
    parser.add_argument("--retry-after", type=float, default=1.0)
    parser.add_argument("--log", default=None, help="append each answered request as a JSON line to this file")
    args = parser.parse_args()
    server = OpenAIServer(args.latency, args.capacity, args.mode, retry_after=args.retry_after, port=args.port,
                          log=args.log)
    print(f"serving {server.start()}/v1", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
