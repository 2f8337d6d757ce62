"""Hugging Face Inference Endpoints as both the `endpoint` backend and `globmed deploy` see them: the API
client, an endpoint's name, the engine behind it, and where the Hugging Face token may go.

It sits below both (globmed.backends.endpoint and globmed.deploy import it; it imports neither), so that
talking to an endpoint does not pull in the code that deploys one.

GLOBMED_INFERENCE_ENDPOINTS_URL replaces the Inference Endpoints API root (huggingface_hub hard-codes
https://api.endpoints.huggingface.cloud/v2), for tests and private deployments.
"""

from __future__ import annotations

import os
from typing import Any, Mapping

from .errors import GlobmedError
from .urls import hf_token_allowed

ENDPOINTS_URL_ENV = "GLOBMED_INFERENCE_ENDPOINTS_URL"


def api(token: str | None = None) -> Any:
    """An HfApi with GLOBMED_INFERENCE_ENDPOINTS_URL applied; `token` or the machine's (HF_TOKEN, login)."""
    import huggingface_hub.constants
    from huggingface_hub import HfApi, get_token

    url = os.environ.get(ENDPOINTS_URL_ENV)
    if url:
        huggingface_hub.constants.INFERENCE_ENDPOINTS_ENDPOINT = url.rstrip("/")
    if not (token or get_token()):
        raise GlobmedError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    return HfApi(token=token) if token else HfApi()


def split_name(name: str, namespace: str | None = None) -> tuple[str | None, str]:
    """(namespace, name) from "name" or "namespace/name"; an explicit namespace wins."""
    if "/" in name and namespace is None:
        namespace, name = name.split("/", 1)
    return namespace, name


def engine_of(raw: Mapping[str, Any]) -> tuple[str, str | None]:
    """(engine, image url) of an endpoint from its API record: "vllm", "tgi", or "custom" for any other
    container (the managed Hugging Face image included)."""
    image = (raw.get("model") or {}).get("image") or {}
    variant, config = next(iter(image.items()), ("", {}))
    url = config.get("url") if isinstance(config, dict) else None
    if variant.lower().startswith("vllm") or "vllm" in (url or ""):
        return "vllm", url
    if variant.lower().startswith("tgi") or "text-generation-inference" in (url or ""):
        return "tgi", url
    return "custom", url


def token_allowed(url: str | None) -> bool:
    """Whether the Hugging Face token may authenticate to an endpoint's URL: over https to Hugging Face
    hosts (globmed.urls.hf_token_allowed; real endpoints are https://*.endpoints.huggingface.cloud), or to
    any URL when GLOBMED_INFERENCE_ENDPOINTS_URL names another Inference Endpoints API (the owner chose
    that API, and with it the URLs it hands out)."""
    return hf_token_allowed(url) or bool(os.environ.get(ENDPOINTS_URL_ENV))
