"""The one protocol every backend implements: chat messages in, a response out.

A backend may also score continuations (`loglik`): the log-probability of each candidate next
answer (e.g. option letters) after the prompt, and stream an answer piece by piece as it is written
(`stream`: the Space's chat). Backends raise BackendError with `retryable` set only for failures worth
retrying (408/429/5xx, timeouts, connection errors) and `kind` saying which ("timeout", "connection");
the runner does the retrying, so SDK-level retries are switched off.
"""

from __future__ import annotations

import email.utils
import json
import os
import time
from abc import ABC, abstractmethod
from dataclasses import asdict, dataclass, field
from typing import Any, AsyncIterator, Mapping

RETRYABLE_STATUS = {408, 409, 425, 429, 500, 502, 503, 504, 520, 522, 524, 529}
# Seconds one attempt may take, body included (a server that trickles its answer is cut off here), for
# chat APIs; a long reasoning answer fits, a hung server costs this much per attempt. --timeout sets it.
DEFAULT_TIMEOUT = 300.0
# The largest reply body kept: a reasoning model's 32k-token answer is ~130 KB; anything past this is an
# error, never stored (GLOBMED_MAX_RESPONSE_BYTES raises it).
MAX_RESPONSE_BYTES = int(os.environ.get("GLOBMED_MAX_RESPONSE_BYTES") or 4 * 1024 * 1024)


@dataclass(frozen=True)
class GenerationSettings:
    """Everything about generation that shapes a response (all of it goes into the store key)."""

    max_tokens: int = 512
    temperature: float | None = 0.0  # None: not sent (some reasoning models reject any temperature)
    top_p: float | None = None
    seed: int | None = None
    stop: tuple[str, ...] = ()
    reasoning_effort: str | None = None  # e.g. "minimal" for GPT-5, as in the paper
    chat_template_kwargs: Mapping[str, Any] | None = None  # e.g. {"enable_thinking": False} for Qwen3
    token_param: str = "max_tokens"  # OpenAI's newer models want "max_completion_tokens"
    extra_body: Mapping[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["stop"] = list(self.stop)
        return {k: v for k, v in data.items() if v not in (None, [], {})}


@dataclass(frozen=True)
class Request:
    messages: tuple[Mapping[str, str], ...]
    settings: GenerationSettings
    choices: tuple[str, ...] = ()  # set for log-likelihood scoring: the candidate continuations

    def payload(self) -> dict[str, Any]:
        return {"messages": [dict(m) for m in self.messages], "settings": self.settings.to_json(),
                "choices": list(self.choices)}

    @property
    def mode(self) -> str:
        return "loglik" if self.choices else "generate"


@dataclass
class Response:
    text: str | None = None
    scores: list[float] | None = None  # loglik mode: one log-probability per choice
    finish_reason: str | None = None
    tokens_in: int | None = None
    tokens_out: int | None = None
    latency: float = 0.0
    model: str | None = None  # the model name the server reported
    reasoning: str | None = None  # separate reasoning text, when the API returns it apart

    def to_json(self) -> str:
        return json.dumps(self.__dict__, ensure_ascii=False)  # flat fields: no need for asdict's deep copy

    @staticmethod
    def from_json(text: str) -> "Response":
        """A stored response; ValueError (with the reason) when it is not one this version can score."""
        try:
            data = json.loads(text)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"not JSON ({exc})") from None
        if not isinstance(data, dict):
            raise ValueError(f"a JSON {type(data).__name__}, not an object")
        unknown = sorted(set(data) - set(Response.__dataclass_fields__))
        if unknown:
            raise ValueError(f"unknown field(s) {', '.join(unknown)}")
        for name, types in _FIELD_TYPES.items():
            value = data.get(name)
            if value is not None and (not isinstance(value, types) or isinstance(value, bool)):
                raise ValueError(f"field {name!r} is a {type(value).__name__}, not {_TYPE_NAMES[name]}")
        scores = data.get("scores")
        if scores is not None and not all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in scores):
            raise ValueError("field 'scores' holds values that are not numbers")
        return Response(**data)


_FIELD_TYPES: dict[str, Any] = {"text": str, "scores": list, "finish_reason": str, "tokens_in": int, "tokens_out": int,
                                "latency": (int, float), "model": str, "reasoning": str}
_TYPE_NAMES = {"text": "text", "scores": "a list", "finish_reason": "text", "tokens_in": "an integer",
               "tokens_out": "an integer", "latency": "a number", "model": "text", "reasoning": "text"}


def text_content(value: Any, field: str = "content") -> str | None:
    """A reply's text: a string as is, a list of text parts joined (OpenAI's content parts; a refusal
    part is the model's answer too), None as None. Anything else is a BackendError naming what came."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, list):
        texts = []
        for i, part in enumerate(value):
            kind = part.get("type") if isinstance(part, dict) else None
            text = part.get("text" if kind == "text" else "refusal") if kind in ("text", "refusal") else None
            if isinstance(part, str):
                text = part
            if not isinstance(text, str):
                shown = kind if kind else type(part).__name__
                raise BackendError(f"the server returned {field} part {i} of type {shown!r}, not text; not scored")
            texts.append(text)
        return "".join(texts)
    raise BackendError(f"the server returned {field} as a {type(value).__name__} ({str(value)[:40]!r}), "
                       f"not text; not scored")


def too_large(size: int | None = None) -> BackendError:
    got = f"{size:,} bytes" if size else "more"
    return BackendError(f"the server sent {got} for one answer; the limit is {MAX_RESPONSE_BYTES:,} bytes "
                        f"(GLOBMED_MAX_RESPONSE_BYTES raises it); not stored")


def check_size(text: str | None) -> None:
    """A reply text over MAX_RESPONSE_BYTES is an error (for backends whose SDK reads the body itself)."""
    if text is not None and len(text) * 4 > MAX_RESPONSE_BYTES and len(text.encode("utf-8")) > MAX_RESPONSE_BYTES:
        raise too_large(len(text.encode("utf-8")))


class BackendError(Exception):
    """`status`: the HTTP status, when the server answered; `kind`: "timeout" (no complete answer in time) or
    "connection" (refused, reset, unreachable) when it did not."""

    def __init__(self, message: str, status: int | None = None, retryable: bool = False,
                 retry_after: float | None = None, kind: str | None = None):
        super().__init__(message)
        self.status, self.retryable, self.retry_after, self.kind = status, retryable, retry_after, kind


def transport_error(exc: BaseException, timeout: float | None = None) -> BackendError:
    """A retryable BackendError for a request that got no (complete) answer: a timeout or a connection failure."""
    if isinstance(exc, TimeoutError) or "Timeout" in type(exc).__name__:
        within = f" within {timeout:g} s (--timeout)" if timeout else ""
        return BackendError(f"TimeoutError: no complete answer{within}", retryable=True, kind="timeout")
    return BackendError(f"{type(exc).__name__}: {exc}", retryable=True, kind="connection")


def retry_after_seconds(headers: Mapping[str, str] | None) -> float | None:
    """Seconds from Retry-After (seconds or HTTP date) or retry-after-ms; None when absent."""
    if not headers:
        return None
    lower = {k.lower(): v for k, v in headers.items()}
    if "retry-after-ms" in lower:
        try:
            return float(lower["retry-after-ms"]) / 1000
        except ValueError:
            pass
    value = lower.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        parsed = email.utils.parsedate_to_datetime(value) if value else None
        return max(0.0, parsed.timestamp() - time.time()) if parsed else None


def http_error(status: int | None, message: str, headers: Mapping[str, str] | None = None) -> BackendError:
    retryable = status is None or status in RETRYABLE_STATUS or (status >= 500)
    return BackendError(f"HTTP {status}: {message}"[:500] if status else message[:500], status=status,
                        retryable=retryable, retry_after=retry_after_seconds(headers))


@dataclass
class Backend(ABC):
    """A model behind some API. Subclasses are small: see openai_compat.py for the pattern."""

    model: str
    kind: str = field(init=False, default="")
    supports_loglik: bool = field(init=False, default=False)
    default_concurrency: int | None = field(init=False, default=None)  # None: adaptive
    prefers_sorted: bool = field(init=False, default=False)  # local batching benefits from length-sorted input
    # The runner spreads a burst of sends over half a round trip (remote servers); off where requests
    # that arrive together are batched together (local models).
    paced: bool = field(init=False, default=True)

    def identity(self) -> dict[str, Any]:
        """What identifies the model behind this backend (goes into the store key and results)."""
        return {"backend": self.kind, "model": self.model}

    @abstractmethod
    async def chat(self, request: Request) -> Response: ...

    async def stream(self, request: Request) -> AsyncIterator[str]:
        """The answer's text in pieces, as the model writes it (the Space's chat). Backends whose API streams
        override it; this default yields the whole answer at once."""
        response = await self.chat(request)
        if response.text:
            yield response.text

    async def loglik(self, request: Request) -> Response:
        raise BackendError(f"the {self.kind} backend cannot score continuations; use --mode generate")

    async def aclose(self) -> None:
        return None


def split_system(messages: tuple[Mapping[str, str], ...]) -> tuple[str | None, list[dict[str, str]]]:
    """(system text, other messages): for APIs that take the system prompt apart."""
    system = "\n\n".join(m["content"] for m in messages if m["role"] == "system") or None
    return system, [dict(m) for m in messages if m["role"] != "system"]


def choice_scores(top: list[tuple[str, float]], choices: tuple[str, ...]) -> list[float]:
    """Scores per choice from a next-token top-logprobs list ("A", " A", "A." all count for "A")."""
    best = {c: float("-inf") for c in choices}
    for token, logprob in top:
        t = token.strip().rstrip(".):").strip()
        if t in best and logprob > best[t]:
            best[t] = logprob
    return [best[c] for c in choices]
