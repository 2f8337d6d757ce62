"""`globmed deploy ...`: the Inference Endpoints commands (registered by globmed.cli)."""

from __future__ import annotations

import typer
from rich.console import Console
from rich.markup import escape

from ..errors import GlobmedError
from ..settings import settings_command
from . import EndpointActionSettings, EndpointSettings

deploy_app = typer.Typer(no_args_is_help=True, help="Serve GlobMed models on Hugging Face Inference Endpoints "
                                                    "(a pinned vLLM image by default, or TGI).")
console = Console()
err = Console(stderr=True)


def _say(text: str) -> None:
    err.print(escape(text))


def _show(endpoint: object, action: str) -> None:
    name, status, url = (getattr(endpoint, k, None) for k in ("name", "status", "url"))
    console.print(f"{escape(str(name))}: {action} (status {escape(str(status))})")
    if url and status == "running":
        console.print(f"URL: {escape(str(url))}")


@settings_command(deploy_app, "endpoint", EndpointSettings)
def deploy_endpoint(settings: EndpointSettings) -> None:
    """Create or update an Inference Endpoint running a pinned vLLM (default) or TGI image; wait until it runs; print its URL."""
    from . import deploy

    endpoint = deploy(settings, _say)
    _show(endpoint, "deployed" if settings.wait else "requested")
    console.print(f"evaluate it: globmed bench run --backend endpoint --model {escape(endpoint.name)} --data DATA --out OUT")


@settings_command(deploy_app, "pause", EndpointActionSettings)
def deploy_pause(settings: EndpointActionSettings) -> None:
    """Pause an endpoint (no cost; only `resume` starts it again)."""
    from . import act

    _show(act("pause", settings, _say), "paused")


@settings_command(deploy_app, "resume", EndpointActionSettings)
def deploy_resume(settings: EndpointActionSettings) -> None:
    """Resume a paused or scaled-to-zero endpoint (and wait until it runs, unless --no-wait)."""
    from . import act

    _show(act("resume", settings, _say), "resumed")


@settings_command(deploy_app, "scale-to-zero", EndpointActionSettings)
def deploy_scale_to_zero(settings: EndpointActionSettings) -> None:
    """Scale an endpoint to zero replicas now (the next request wakes it)."""
    from . import act

    _show(act("scale-to-zero", settings, _say), "scaled to zero")


@settings_command(deploy_app, "delete", EndpointActionSettings)
def deploy_delete(settings: EndpointActionSettings) -> None:
    """Delete an endpoint (asks first unless --yes)."""
    from . import act

    if not settings.yes and not typer.confirm(f"Delete Inference Endpoint {settings.name}?", default=False):
        raise GlobmedError("not deleted")
    act("delete", settings, _say)
    console.print(f"{escape(settings.name)}: deleted")
