"""Anthropic's Messages API (Claude models), through the official SDK (`stream`: its message stream)."""

from __future__ import annotations

import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator, Iterator

from ..urls import public_url
from .base import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    Backend,
    BackendError,
    Request,
    Response,
    check_size,
    http_error,
    split_system,
    too_large,
    transport_error,
)


@dataclass
class AnthropicBackend(Backend):
    base_url: str | None = None
    api_key_env: str = "ANTHROPIC_API_KEY"
    timeout: float = DEFAULT_TIMEOUT
    thinking_budget: int | None = None  # extended thinking tokens; None: off
    api_key: str | None = field(default=None, repr=False, metadata={"secret": True})  # the key itself (see __init__)
    _client: Any = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.kind = "anthropic"
        key = self.api_key or os.environ.get(self.api_key_env)
        if not key:
            raise BackendError(f"set {self.api_key_env} (or name another variable with --api-key-env)")
        from anthropic import AsyncAnthropic

        self._client = AsyncAnthropic(api_key=key, base_url=self.base_url, max_retries=0, timeout=self.timeout)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "base_url": public_url(self.base_url or "https://api.anthropic.com"),
                "thinking_budget": self.thinking_budget}

    def _kwargs(self, request: Request) -> dict[str, Any]:
        """The Messages API parameters of a request (also the `params` of a Message Batches request)."""
        s = request.settings
        system, messages = split_system(request.messages)
        kwargs: dict[str, Any] = {"model": self.model, "messages": messages, "max_tokens": s.max_tokens}
        if system:
            kwargs["system"] = system
        # anthropic>=1.0 dropped the sampling keyword arguments; the API still takes them in the body.
        sampling: dict[str, Any] = {}
        if self.thinking_budget:
            kwargs["thinking"] = {"type": "enabled", "budget_tokens": self.thinking_budget}
        elif s.temperature is not None:
            sampling["temperature"] = s.temperature
        if s.top_p is not None and not self.thinking_budget:
            sampling["top_p"] = s.top_p
        if sampling:
            kwargs["extra_body"] = sampling
        if s.stop:
            kwargs["stop_sequences"] = list(s.stop)
        return kwargs

    @contextmanager
    def _errors(self) -> Iterator[None]:
        import anthropic

        try:
            yield
        except anthropic.APIStatusError as exc:
            raise http_error(exc.status_code, str(exc.message), exc.response.headers) from None
        except (anthropic.APITimeoutError, anthropic.APIConnectionError) as exc:
            raise transport_error(exc, self.timeout) from None

    async def chat(self, request: Request) -> Response:
        kwargs = self._kwargs(request)
        start = time.perf_counter()
        with self._errors():
            out = await self._client.messages.create(**kwargs)
        text = "".join(b.text for b in out.content if getattr(b, "type", "") == "text")
        thinking = "".join(getattr(b, "thinking", "") for b in out.content if getattr(b, "type", "") == "thinking")
        check_size(text + thinking)
        return Response(text=text, finish_reason=out.stop_reason, tokens_in=out.usage.input_tokens,
                        tokens_out=out.usage.output_tokens, latency=time.perf_counter() - start, model=out.model,
                        reasoning=thinking or None)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        size = 0
        with self._errors():
            async with self._client.messages.stream(**self._kwargs(request)) as events:
                async for piece in events.text_stream:  # the answer's text; thinking is not shown
                    size += len(piece.encode("utf-8"))
                    if size > MAX_RESPONSE_BYTES:
                        raise too_large()
                    yield piece

    async def aclose(self) -> None:
        await self._client.close()
