"""Publishing a folder to the Hub in ONE commit (the Hub allows ~128 commits/hour/repo).

Private by default. Before any request: the licence guard (globmed.hub.guard) reads the content of
every file and refuses data derived from a non-redistributable source (MedNLI) for a public repo, and
asks for an explicit flag even for a private one; the secret scan (globmed.hub.secrets) reads every
file, decoded, for tokens and keys. The token comes from HF_TOKEN or the user's login
(huggingface_hub.get_token) and is never printed. A Hub failure is one line with its cause.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core import CACHE
from ..errors import GlobmedError, RuntimeFailure
from ..urls import redact_urls
from . import guard
from .secrets import scan_files

IGNORED_PARTS = {".git", "__pycache__", CACHE, ".ipynb_checkpoints"}  # CACHE: every folder's never-published part
REPO_TYPES = ("dataset", "model", "space")


@dataclass
class PushSettings:
    folder: Path = field(metadata={"help": "the folder to publish", "positional": True})
    repo: str = field(metadata={"help": "Hub repo id, e.g. my-org/globmed"})
    public: bool = field(default=False, metadata={"help": "make a new repo public (default: private)"})
    allow_restricted: bool = field(default=False, metadata={
        "help": "confirm you may share data derived from restricted sources (MedNLI) in this PRIVATE repo"})
    dry_run: bool = field(default=False, metadata={"help": "list exactly what would be uploaded; send nothing"})
    message: str = field(default="", metadata={"help": "commit message"})


@dataclass(frozen=True)
class PlannedFile:
    path_in_repo: str
    local: Path
    size: int


def plan(folder: Path) -> list[PlannedFile]:
    """Every file that would be uploaded, in a stable order."""
    folder = Path(folder)
    if not folder.is_dir():
        raise GlobmedError(f"{folder}: folder not found")
    files = []
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder)
        if path.is_file() and not IGNORED_PARTS.intersection(rel.parts) and not path.name.endswith((".pyc", ".tmp")):
            files.append(PlannedFile(rel.as_posix(), path, path.stat().st_size))
    if not files:
        raise GlobmedError(f"{folder}: nothing to upload")
    return files


def licence_guard(folder: Path, public: bool, allow_restricted: bool,
                  files: list[PlannedFile] | None = None) -> guard.Derived:
    """The content-based licence guard (globmed.hub.guard) over what would be uploaded from `folder`."""
    return guard.check(Path(folder), plan(folder) if files is None else files, public, allow_restricted)


def hub_failure(exc: BaseException, repo: str) -> GlobmedError:
    """One line for a failure talking to the Hub: the cause, never a traceback (nor the token)."""
    from huggingface_hub import constants

    status = getattr(getattr(exc, "response", None), "status_code", None)
    text = (getattr(exc, "server_message", None) or str(exc)).strip()
    detail = redact_urls(text.splitlines()[0]) if text else type(exc).__name__
    if status in (401, 403):
        return RuntimeFailure(f"the Hub refused the token for {repo} (HTTP {status}: {detail}); check HF_TOKEN or "
                              f"`hf auth login`, and that the token may write to {repo.split('/')[0]}")
    if status is not None:
        return RuntimeFailure(f"the Hub answered HTTP {status} for {repo}: {detail}")
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & {"ConnectError", "ConnectTimeout", "TimeoutException", "NetworkError", "TransportError",
                "ConnectionError", "OSError"}:
        return RuntimeFailure(f"cannot reach the Hub at {redact_urls(constants.ENDPOINT)}: {detail}")
    return RuntimeFailure(f"the Hub request for {repo} failed: {type(exc).__name__}: {detail}")


def push_folder(settings: PushSettings, repo_type: str = "dataset", space_variables: dict[str, str] | None = None,
                ) -> dict[str, Any]:
    """Publish `settings.folder` as one commit. Returns what was (or would be) done. Before any request:
    the repo id, the licence guard and the secret scan (dry runs included)."""
    from huggingface_hub import get_token
    from huggingface_hub.utils import HFValidationError, validate_repo_id

    if repo_type not in REPO_TYPES:
        raise GlobmedError(f"repo type must be one of {REPO_TYPES}")
    try:
        if settings.repo.count("/") != 1:
            raise HFValidationError("it must look like org/name")
        validate_repo_id(settings.repo)
    except HFValidationError as exc:
        raise GlobmedError(f"--repo {settings.repo!r} is not a valid Hub repo id: {exc}") from None
    files = plan(settings.folder)
    derived = licence_guard(settings.folder, settings.public, settings.allow_restricted, files)
    token = get_token()
    scan_files(files, token)
    result: dict[str, Any] = {
        "repo": settings.repo, "repo_type": repo_type, "private": not settings.public,
        "files": [(f.path_in_repo, f.size) for f in files], "bytes": sum(f.size for f in files),
    }
    if settings.dry_run:
        return result
    if not token:
        raise GlobmedError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    try:
        return _commit(settings, repo_type, files, derived, token, result, space_variables)
    except GlobmedError:
        raise
    except Exception as exc:  # the client raises HTTP, connection and validation errors of several types
        raise hub_failure(exc, settings.repo) from None


def _commit(settings: PushSettings, repo_type: str, files: list[PlannedFile], derived: guard.Derived, token: str,
            result: dict[str, Any], space_variables: dict[str, str] | None) -> dict[str, Any]:
    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi

    api = HfApi(token=token)
    extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
    api.create_repo(settings.repo, repo_type=repo_type, private=not settings.public, exist_ok=True, **extra)
    # --public only sets the visibility of a NEW repo: an existing one keeps its own, which the guard must respect.
    private = bool(api.repo_info(settings.repo, repo_type=repo_type).private)
    result["private"] = private
    restricted = guard.restricted(derived)
    if restricted and not private:
        names = ", ".join(spec.name for spec, _ in restricted)
        raise GlobmedError(
            f"refusing to upload {settings.folder} to {settings.repo}: that repo already exists and is public, and "
            f"the folder contains data derived from {names}, which may not be redistributed. Push to a private repo.")
    keep = {f.path_in_repo for f in files} | {".gitattributes"}
    stale = [p for p in api.list_repo_files(settings.repo, repo_type=repo_type) if p not in keep]
    operations = [CommitOperationAdd(path_in_repo=f.path_in_repo, path_or_fileobj=str(f.local)) for f in files]
    operations += [CommitOperationDelete(path_in_repo=p) for p in stale]
    message = settings.message or f"globmed: upload {Path(settings.folder).name}"
    info = api.create_commit(settings.repo, operations=operations, commit_message=message, repo_type=repo_type)
    for key, value in (space_variables or {}).items():
        api.add_space_variable(settings.repo, key, value)
    result.update(commit=info.oid, url=info.commit_url, deleted=stale)
    return result
