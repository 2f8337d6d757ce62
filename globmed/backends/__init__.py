"""Backends: one small file per API, all behind globmed.backends.base.Backend.

Adding a provider = one file with a Backend subclass + one line in BACKENDS.

A key reaches a backend by the NAME of the environment variable holding it (`api_key_env`), so settings,
campaigns and results never hold one. Fields marked `secret` (`api_key`: the key itself, for callers that
already hold it, like the Space's chat) are refused by make_backend, which builds backends from settings.
"""

from __future__ import annotations

import dataclasses
import importlib
from typing import Any

from ..errors import GlobmedError
from .base import Backend, BackendError, GenerationSettings, Request, Response

BACKENDS = {
    "openai": "globmed.backends.openai_compat:OpenAIBackend",
    "tgi": "globmed.backends.tgi:TGIBackend",
    "endpoint": "globmed.backends.endpoint:EndpointBackend",
    "anthropic": "globmed.backends.anthropic_backend:AnthropicBackend",
    "transformers": "globmed.backends.transformers_local:TransformersBackend",
}

__all__ = ["BACKENDS", "Backend", "BackendError", "GenerationSettings", "Request", "Response", "make_backend"]


def backend_class(kind: str) -> type[Backend]:
    try:
        module, name = BACKENDS[kind].split(":")
    except KeyError:
        raise GlobmedError(f"unknown backend {kind!r}; known: {', '.join(BACKENDS)}") from None
    return getattr(importlib.import_module(module), name)


def make_backend(kind: str, model: str, **options: Any) -> Backend:
    """Build a backend; options that this backend does not take are an error, None values are skipped."""
    cls = backend_class(kind)
    accepted = {f.name for f in dataclasses.fields(cls) if f.init and not f.metadata.get("secret")}
    unknown = {k for k, v in options.items() if v is not None and k not in accepted}
    if unknown:
        hint = " (name the variable that holds a key with api_key_env)" if "api_key" in unknown else ""
        raise GlobmedError(f"backend {kind!r} does not take option(s) {', '.join(sorted(unknown))}{hint}; "
                           f"it takes {', '.join(sorted(accepted - {'model'}))}")
    try:
        return cls(model=model, **{k: v for k, v in options.items() if v is not None})
    except BackendError as exc:
        raise GlobmedError(str(exc)) from None
