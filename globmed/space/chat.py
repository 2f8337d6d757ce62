"""The Demo tab's chat: a model behind an OpenAI-compatible URL, a TGI server, an Inference Endpoint, a
local transformers model or Anthropic's API, streamed through globmed.backends (each backend's `stream`),
with the target-language system prompt from the language tables.

Configured by the Space's variables/secrets (never shown in the UI):

    GLOBMED_DEMO_BACKEND   openai (default) | tgi | endpoint | transformers | anthropic
    GLOBMED_DEMO_URL       the server's URL (openai: with or without /v1; tgi: its root URL;
                           endpoint: optional, looked up by name otherwise; anthropic: optional)
    GLOBMED_DEMO_MODEL     the model name sent to the server, the Inference Endpoint's name ("name" or
                           "namespace/name") for the endpoint backend (the name it serves is read from
                           its /v1/models), or a local folder / Hub id for transformers
    GLOBMED_DEMO_API_KEY   secret: the API key (else HF_TOKEN, which is only ever sent over https to
                           huggingface.co, *.huggingface.co or an Inference Endpoint's
                           *.endpoints.huggingface.cloud URL: globmed.urls.hf_token_allowed)
    GLOBMED_DEMO_MAX_TOKENS  answer length cap (default 512)
    GLOBMED_DEMO_TEMPERATURE sampling temperature (default 0.7)
    GLOBMED_DEMO_EXTRA_BODY  JSON merged into each request body (OpenAI-compatible and TGI servers), e.g.
                           {"generation_config": "{\"do_sample\": true}"} for `transformers serve`

Failures never surface as stack traces: an endpoint that is asleep (503, scaled to zero), waking,
paused, unreachable or failing gives a short message in the chat.

Model output is made inert before it is shown (`inert`): Markdown images and raw HTML tags are shown as
text, so an answer cannot make the visitor's browser fetch anything (the page's Content-Security-Policy
also allows images only from the Space itself).

The backends are imported on the first message, not with the Space (its import stays light).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import threading
from dataclasses import dataclass, field
from typing import Any, Iterator
from urllib.parse import urlsplit

from .. import languages
from ..urls import hf_token_allowed

BACKENDS = ("openai", "tgi", "endpoint", "transformers", "anthropic")
MAX_INPUT = 4000  # characters per message
MAX_HISTORY = 12  # messages of history sent along
MAX_CONTEXT = 16000  # characters of history sent along

NOT_CONFIGURED = ("No model is configured for this demo. The Space owner can set the GLOBMED_DEMO_URL, "
                  "GLOBMED_DEMO_MODEL and GLOBMED_DEMO_BACKEND variables (and a token secret) to enable it.")
ASLEEP = ("The model endpoint is asleep (scaled to zero when idle) or still starting up. This request has woken "
          "it: please try again in a minute or two.")
WAKING = "The model endpoint is starting up. Please try again in a minute or two."
PAUSED = "The model endpoint is paused by its owner and cannot answer right now."
UNREACHABLE = ("The model server cannot be reached right now (connection refused or no route). It may be down "
               "or not started yet; please try again later.")
TIMEOUT = "The model server did not answer in time. It may be waking up; please try again in a minute."
DENIED = "The model server refused this Space's credentials. The Space owner needs to check the token secret."
NOT_FOUND = "The model server does not know the configured model or route. The Space owner needs to check the demo settings."
BUSY = "The model server is busy right now (rate limited). Please try again shortly."
REJECTED = "The model server rejected the request (HTTP {status}), e.g. because the conversation is too long. Start a new chat."
FAILED = "The model server failed (HTTP {status}). Please try again later."
BROKEN = "The model server failed ({kind}). Please try again later."
MISCONFIGURED = ("The demo's model settings are incomplete or wrong (e.g. a missing key or token, or an unknown "
                 "model). The Space owner needs to check them.")
EMPTY = "(The model returned an empty answer.)"
TOO_LONG = "Your message is too long ({n} characters; the limit is {limit}). Please shorten it."


@dataclass
class ChatConfig:
    url: str | None = None
    model: str | None = None
    backend: str = "openai"
    api_key: str | None = field(default=None, repr=False)
    hf_token: str | None = field(default=None, repr=False)
    max_tokens: int = 512
    temperature: float | None = 0.7
    extra_body: dict[str, Any] | None = None
    timeout: float = 60.0

    @classmethod
    def from_env(cls, env: dict[str, str] | None = None, **overrides: Any) -> "ChatConfig":
        env = dict(os.environ if env is None else env)
        try:
            max_tokens = int(env.get("GLOBMED_DEMO_MAX_TOKENS") or 512)
        except ValueError:
            max_tokens = 512
        try:
            temperature: float | None = float(env.get("GLOBMED_DEMO_TEMPERATURE") or 0.7)
        except ValueError:
            temperature = 0.7
        try:
            extra = json.loads(env["GLOBMED_DEMO_EXTRA_BODY"]) if env.get("GLOBMED_DEMO_EXTRA_BODY") else None
        except ValueError:
            extra = None
        values: dict[str, Any] = {
            "url": env.get("GLOBMED_DEMO_URL") or None, "model": env.get("GLOBMED_DEMO_MODEL") or None,
            "backend": (env.get("GLOBMED_DEMO_BACKEND") or "openai").strip().lower(),
            "api_key": env.get("GLOBMED_DEMO_API_KEY") or None,
            "hf_token": env.get("HF_TOKEN") or env.get("HUGGING_FACE_HUB_TOKEN") or None,
            "max_tokens": max(1, min(max_tokens, 8192)), "temperature": temperature,
            "extra_body": extra if isinstance(extra, dict) else None,
        }
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    @property
    def configured(self) -> bool:
        if self.backend not in BACKENDS:
            return False
        if self.backend == "endpoint":
            return bool(self.model or self.url)
        if self.backend in ("transformers", "anthropic"):
            return bool(self.model)
        return bool(self.url) and (self.backend != "openai" or bool(self.model))

    def token_for(self, url: str | None) -> str | None:
        """GLOBMED_DEMO_API_KEY (the owner's key for their server), else HF_TOKEN but only over https to
        Hugging Face itself (globmed.urls.hf_token_allowed), whatever the backend."""
        if self.api_key:
            return self.api_key
        return self.hf_token if hf_token_allowed(url) else None


def language_choices() -> list[tuple[str, str]]:
    return [(f"{lang.native_name} ({lang.code})" + (" ◆" if lang.low_resource else ""), lang.code)
            for lang in languages.all_languages()]


def disclaimer(code: str) -> str:
    """The medical disclaimer in the chosen language (English when a table has none)."""
    lang = _language(code)
    return lang.disclaimer or languages.get("en").disclaimer


def _language(code: str) -> Any:
    return languages.get(code if code in languages.codes() else "en")


def build_messages(message: str, history: list[Any] | None, code: str) -> list[dict[str, str]]:
    """System prompt of the language, the recent history (bounded), then the message."""
    turns: list[dict[str, str]] = []
    for item in history or []:
        role = item.get("role") if isinstance(item, dict) else None
        content = item.get("content") if isinstance(item, dict) else None
        if role in ("user", "assistant") and isinstance(content, str) and content:
            turns.append({"role": role, "content": content[:MAX_INPUT * 2]})
    turns = turns[-MAX_HISTORY:]
    while turns and sum(len(t["content"]) for t in turns) > MAX_CONTEXT:
        turns.pop(0)
    while turns and turns[0]["role"] != "user":
        turns.pop(0)
    return [{"role": "system", "content": _language(code).system}, *turns, {"role": "user", "content": message}]


def reply(config: ChatConfig, message: Any, history: list[Any] | None, code: str) -> Iterator[str]:
    """Stream the answer (each yield is the text so far), or one clear message when it cannot."""
    text = message if isinstance(message, str) else (message or {}).get("text", "") if isinstance(message, dict) else ""
    if len(text) > MAX_INPUT:
        yield TOO_LONG.format(n=len(text), limit=MAX_INPUT)
        return
    if not text.strip():
        return
    if not config.configured:
        yield NOT_CONFIGURED
        return
    messages = build_messages(text, history, code)
    answer = ""
    try:
        for piece in stream(config, messages):
            answer += piece
            yield inert(answer)
    except Exception as exc:  # noqa: BLE001 - every failure becomes a message, never a stack trace
        yield (inert(answer) + "\n\n" if answer else "") + explain(exc)
        return
    if not answer.strip():
        yield EMPTY


_IMAGE = re.compile(r"!(?=\[)")  # every Markdown image (inline, reference, shortcut) starts with "!["
_TAG = re.compile(r"<(?=[A-Za-z/!?])")  # the start of any HTML tag, comment or declaration


def inert(text: str) -> str:
    """Model output that cannot load anything: "![" becomes "!\\[" (shown as text, the URL a plain link
    at most) and "<" before a tag becomes "&lt;" (the tag is shown, not rendered). "<5 mg" is untouched."""
    return _TAG.sub("&lt;", _IMAGE.sub("!\\\\", text))


class _Opening(Exception):
    """A failure while the backend was being set up (before any request to the model)."""

    def __init__(self, cause: BaseException):
        super().__init__(str(cause))
        self.cause = cause


def stream(config: ChatConfig, messages: list[dict[str, str]]) -> Iterator[str]:
    """The answer's pieces from the configured backend's `stream`, on an event loop of this thread (Gradio
    runs a generator handler in a worker thread, so the backend's blocking setup, e.g. an endpoint's lookup,
    never holds up the page). Closing this generator early closes the request."""
    from ..backends import GenerationSettings, Request

    request = Request(messages=tuple(messages), settings=GenerationSettings(
        max_tokens=config.max_tokens, temperature=config.temperature, extra_body=config.extra_body))
    loop = asyncio.new_event_loop()
    backend = pieces = None
    try:
        try:
            backend = open_backend(config)
        except Exception as exc:  # noqa: BLE001 - explained by the caller
            raise _Opening(exc) from None
        pieces = backend.stream(request)
        while True:
            try:
                piece = loop.run_until_complete(pieces.__anext__())
            except StopAsyncIteration:
                return
            if piece:
                yield piece
    finally:
        steps = [pieces.aclose if pieces is not None else None,
                 backend.aclose if backend is not None and config.backend not in _KEPT else None,
                 loop.shutdown_default_executor]
        for step in steps:
            if step is not None:
                with contextlib.suppress(Exception):  # each closes what it can; the answer is already out
                    loop.run_until_complete(step())
        loop.close()


_KEPT = ("transformers",)  # a local model is loaded once and kept for the next messages
_local: dict[str, Any] = {}
_local_lock = threading.Lock()


def _openai_base(url: str) -> str:
    parts = urlsplit(url)
    return url.rstrip("/") + "/v1" if parts.path in ("", "/") else url


def open_backend(config: ChatConfig) -> Any:
    """The globmed backend for the demo's settings. Keys: GLOBMED_DEMO_API_KEY, else the HF token only where
    it may go (`token_for`; for an endpoint, globmed.endpoints.token_allowed)."""
    from ..backends import backend_class

    kind, model = config.backend, config.model or ""
    cls = backend_class(kind)
    if kind == "transformers":
        with _local_lock:  # loading takes a while: one load, however many visitors ask at once
            if model not in _local:
                _local[model] = cls(model=model)
            return _local[model]
    if kind == "endpoint":
        return cls(model=model, base_url=_openai_base(config.url) if config.url else None, wake=False,
                   token=config.hf_token or config.api_key, api_key=config.api_key, timeout=config.timeout)
    url = _openai_base(config.url) if kind == "openai" and config.url else config.url
    return cls(model=model, base_url=url, api_key=config.token_for(url), timeout=config.timeout)


_ENDPOINT_STATES = {"paused": PAUSED, "scaledToZero": ASLEEP}


def _status(exc: BaseException) -> int | None:
    for attr in ("status_code", "status"):
        value = getattr(exc, attr, None)
        if isinstance(value, int):
            return value
    response = getattr(exc, "response", None)
    value = getattr(response, "status_code", None)
    return value if isinstance(value, int) else None


def explain(exc: BaseException) -> str:
    """A short, safe message for any failure talking to the model server (never the exception text,
    which can hold URLs)."""
    opening = isinstance(exc, _Opening)
    exc = exc.cause if isinstance(exc, _Opening) else exc
    state = getattr(exc, "state", None)  # an Inference Endpoint that is not running (EndpointNotReady)
    if isinstance(state, str):
        if state in ("failed", "updateFailed"):
            return BROKEN.format(kind=f"endpoint status {state}")
        return _ENDPOINT_STATES.get(state, WAKING)
    status = _status(exc)
    if status is not None:
        if status in (502, 503, 504):
            return ASLEEP
        if status in (401, 403):
            return DENIED
        if status == 404:
            return NOT_FOUND
        if status == 429:
            return BUSY
        if status in (400, 413, 422):
            return REJECTED.format(status=status)
        return FAILED.format(status=status)
    kind = getattr(exc, "kind", None)  # BackendError: no answer at all
    names = {cls.__name__ for cls in type(exc).__mro__}
    if kind == "timeout" or names & {"APITimeoutError", "TimeoutException", "InferenceTimeoutError", "TimeoutError",
                                     "ReadTimeout", "ConnectTimeout"}:
        return TIMEOUT
    if kind == "connection" or names & {"APIConnectionError", "ConnectError", "ConnectionError",
                                        "ConnectionRefusedError", "NetworkError", "RemoteProtocolError",
                                        "TransportError"}:
        return UNREACHABLE
    if "OSError" in names and not opening:  # while setting up, an OSError is a missing file (a local model)
        return UNREACHABLE
    return MISCONFIGURED if opening else BROKEN.format(kind=type(exc).__name__)
