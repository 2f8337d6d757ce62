"""Publishing a folder to the Hub in ONE commit (the Hub allows ~128 commits/hour/repo).

Private by default. A licence guard refuses data derived from a non-redistributable source
(MedNLI) for a public repo, and asks for an explicit flag even for a private one. The token
comes from HF_TOKEN or the user's login (huggingface_hub.get_token) and is never printed; the
files are scanned for it (and for other secrets in the environment) before anything is sent.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .. import registry
from ..errors import GlobmedError
from .build import read_manifest

IGNORED_PARTS = {".git", "__pycache__", ".cache", ".ipynb_checkpoints"}
REPO_TYPES = ("dataset", "model", "space")
_SECRET_ENV = re.compile(r"(TOKEN|API_KEY|SECRET|PASSWORD)$")


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


def derived_datasets(folder: Path) -> list[str]:
    """The registry datasets a folder's content derives from: the manifest, the card's configs and
    the config folders themselves (`<dataset>.<lang>`, `details.<dataset>.<lang>`), all together."""
    folder = Path(folder)
    names: set[str] = set()
    manifest = read_manifest(folder)
    if manifest and manifest.get("datasets"):
        names.update(manifest["datasets"])
    configs = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    readme = folder / "README.md"
    if readme.exists():
        text = readme.read_text(encoding="utf-8")
        if text.startswith("---"):
            meta = yaml.safe_load(text.split("---", 2)[1]) or {}
            configs += [c.get("config_name", "") for c in meta.get("configs", []) if isinstance(c, dict)]
    for name in configs:
        parts = name.split(".")
        names.add(parts[1] if parts[0] == "details" and len(parts) > 2 else parts[0])
    return sorted(names)


def licence_guard(folder: Path, public: bool, allow_restricted: bool) -> None:
    restricted = registry.restricted(derived_datasets(folder))
    if not restricted:
        return
    names = ", ".join(s.name for s in restricted)
    why = " ".join(s.restriction or f"{s.name} may not be redistributed." for s in restricted)
    if public:
        raise GlobmedError(
            f"refusing to publish {folder} publicly: it contains data derived from {names}. {why} "
            f"Rebuild without it (e.g. --datasets without {names}) to publish, or push privately with --allow-restricted.")
    if not allow_restricted:
        raise GlobmedError(
            f"{folder} contains data derived from {names}. {why} Pushing it even to a private repo needs "
            f"--allow-restricted, confirming everyone with access is entitled to it.")


def secrets_in_env(token: str | None) -> list[str]:
    values = [token] if token else []
    values += [v for k, v in os.environ.items() if _SECRET_ENV.search(k) and len(v) >= 12]
    return sorted(set(values))


def scan_for_secrets(files: list[PlannedFile], secrets: list[str]) -> None:
    needles = [s.encode() for s in secrets if s]
    for f in files:
        data = f.local.read_bytes()
        for needle in needles:
            if needle in data:
                raise GlobmedError(f"{f.local}: contains a secret from your environment (a token or API key); "
                                   f"refusing to upload it. Remove it from the file first.")


def push_folder(settings: PushSettings, repo_type: str = "dataset", space_variables: dict[str, str] | None = None,
                ) -> dict[str, Any]:
    """Publish `settings.folder` as one commit. Returns what was (or would be) done."""
    if repo_type not in REPO_TYPES:
        raise GlobmedError(f"repo type must be one of {REPO_TYPES}")
    if settings.repo.count("/") != 1:
        raise GlobmedError(f"--repo must look like org/name, got {settings.repo!r}")
    licence_guard(settings.folder, settings.public, settings.allow_restricted)
    files = plan(settings.folder)
    result: dict[str, Any] = {
        "repo": settings.repo, "repo_type": repo_type, "private": not settings.public,
        "files": [(f.path_in_repo, f.size) for f in files], "bytes": sum(f.size for f in files),
    }
    if settings.dry_run:
        return result

    from huggingface_hub import CommitOperationAdd, CommitOperationDelete, HfApi, get_token

    token = get_token()
    if not token:
        raise GlobmedError("no Hugging Face token: set HF_TOKEN or run `hf auth login`")
    scan_for_secrets(files, secrets_in_env(token))
    api = HfApi(token=token)
    extra = {"space_sdk": "gradio"} if repo_type == "space" else {}
    api.create_repo(settings.repo, repo_type=repo_type, private=not settings.public, exist_ok=True, **extra)
    # --public only sets the visibility of a NEW repo: an existing one keeps its own, which the guard must respect.
    private = bool(api.repo_info(settings.repo, repo_type=repo_type).private)
    result["private"] = private
    restricted = registry.restricted(derived_datasets(settings.folder))
    if restricted and not private:
        names = ", ".join(s.name for s in restricted)
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
