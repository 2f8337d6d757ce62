"""Text Generation Inference, through huggingface_hub's AsyncInferenceClient (TGI's Messages API).
Inference Endpoints (vLLM or TGI) are the `endpoint` backend (endpoint.py)."""

from __future__ import annotations

import time
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, AsyncIterator

from ..urls import hf_token_allowed, public_url
from .base import (
    DEFAULT_TIMEOUT,
    MAX_RESPONSE_BYTES,
    Backend,
    BackendError,
    Request,
    Response,
    check_size,
    choice_scores,
    http_error,
    text_content,
    too_large,
    transport_error,
)

NO_TOKEN = "EMPTY"  # what self-hosted servers get instead of a token (they accept any)
# The HTTP library's failures to get an answer (httpx's TransportError: connect/read errors and timeouts)
_TRANSPORT = {"TransportError", "TimeoutException", "InferenceTimeoutError"}


@dataclass
class TGIBackend(Backend):
    base_url: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    revision: str | None = None
    api_key: str | None = field(default=None, repr=False, metadata={"secret": True})  # the key itself (see __init__)
    _client: Any = field(init=False, default=None, repr=False)

    def __post_init__(self) -> None:
        self.kind = "tgi"
        self.supports_loglik = True  # next-token top_logprobs from the Messages API
        if not self.base_url:
            raise BackendError("the tgi backend needs --base-url (the TGI server's URL)")
        self._client = self._make_client(self.base_url)

    def _make_client(self, url: str) -> Any:
        from huggingface_hub import AsyncInferenceClient

        # The machine's HF token goes only over https to Hugging Face hosts and Inference Endpoints. With
        # token=None (or "") huggingface_hub sends it to ANY URL, so elsewhere a placeholder goes instead.
        # A key given to this backend is the caller's, for this URL.
        token = self.api_key or (None if hf_token_allowed(url) else NO_TOKEN)
        return AsyncInferenceClient(base_url=url, timeout=self.timeout, token=token)

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "base_url": public_url(self.base_url), "revision": self.revision}

    def _kwargs(self, request: Request) -> dict[str, Any]:
        s = request.settings
        # The payload's model: TGI ignores it, but other servers behind this client (transformers serve,
        # vLLM) require it to name the served model.
        kwargs: dict[str, Any] = {"model": self.model, "messages": [dict(m) for m in request.messages],
                                  "max_tokens": s.max_tokens}
        if s.temperature is not None:
            kwargs["temperature"] = s.temperature
        if s.top_p is not None:
            kwargs["top_p"] = s.top_p
        if s.seed is not None:
            kwargs["seed"] = s.seed
        if s.stop:
            kwargs["stop"] = list(s.stop)
        extra = dict(s.extra_body or {})
        if s.chat_template_kwargs:
            extra["chat_template_kwargs"] = dict(s.chat_template_kwargs)
        if extra:
            kwargs["extra_body"] = extra
        return kwargs

    @asynccontextmanager
    async def _errors(self) -> AsyncIterator[None]:
        """The client's failures as BackendErrors: HTTP statuses, and transport failures (its HTTP library's
        are matched by name: huggingface_hub vendors it under another module name)."""
        from huggingface_hub.errors import HfHubHTTPError

        try:
            yield
        except HfHubHTTPError as exc:
            resp = exc.response
            raise http_error(resp.status_code if resp is not None else None, str(exc),
                             resp.headers if resp is not None else None) from None
        except Exception as exc:
            if isinstance(exc, (TimeoutError, ConnectionError, OSError)) or _TRANSPORT & {
                    c.__name__ for c in type(exc).__mro__}:
                raise transport_error(exc, self.timeout) from None
            raise

    async def _call(self, **kwargs: Any) -> Any:
        async with self._errors():
            return await self._client.chat_completion(**kwargs)

    async def stream(self, request: Request) -> AsyncIterator[str]:
        size = 0
        async with self._errors():
            async for chunk in await self._client.chat_completion(**self._kwargs(request), stream=True):
                delta = chunk.choices[0].delta if chunk.choices else None
                piece = text_content(getattr(delta, "content", None)) or ""
                size += len(piece.encode("utf-8"))
                if size > MAX_RESPONSE_BYTES:
                    raise too_large()
                if piece:
                    yield piece

    async def chat(self, request: Request) -> Response:
        start = time.perf_counter()
        out = await self._call(**self._kwargs(request))
        choice = out.choices[0]
        usage = out.usage
        text = text_content(choice.message.content) or ""
        reasoning = text_content(getattr(choice.message, "reasoning_content", None), "reasoning")
        check_size(text + (reasoning or ""))
        return Response(text=text, finish_reason=choice.finish_reason,
                        tokens_in=getattr(usage, "prompt_tokens", None),
                        tokens_out=getattr(usage, "completion_tokens", None),
                        latency=time.perf_counter() - start, model=getattr(out, "model", None),
                        reasoning=reasoning or None)

    async def loglik(self, request: Request) -> Response:
        start = time.perf_counter()
        kwargs = self._kwargs(request)
        kwargs.update(max_tokens=1, temperature=0.0, logprobs=True, top_logprobs=5)
        out = await self._call(**kwargs)
        logprobs = out.choices[0].logprobs
        content = getattr(logprobs, "content", None) if logprobs else None
        if not content:
            raise BackendError("the server returned no logprobs; use --mode generate")
        top = [(t.token, t.logprob) for t in (content[0].top_logprobs or [])] or [(content[0].token, content[0].logprob)]
        return Response(scores=choice_scores(top, request.choices), finish_reason="loglik", tokens_out=1,
                        latency=time.perf_counter() - start)

    async def aclose(self) -> None:
        close = getattr(self._client, "close", None)
        if close:
            await close()
