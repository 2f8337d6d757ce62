"""Campaigns: many models as one resumable job, described in a YAML file.

    defaults: {runs: 5, generation: {max_tokens: 2048}}
    models:
      - name: Qwen3-1.7B                      # display name (unique)
        backend: openai                        # openai | tgi | endpoint | anthropic | transformers
        model: Qwen/Qwen3-1.7B
        base_url: ${QWEN3_1_7B_URL}            # ${VAR} is read from the environment
        temperature: 0.7                       # omitted: the run's decoding; null: never send one
        generation: {chat_template_kwargs: {enable_thinking: false}, top_p: 0.8}
        options: {}                            # backend-specific (batch_size, timeout, revision, ...)
        price: {input: 0.1, output: 0.3}       # USD per 1M tokens, optional
        meta: {access: open-weight, domain: general, reasoning: false, params_b: 1.7}
        group: Qwen                            # optional: the source paper's grouping
        confirmed: true                        # optional: checked against the source paper
        note: non-thinking mode, as in the paper  # optional: choices the source does not make

The metadata travels into every results row, so the leaderboard and the paper's comparisons
(general vs medical variant, reasoning vs not, size vs accuracy) need nothing else.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..yamlfile import read_yaml

META_FIELDS = ("access", "domain", "reasoning", "params_b", "active_params_b", "base_model", "family", "provider")
_ENV = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass
class ModelEntry:
    name: str
    backend: str
    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    generation: dict[str, Any] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    concurrency: int | None = None
    rpm: float | None = None
    tpm: float | None = None
    price: dict[str, float] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    runs: int | None = None
    temperature: float | str | None = None  # None: the run's --temperature; "omit": send none
    confirmed: bool | None = None  # for lists reconstructed from a paper: checked against it or not
    group: str | None = None  # the paper's grouping (proprietary, DeepSeek, ..., medical)
    note: str | None = None  # choices the source does not make (which checkpoint, which setting), shown by --dry-run


def _expand(value: Any, where: str) -> Any:
    if isinstance(value, str):
        def sub(m: re.Match[str]) -> str:
            if m.group(1) not in os.environ:
                raise GlobmedError(f"{where}: environment variable {m.group(1)} is not set")
            return os.environ[m.group(1)]

        return _ENV.sub(sub, value)
    if isinstance(value, dict):
        return {k: _expand(v, where) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand(v, where) for v in value]
    return value


def _merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def load_campaign(path: Path, only: list[str] | None = None) -> list[ModelEntry]:
    """The model entries of a campaign file (env references resolved only for the selected models)."""
    data = read_yaml(Path(path), "campaign")[0] or {}  # named file:line errors, alias limits
    if not isinstance(data, dict):
        raise GlobmedError(f"{path}: a campaign must be a mapping with `models:`")
    defaults = data.get("defaults") or {}
    known = {f.name for f in fields(ModelEntry)}
    entries, seen = [], set()
    for i, raw in enumerate(data.get("models") or []):
        where = f"{path}: models[{i}]"
        if not isinstance(raw, dict) or not {"name", "backend", "model"} <= set(raw):
            raise GlobmedError(f"{where}: each model needs name, backend and model")
        if only and raw["name"] not in only:
            continue
        merged = _merge(defaults, raw)
        if "temperature" in raw and raw["temperature"] is None:
            merged["temperature"] = "omit"  # an explicit null: the API must not get a temperature
        unknown = set(merged) - known
        if unknown:
            raise GlobmedError(f"{where} ({raw['name']}): unknown key(s) {', '.join(sorted(unknown))}")
        if merged["name"] in seen:
            raise GlobmedError(f"{where}: duplicate model name {merged['name']!r}")
        seen.add(merged["name"])
        entries.append(ModelEntry(**_expand(merged, f"{where} ({raw['name']})")))
    if only:
        missing = set(only) - seen
        if missing:
            raise GlobmedError(f"{path}: no model named {', '.join(sorted(missing))}")
    if not entries:
        raise GlobmedError(f"{path}: no models")
    return entries
