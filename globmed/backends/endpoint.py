"""Hugging Face Inference Endpoints, by name: looked up, woken when paused or scaled to zero, waited for,
then spoken to over the OpenAI-compatible route that both engines `globmed deploy endpoint` runs serve
(vLLM, TGI's Messages API): `{url}/v1/chat/completions`, authenticated with the Hugging Face token.

The engine is read from the endpoint's image. It decides two things: the name the payload's `model`
must carry (vLLM answers 404 for any name it does not serve; it is read from `{url}/v1/models`, falling
back to the repository id) and how many next-token alternatives log-likelihood mode may ask for (TGI
allows 5 by default, vLLM 20)."""

from __future__ import annotations

import json
import os
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from ..errors import GlobmedError
from .base import BackendError, Request
from .openai_compat import OpenAIBackend

TOP_LOGPROBS = {"tgi": 5}  # TGI's default --max-top-n-tokens; vLLM and others allow the OpenAI default (20)


@dataclass
class EndpointBackend(OpenAIBackend):
    """`model` is the Inference Endpoint's name ("name" or "namespace/name")."""

    wait_timeout: int = 900
    namespace: str | None = None
    engine: str = field(init=False, default="")
    served_model: str = field(init=False, default="")

    def __post_init__(self) -> None:
        from huggingface_hub import get_token

        from ..deploy import api, engine_of

        name, namespace = self.model, self.namespace
        if "/" in name and namespace is None:
            namespace, name = name.split("/", 1)
        try:
            endpoint = api().get_inference_endpoint(name, namespace=namespace)
        except GlobmedError:
            raise
        except Exception as exc:  # the client raises several HTTP error types
            raise BackendError(f"cannot find Inference Endpoint {self.model!r}: {exc}") from None
        if endpoint.status in ("paused", "scaledToZero"):
            print(f"Inference Endpoint {name} is {endpoint.status}; waking it up (this can take minutes)...")
            endpoint.resume(running_ok=True)
        if endpoint.status != "running":
            try:
                endpoint.wait(timeout=self.wait_timeout, refresh_every=2)
            except Exception as exc:
                raise BackendError(f"Inference Endpoint {name} did not start: {exc}") from None
        self.engine, self._image = engine_of(endpoint.raw)
        self._repository = endpoint.repository
        self.revision = self.revision or getattr(endpoint, "revision", None)
        self.base_url = endpoint.url.rstrip("/") + "/v1"
        super().__post_init__()
        self.kind = "endpoint"
        # the endpoint is "authenticated": the HF token, unless --api-key-env names another key
        self._key = (os.environ.get(self.api_key_env) if self.api_key_env else None) or get_token() or ""
        self.top_logprobs = min(self.top_logprobs, TOP_LOGPROBS.get(self.engine, self.top_logprobs))
        self.served_model = self._served_name() or self._repository

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
