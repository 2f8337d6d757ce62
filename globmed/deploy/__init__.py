"""Inference Endpoints for GlobMed models: a pinned vLLM (default) or TGI image, created or updated,
then waited for.

    globmed deploy endpoint --model org/model [--engine vllm|tgi] [--name N] [--instance-type nvidia-l4] ...
    globmed deploy pause|resume|scale-to-zero|delete NAME
    globmed bench run --backend endpoint --model NAME ...      # evaluates it (wakes it when asleep)

Engines (both serve the OpenAI-compatible /v1/chat/completions route that `--backend endpoint` uses):
- vllm (default): Inference Endpoints' managed vLLM engine running `vllm/vllm-openai:<VLLM_VERSION>`,
  i.e. the API's `vLLM` image variant ({"vLLM": {"url", "healthRoute", "port", "tensorParallelSize"}}).
  Engine flags go in `model.args` (`--served-model-name org/model`, `--max-model-len`, `--args`);
  tensorParallelSize defaults to every GPU of the instance (x4 -> 4): the API refuses a vLLM deployment
  that would leave some of them idle.
- tgi: `ghcr.io/huggingface/text-generation-inference:<TGI_VERSION>` as a custom container (MODEL_ID=/repository).
  TGI has been in maintenance mode since December 2025; keep it for existing deployments.

The image is pinned, so a deployment does not change when an engine's default image does (`--image`
picks another). The model repository is mounted at /repository. The token comes from HF_TOKEN or the
user's login and is never printed.

For tests and private deployments, GLOBMED_INFERENCE_ENDPOINTS_URL replaces the Inference Endpoints
API root (huggingface_hub hard-codes https://api.endpoints.huggingface.cloud/v2): the API client and what
the `endpoint` backend shares with this module live in globmed.endpoints, below both.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Callable

from ..endpoints import api, split_name
from ..errors import GlobmedError

VLLM_VERSION = "v0.33.0"
VLLM_IMAGE = f"vllm/vllm-openai:{VLLM_VERSION}"
TGI_VERSION = "3.3.5"
TGI_IMAGE = f"ghcr.io/huggingface/text-generation-inference:{TGI_VERSION}"
HEALTH_ROUTE = "/health"


@dataclass(frozen=True)
class Engine:
    image: str  # the pinned default image
    variant: str  # the API's `model.image` key ("custom": a plain container)
    port: int  # where the image's server listens


ENGINES = {"vllm": Engine(VLLM_IMAGE, "vLLM", 8000), "tgi": Engine(TGI_IMAGE, "custom", 80)}


@dataclass
class EndpointSettings:
    model: str = field(metadata={"help": "Hub model repo to serve, e.g. org/globmed-8b"})
    engine: str = field(default="vllm", metadata={"help": "vllm (default) | tgi (maintenance mode since 2025-12)"})
    name: str | None = field(default=None, metadata={"help": "endpoint name (default: from the model name)"})
    namespace: str | None = field(default=None, metadata={"help": "user or organisation owning the endpoint"})
    revision: str | None = field(default=None, metadata={"help": "model revision (commit) to serve"})
    instance_type: str = field(default="nvidia-l4", metadata={"help": "e.g. nvidia-l4, nvidia-a10g, nvidia-a100"})
    instance_size: str = field(default="x1", metadata={"help": "x1, x2, x4, ... (GPUs per replica)"})
    accelerator: str = field(default="gpu", metadata={"help": "gpu | cpu"})
    vendor: str = field(default="aws", metadata={"help": "cloud vendor (aws, gcp, azure)"})
    region: str = field(default="us-east-1", metadata={"help": "cloud region"})
    min_replica: int = field(default=0, metadata={"help": "0 lets it scale to zero when idle"})
    max_replica: int = field(default=1, metadata={"help": "most replicas under load"})
    scale_to_zero_timeout: int | None = field(default=15, metadata={
        "help": "minutes idle before scaling to zero (with --min-replica 0)"})
    image: str | None = field(default=None, metadata={
        "help": f"container image (default: the engine's pinned one: {VLLM_IMAGE} | {TGI_IMAGE})"})
    tensor_parallel_size: int | None = field(default=None, metadata={
        "help": "vllm: GPUs one model copy is sharded over (default: all of the instance's)"})
    max_input_tokens: int | None = field(default=None, metadata={"help": "tgi: MAX_INPUT_TOKENS"})
    max_total_tokens: int | None = field(default=None, metadata={
        "help": "longest prompt + answer in tokens (tgi: MAX_TOTAL_TOKENS; vllm: --max-model-len)"})
    args: list[str] = field(default_factory=list, metadata={
        "help": "extra engine flags, comma-separated tokens, e.g. --enable-prefix-caching,--max-num-seqs,64"})
    env: list[str] = field(default_factory=list, metadata={"help": "extra container env KEY=VALUE, comma-separated"})
    wait: bool = field(default=True, metadata={"help": "wait until it runs and print its URL"})
    timeout: int = field(default=1800, metadata={"help": "seconds to wait"})
    poll: float = field(default=10.0, metadata={"help": "seconds between status checks while waiting"})

    def __post_init__(self) -> None:
        if self.model.count("/") != 1:
            raise ValueError(f"--model must be a Hub repo like org/name, got {self.model!r}")
        if self.engine not in ENGINES:
            raise ValueError(f"--engine must be one of {', '.join(ENGINES)}, not {self.engine!r}")
        if self.engine == "vllm" and self.max_input_tokens:
            raise ValueError("--max-input-tokens is a TGI setting; vLLM bounds prompt + answer with --max-total-tokens")
        if self.engine != "vllm" and self.tensor_parallel_size:
            raise ValueError("--tensor-parallel-size is a vLLM setting (TGI shards over the instance's GPUs itself)")
        if self.min_replica < 0 or self.max_replica < max(1, self.min_replica):
            raise ValueError("need 0 <= --min-replica <= --max-replica and --max-replica >= 1")
        if self.poll <= 0:
            raise ValueError("--poll must be positive")


@dataclass
class EndpointActionSettings:
    name: str = field(metadata={"help": "the endpoint's name", "positional": True})
    namespace: str | None = field(default=None, metadata={"help": "user or organisation owning the endpoint"})
    wait: bool = field(default=True, metadata={"help": "resume: wait until it runs and print its URL"})
    timeout: int = field(default=1800, metadata={"help": "seconds to wait"})
    poll: float = field(default=10.0, metadata={"help": "seconds between status checks while waiting"})
    yes: bool = field(default=False, metadata={"help": "delete: do not ask for confirmation"})


def default_name(model: str) -> str:
    """An endpoint name from a model id: lowercase letters, digits and '-', at most 32 characters."""
    base = re.sub(r"[^a-z0-9-]+", "-", model.split("/")[-1].lower()).strip("-") or "globmed"
    return base[:32].rstrip("-")


def _pairs(settings: EndpointSettings) -> dict[str, str]:
    env = {}
    for pair in settings.env:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise GlobmedError(f"--env takes KEY=VALUE pairs, got {pair!r}")
        env[key.strip()] = value.strip()
    return env


def container_env(settings: EndpointSettings) -> dict[str, str]:
    """The container's environment (`model.env`): TGI is configured through it, vLLM through flags."""
    env: dict[str, str] = {}
    if settings.engine == "tgi":
        env["MODEL_ID"] = "/repository"
        if settings.max_input_tokens:
            env["MAX_INPUT_TOKENS"] = str(settings.max_input_tokens)
        if settings.max_total_tokens:
            env["MAX_TOTAL_TOKENS"] = str(settings.max_total_tokens)
    return {**env, **_pairs(settings)}


def container_args(settings: EndpointSettings) -> list[str]:
    """Engine flags (`model.args`). vLLM serves the model under its repo id, the name clients send."""
    args: list[str] = []
    if settings.engine == "vllm":
        args += ["--served-model-name", settings.model]
        if settings.max_total_tokens:
            args += ["--max-model-len", str(settings.max_total_tokens)]
    return args + settings.args


def gpus(instance_size: str) -> int | None:
    """GPUs per replica from an instance size ("x4" -> 4); None when the size does not say."""
    match = re.fullmatch(r"x(\d+)", instance_size.strip().lower())
    return int(match.group(1)) if match else None


def custom_image(settings: EndpointSettings) -> dict[str, Any]:
    """The `model.image` payload: a managed engine variant ({"vLLM": {...}}) or a plain custom container."""
    engine = ENGINES[settings.engine]
    image: dict[str, Any] = {"url": settings.image or engine.image, "healthRoute": HEALTH_ROUTE, "port": engine.port}
    if engine.variant == "custom":
        return image  # huggingface_hub keys a flat dict with a url as {"custom": ...}
    tp = settings.tensor_parallel_size or (gpus(settings.instance_size) if settings.accelerator == "gpu" else None)
    if tp:
        image["tensorParallelSize"] = tp
    return {engine.variant: image}


def _status(exc: BaseException) -> int | None:
    response = getattr(exc, "response", None)
    return getattr(response, "status_code", None)


def _fail(action: str, name: str, exc: BaseException) -> GlobmedError:
    status = _status(exc)
    if status == 404:
        return GlobmedError(f"{action}: no Inference Endpoint named {name!r} (check the name and --namespace)")
    if status in (401, 403):
        return GlobmedError(f"{action} {name}: the Hub refused your token (HTTP {status}); it needs write access "
                            "to Inference Endpoints of this namespace")
    return GlobmedError(f"{action} {name}: {type(exc).__name__}: {exc}")


def deploy(settings: EndpointSettings, say: Callable[[str], None] = print) -> Any:
    """Create the endpoint, or update it when it exists; wait until it runs. Returns the endpoint."""
    hf = api()
    name = settings.name or default_name(settings.model)
    scale = settings.scale_to_zero_timeout if settings.min_replica == 0 else None
    common = dict(repository=settings.model, revision=settings.revision, framework="pytorch",
                  accelerator=settings.accelerator, instance_size=settings.instance_size,
                  instance_type=settings.instance_type, min_replica=settings.min_replica,
                  max_replica=settings.max_replica, scale_to_zero_timeout=scale, custom_image=custom_image(settings),
                  namespace=settings.namespace)
    # engine flags and env: left out of a new endpoint when empty, but always sent on an update, so that
    # switching engines clears the other engine's settings
    args, env = container_args(settings), container_env(settings)
    image = settings.image or ENGINES[settings.engine].image
    try:
        existing = hf.get_inference_endpoint(name, namespace=settings.namespace)
    except Exception as exc:  # noqa: BLE001 - 404 means "create it"
        if _status(exc) != 404:
            raise _fail("deploy", name, exc) from None
        existing = None
    try:
        if existing is None:
            say(f"creating Inference Endpoint {name} ({settings.model} on {settings.instance_type} "
                f"{settings.instance_size}, {settings.engine}: {image})")
            endpoint = hf.create_inference_endpoint(name, vendor=settings.vendor, region=settings.region,
                                                    container_args=args or None, env=env or None, **common)
        else:
            say(f"updating Inference Endpoint {name} (status {existing.status}; {settings.engine}: {image})")
            endpoint = hf.update_inference_endpoint(name, container_args=args, env=env, **common)
    except Exception as exc:  # noqa: BLE001
        raise _fail("deploy", name, exc) from None
    if settings.wait:
        endpoint = wait(endpoint, settings.timeout, settings.poll, say)
    return endpoint


def wait(endpoint: Any, timeout: int, poll: float, say: Callable[[str], None] = print) -> Any:
    say(f"waiting for {endpoint.name} to run (status {endpoint.status}; up to {timeout} s)...")
    try:
        return endpoint.wait(timeout=timeout, refresh_every=poll)
    except Exception as exc:  # noqa: BLE001
        raise _fail("wait for", endpoint.name, exc) from None


def act(action: str, settings: EndpointActionSettings, say: Callable[[str], None] = print) -> Any:
    """pause | resume | scale-to-zero | delete an endpoint by name."""
    hf = api()
    ns, name = split_name(settings.name, settings.namespace)
    try:
        if action == "pause":
            return hf.pause_inference_endpoint(name, namespace=ns)
        if action == "scale-to-zero":
            return hf.scale_to_zero_inference_endpoint(name, namespace=ns)
        if action == "delete":
            hf.delete_inference_endpoint(name, namespace=ns)
            return None
        if action == "resume":
            endpoint = hf.resume_inference_endpoint(name, namespace=ns, running_ok=True)
        else:
            raise GlobmedError(f"unknown action {action!r}")
    except GlobmedError:
        raise
    except Exception as exc:  # noqa: BLE001
        raise _fail(action, name, exc) from None
    return wait(endpoint, settings.timeout, settings.poll, say) if settings.wait else endpoint
