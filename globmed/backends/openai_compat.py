"""Any OpenAI-compatible chat-completions server: OpenAI, TGI's Messages API, vLLM, SGLang,
`transformers serve`, and providers with OpenAI-compatible routes (via --base-url).

Requests go straight over aiohttp: the route is one JSON POST, and the openai SDK's layers (request
transforms, httpx, pydantic response models) cost ~1.2 ms of CPU per call against ~0.35 ms here. On a
2-core machine that is the difference between ~84% and ~96% of a 320 req/s server's capacity
(benchmarks/bench_endpoint.py). The SDK client is still available (`sdk`) for the Batch API.
`stream` reads the same route's server-sent events (`"stream": true`) for the Space's chat.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import os
import time
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Mapping
from urllib.parse import urlsplit

from ..urls import public_url
from .base import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    Backend,
    BackendError,
    Request,
    Response,
    choice_scores,
    http_error,
    text_content,
    too_large,
    transport_error,
)

OPENAI_URL = "https://api.openai.com/v1"


def parse_completion(body: Mapping[str, Any], latency: float = 0.0) -> Response:
    """A Response from a chat-completion JSON body (direct calls and Batch API output alike)."""
    choices = body.get("choices") or []
    if not choices:
        raise BackendError("the server returned no choices", retryable=True)
    choice, usage = choices[0], body.get("usage") or {}
    if not isinstance(choice, dict) or not isinstance(usage, dict):
        raise BackendError("the server returned a malformed completion (choices[0] or usage is not an object)")
    message = choice.get("message") or {}
    if not isinstance(message, dict):
        raise BackendError(f"the server returned a message that is a {type(message).__name__}, not an object")
    reasoning = text_content(message.get("reasoning_content") or message.get("reasoning"), "reasoning")
    return Response(text=text_content(message.get("content")) or "", finish_reason=_str(choice.get("finish_reason")),
                    tokens_in=_int(usage.get("prompt_tokens")), tokens_out=_int(usage.get("completion_tokens")),
                    latency=latency, model=_str(body.get("model")), reasoning=reasoning or None)


def _str(value: Any) -> str | None:
    return None if value is None else str(value)


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


@dataclass
class OpenAIBackend(Backend):
    base_url: str | None = None
    api_key_env: str | None = None  # default: OPENAI_API_KEY for api.openai.com; none for --base-url servers
    timeout: float = DEFAULT_TIMEOUT
    revision: str | None = None
    top_logprobs: int = 20
    api_key: str | None = field(default=None, repr=False, metadata={"secret": True})  # the key itself (see __init__)
    _session: Any = field(init=False, default=None, repr=False)
    _sdk: Any = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.kind = "openai"
        self.supports_loglik = True  # via next-token top_logprobs, where the server returns them
        # Never send OPENAI_API_KEY to some other server unless the user names it for that server.
        env = self.api_key_env or (None if self.base_url else "OPENAI_API_KEY")
        self._key = self.api_key or (os.environ.get(env) if env else "EMPTY")  # self-hosted servers accept any key
        if not self._key:
            raise BackendError(f"set {env} (or name another variable with --api-key-env)")
        self._url = (self.base_url or OPENAI_URL).rstrip("/") + "/chat/completions"
        # user:password@ in the URL is sent as HTTP Basic auth (it cannot go with a Bearer key in one header)
        self._basic_auth = "@" in urlsplit(self._url).netloc
        if self._basic_auth and (self.api_key_env or self.api_key):
            raise BackendError("give the server's credentials either in --base-url (user:password@) or with "
                               "--api-key-env, not both")
        importlib.import_module("aiohttp")  # ~0.13 s: paid while setting up, not on the first request

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "base_url": public_url(self.base_url or OPENAI_URL), "revision": self.revision}

    @property
    def sdk(self) -> Any:
        """The official async client, for the Batch API (files + batches)."""
        if self._sdk is None:
            import openai

            self._sdk = openai.AsyncOpenAI(api_key=self._key, base_url=self.base_url, max_retries=0, timeout=self.timeout)
        return self._sdk

    def body(self, request: Request) -> dict[str, Any]:
        """The JSON body of a chat-completions request (also a Batch API line's body)."""
        s = request.settings
        body: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in request.messages],
                                s.token_param: s.max_tokens}
        for name in ("temperature", "top_p", "seed", "reasoning_effort"):
            if getattr(s, name) is not None:
                body[name] = getattr(s, name)
        if s.stop:  # some servers reject "stop": []
            body["stop"] = list(s.stop)
        body.update(s.extra_body or {})
        if s.chat_template_kwargs:
            body["chat_template_kwargs"] = dict(s.chat_template_kwargs)
        return body

    def _client(self) -> Any:
        import aiohttp

        if self._session is None:  # created in the running loop; our window bounds concurrency, not aiohttp
            # trust_env: HTTP(S)_PROXY / NO_PROXY (and ~/.netrc) apply, as they do for the openai SDK (httpx)
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0), timeout=aiohttp.ClientTimeout(total=self.timeout),
                headers={"Content-Type": "application/json",
                         **({} if self._basic_auth else {"Authorization": f"Bearer {self._key}"})},
                trust_env=True)
        return self._session

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        import aiohttp

        session = self._client()
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        try:
            async with session.post(self._url, data=data) as resp:
                raw = await _read_capped(resp)
                if resp.status >= 400:
                    raise http_error(resp.status, _error_message(raw), resp.headers)
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as exc:
            raise transport_error(exc, self.timeout) from None
        return _json_object(raw)

    async def chat(self, request: Request) -> Response:
        start = time.perf_counter()
        out = await self._post(self.body(request))
        return parse_completion(out, time.perf_counter() - start)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The answer's text from the route's server-sent events. `timeout` bounds the wait for each read
        (an answer may stream for longer than that in all); the events together are capped like a reply."""
        import aiohttp

        session = self._client()
        data = json.dumps({**self.body(request), "stream": True}, ensure_ascii=False).encode("utf-8")
        per_read = aiohttp.ClientTimeout(total=None, sock_connect=self.timeout, sock_read=self.timeout)
        try:
            async with session.post(self._url, data=data, timeout=per_read) as resp:
                if resp.status >= 400:
                    raise http_error(resp.status, _error_message(await _read_capped(resp)), resp.headers)
                if resp.content_type != "text/event-stream":  # a server that does not stream: the whole answer
                    yield parse_completion(_json_object(await _read_capped(resp))).text or ""
                    return
                size = 0
                async for line in resp.content:
                    size += len(line)
                    if size > MAX_RESPONSE_BYTES:
                        raise too_large()
                    piece = _event_text(line)
                    if piece is None:
                        return
                    if piece:
                        yield piece
        except (aiohttp.ClientConnectionError, aiohttp.ClientPayloadError, asyncio.TimeoutError) as exc:
            raise transport_error(exc, self.timeout) from None
        except ValueError as exc:  # a line longer than aiohttp's buffer
            raise BackendError(f"the server sent a malformed event stream ({exc})") from None

    async def loglik(self, request: Request) -> Response:
        start = time.perf_counter()
        body = self.body(request)
        body.update({request.settings.token_param: 1, "logprobs": True, "top_logprobs": self.top_logprobs,
                     "temperature": 0.0})
        out = await self._post(body)
        choices = out.get("choices") or [{}]
        content = ((choices[0].get("logprobs") or {}).get("content")) or []
        if not content:
            raise BackendError("the server returned no logprobs; use --mode generate with this server")
        first = content[0]
        top = [(t["token"], t["logprob"]) for t in first.get("top_logprobs") or []] or [(first["token"], first["logprob"])]
        usage = out.get("usage") or {}
        return Response(scores=choice_scores(top, request.choices), finish_reason="loglik",
                        tokens_in=_int(usage.get("prompt_tokens")) if isinstance(usage, dict) else None, tokens_out=1,
                        latency=time.perf_counter() - start, model=_str(out.get("model")))

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None
        if self._sdk is not None:
            await self._sdk.close()


async def _read_capped(resp: Any) -> bytes:
    """The body, or a BackendError as soon as it grows past MAX_RESPONSE_BYTES (never held whole)."""
    if resp.content_length is not None and resp.content_length > MAX_RESPONSE_BYTES:
        raise too_large(resp.content_length)
    chunks, size = [], 0
    async for chunk in resp.content.iter_chunked(1 << 16):
        size += len(chunk)
        if size > MAX_RESPONSE_BYTES:
            raise too_large()
        chunks.append(chunk)
    return b"".join(chunks)


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        out = json.loads(raw)
    except ValueError:
        raise BackendError(f"the server sent a body that is not JSON: {raw[:200]!r}", retryable=True) from None
    if not isinstance(out, dict):
        raise BackendError(f"the server sent a JSON {type(out).__name__}, not an object", retryable=True)
    return out


def _event_text(line: bytes) -> str | None:
    """The text a server-sent event line adds ("" for none: comments, role-only deltas, usage); None at
    `data: [DONE]`. An error event raises BackendError."""
    line = line.strip()
    if not line.startswith(b"data:"):
        return ""
    data = line[5:].strip()
    if data == b"[DONE]":
        return None
    try:
        event = json.loads(data)
    except ValueError:
        raise BackendError(f"the server sent a stream event that is not JSON: {data[:200]!r}") from None
    if not isinstance(event, dict):
        raise BackendError(f"the server sent a stream event that is a JSON {type(event).__name__}, not an object")
    if event.get("error"):
        error = event["error"]
        message = error.get("message") if isinstance(error, dict) else str(error)
        raise BackendError(f"the server reported an error mid-stream: {str(message)[:300]}")
    choices = event.get("choices") or []
    delta = choices[0].get("delta") if choices and isinstance(choices[0], dict) else None
    return (text_content(delta.get("content")) or "") if isinstance(delta, dict) else ""


def _error_message(raw: bytes) -> str:
    try:
        err = json.loads(raw).get("error")
        return (err.get("message") if isinstance(err, dict) else str(err)) or raw.decode("utf-8", "replace")
    except (ValueError, AttributeError):
        return raw.decode("utf-8", "replace")[:300]
