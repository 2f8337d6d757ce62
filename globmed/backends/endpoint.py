"""Hugging Face Inference Endpoints, by name: looked up, woken when paused or scaled to zero, waited for,
then spoken to over the OpenAI-compatible route that both engines `globmed deploy endpoint` runs serve
(vLLM, TGI's Messages API): `{url}/v1/chat/completions`, authenticated with the Hugging Face token.

The engine is read from the endpoint's image. It decides two things: the name the payload's `model`
must carry (vLLM answers 404 for any name it does not serve; it is read from `{url}/v1/models`, falling
back to the repository id) and how many next-token alternatives log-likelihood mode may ask for (TGI
allows 5 by default, vLLM 20).

The Space's chat builds it with `wake=False`: an endpoint that is not running raises EndpointNotReady at
once (the chat says so; a visitor does not wait minutes), except one scaled to zero that still has a URL,
which is spoken to: that request wakes it (503 until it runs). The lookup and the API client are
globmed.endpoints', shared with `globmed deploy`."""

from __future__ import annotations

import contextlib
import json
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..endpoints import api, engine_of, split_name, token_allowed
from ..errors import GlobmedError
from .base import BackendError, Request
from .openai_compat import OpenAIBackend

TOP_LOGPROBS = {"tgi": 5}  # TGI's default --max-top-n-tokens; vLLM and others allow the OpenAI default (20)


class EndpointNotReady(BackendError):
    """The endpoint is not running and this backend was told not to wait (`state`: the API's status)."""

    def __init__(self, name: str, state: str):
        super().__init__(f"Inference Endpoint {name} is {state}", retryable=False)
        self.state = state


@dataclass
class EndpointBackend(OpenAIBackend):
    """`model` is the Inference Endpoint's name ("name" or "namespace/name"). With `base_url` (the endpoint's
    URL, when known) it is not looked up: its engine is then unknown and the served name is still read."""

    wait_timeout: int = 900
    namespace: str | None = None
    wake: bool = True  # False: do not wake or wait (see the module's docstring)
    # the Hugging Face token that looks the endpoint up and authenticates to it (default: HF_TOKEN / login)
    token: str | None = field(default=None, repr=False, metadata={"secret": True})
    engine: str = field(init=False, default="")
    served_model: str = field(init=False, default="")

    def __post_init__(self) -> None:
        from huggingface_hub import get_token

        self._image = self._repository = None
        if not self.base_url:
            endpoint = self._lookup()
            self.engine, self._image = engine_of(endpoint.raw)
            self._repository = endpoint.repository
            self.revision = self.revision or getattr(endpoint, "revision", None)
            self.base_url = endpoint.url.rstrip("/") + "/v1"
        super().__post_init__()
        self.kind = "endpoint"
        # the endpoint is "authenticated": the HF token (only where globmed.endpoints.token_allowed says it may
        # go), unless a key of its own is given (api_key, or --api-key-env)
        hf = self.token or get_token()
        own = self.api_key or (os.environ.get(self.api_key_env) if self.api_key_env else None)
        self._key = own or (hf if hf and token_allowed(self.base_url) else None) or "EMPTY"
        self.top_logprobs = min(self.top_logprobs, TOP_LOGPROBS.get(self.engine, self.top_logprobs))
        self.served_model = self._served_name() or self._repository or self.model

    def _lookup(self) -> Any:
        """The endpoint, running (woken and waited for), or EndpointNotReady when told not to wait."""
        namespace, name = split_name(self.model, self.namespace)
        try:
            endpoint = api(self.token).get_inference_endpoint(name, namespace=namespace)
        except GlobmedError:
            raise
        except Exception as exc:  # the client raises several HTTP error types
            status = getattr(getattr(exc, "response", None), "status_code", None)
            raise BackendError(f"cannot find Inference Endpoint {self.model!r}: {exc}", status=status) from None
        state = str(endpoint.status)
        if state == "running":
            return endpoint
        if not self.wake:
            if state == "scaledToZero" and endpoint.url:
                return endpoint  # the first request wakes it
            if state == "scaledToZero":
                with contextlib.suppress(Exception):  # best effort: the caller says "asleep, try again" either way
                    endpoint.resume(running_ok=True)
            raise EndpointNotReady(name, state)
        if state in ("paused", "scaledToZero"):
            print(f"Inference Endpoint {name} is {state}; waking it up (this can take minutes)...")
            endpoint.resume(running_ok=True)
        if endpoint.status != "running":
            try:
                endpoint.wait(timeout=self.wait_timeout, refresh_every=2)
            except Exception as exc:
                raise BackendError(f"Inference Endpoint {name} did not start: {exc}") from None
        return endpoint

    def _served_name(self) -> str | None:
        """The first model the server lists at /v1/models (None when it lists none or the route is missing)."""
        req = urllib.request.Request(self.base_url + "/models", headers={"Authorization": f"Bearer {self._key}"})
        try:
            with urllib.request.urlopen(req, timeout=30) as resp:
                data = json.loads(resp.read())
        except (OSError, ValueError):
            return None
        models = data.get("data") if isinstance(data, dict) else None
        return str(models[0]["id"]) if models and isinstance(models[0], dict) and models[0].get("id") else None

    def body(self, request: Request) -> dict[str, Any]:
        return {**super().body(request), "model": self.served_model}

    def identity(self) -> dict[str, Any]:
        return {**super().identity(), "repository": self._repository, "engine": self.engine, "image": self._image,
                "served_model": self.served_model}
