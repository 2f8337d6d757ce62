"""`globmed-push space`: create or update the GlobMed Space in ONE commit (globmed.hub.push.push_folder),
with the results dataset ids as the GLOBMED_RESULTS Space variable. What is uploaded is the package's
own `globmed/space/repo/` (app.py, README.md, requirements.txt), so it works from an installed wheel; the
Space's globmed brings the synthetic sample results with it.

`--vendor-globmed` ships the local globmed instead of the pinned release: it is built with
`pip wheel --no-deps` (offline: no build isolation), put in wheels/ and unpacked in vendor/, where the
Space's app.py finds it first, and requirements.txt no longer pins globmed from git. (A Space
installs requirements.txt before the repository is copied in, so requirements.txt cannot point at a
file of the upload; the unpacked wheel is exactly what pip would install for a pure-Python wheel.)
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..hub.push import PushSettings, push_folder
from . import RESULTS_ENV, SPACE_REPO

STAGE_IGNORE = ("__pycache__", "*.pyc", ".gradio", "flagged", ".cache", "vendor", "wheels", ".DS_Store")
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")
# The source checkout this globmed runs from (an editable install): what --vendor-globmed builds a wheel of.
CHECKOUT = Path(__file__).resolve().parents[2]


@dataclass
class SpacePushSettings:
    repo: str = field(metadata={"help": "the Space's Hub id, e.g. my-org/globmed-leaderboard"})
    results: list[str] = field(default_factory=list, metadata={
        "help": f"results dataset ids on the Hub (comma-separated), set as the {RESULTS_ENV} Space variable; "
                "default: the Space shows its shipped synthetic sample"})
    vendor_globmed: bool = field(default=False, metadata={
        "help": "ship this checkout's globmed (a wheel built here) instead of the pinned release"})
    public: bool = field(default=False, metadata={"help": "make a new Space public (default: private)"})
    allow_restricted: bool = field(default=False, metadata={
        "help": "confirm you may share results derived from restricted sources (MedNLI) in this PRIVATE Space"})
    dry_run: bool = field(default=False, metadata={"help": "list exactly what would be uploaded; send nothing"})
    message: str = field(default="", metadata={"help": "commit message"})
    app_dir: Path = field(default=SPACE_REPO, metadata={"help": "the Space folder to upload (default: the one "
                                                                 "shipped in globmed/space/repo)"})


def build_wheel(project: Path, out: Path) -> Path:
    """`pip wheel --no-deps` of the local project, built from a clean copy of its sources (no build
    isolation, so it works offline; nothing is written into the checkout)."""
    if not (project / "pyproject.toml").exists() or not (project / "globmed").is_dir():
        raise GlobmedError(f"--vendor-globmed needs a globmed source checkout (an editable install); {project} has "
                           "no pyproject.toml")
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="globmed-wheel-") as tmp:
        src = Path(tmp) / "src"
        shutil.copytree(project / "globmed", src / "globmed", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        for extra in ["pyproject.toml", "README.md", *[p.name for p in project.glob("LICEN[CS]E*")]]:
            if (project / extra).is_file():
                shutil.copy2(project / extra, src / extra)
        proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--quiet",
                               "--wheel-dir", str(out), str(src)], capture_output=True, text=True)
    wheels = sorted(out.glob("globmed-*.whl"))
    if proc.returncode != 0 or not wheels:
        raise GlobmedError(f"building the globmed wheel failed: {proc.stderr.strip()[-2000:]}")
    return wheels[-1]


def vendor_requirements(text: str, wheel: str) -> str:
    lines = []
    for line in text.splitlines():
        if re.match(r"^\s*globmed(\s|@|=|$|\[)", line):
            lines.append(f"# globmed: vendored by `globmed-push space --vendor-globmed` from wheels/{wheel} "
                         "(unpacked in vendor/; app.py imports it from there)")
        else:
            lines.append(line)
    return "\n".join(lines) + "\n"


def stage(settings: SpacePushSettings, where: Path) -> Path:
    """The folder to upload: the Space folder, plus the vendored globmed when asked."""
    src = Path(settings.app_dir)
    for required in ("README.md", "app.py", "requirements.txt"):
        if not (src / required).exists():
            raise GlobmedError(f"{src}: not a Space folder ({required} missing)")
    folder = where / "space"
    shutil.copytree(src, folder, ignore=shutil.ignore_patterns(*STAGE_IGNORE))
    # the licence guard and the secret scan read everything staged, at any depth, in push_folder
    if settings.vendor_globmed:
        wheel = build_wheel(CHECKOUT, folder / "wheels")
        with zipfile.ZipFile(wheel) as zf:
            zf.extractall(folder / "vendor")
        req = folder / "requirements.txt"
        req.write_text(vendor_requirements(req.read_text(encoding="utf-8"), wheel.name), encoding="utf-8")
    return folder


def check_results(refs: list[str]) -> list[str]:
    out = []
    for ref in refs:
        ref = ref.strip()
        if not ref:
            continue
        if Path(ref).expanduser().exists() or not _HUB_ID.match(ref):
            raise GlobmedError(f"--results takes Hub dataset ids (org/name), got {ref!r}; publish a local results "
                               "folder first with `globmed-push results FOLDER --repo org/name`")
        out.append(ref)
    return out


def push_space(settings: SpacePushSettings) -> dict[str, Any]:
    results = check_results(settings.results)
    variables = {RESULTS_ENV: ",".join(results)} if results else None
    with tempfile.TemporaryDirectory(prefix="globmed-space-") as tmp:
        folder = stage(settings, Path(tmp))
        push = PushSettings(folder=folder, repo=settings.repo, public=settings.public,
                            allow_restricted=settings.allow_restricted, dry_run=settings.dry_run,
                            message=settings.message or "globmed: update the GlobMed Space")
        result = push_folder(push, "space", space_variables=variables)
    result["variables"] = variables or {}
    return result
