"""`globmed.json`: the manifest at the top of every folder globmed writes, saying what kind it is.

Three kinds, each owned by its folder module (which has the one read and the one write function of it):

    globmed-data      a built GlobMed folder          globmed.core.datafolder
    globmed-results   a `globmed bench run` OUT        globmed.core.resultsfolder
    globmed-model     a `globmed train sft` OUTPUT     globmed.core.modelfolder

Reading checks the kind, so a folder of one kind given where another is expected is a one-line
error naming the folder and the kind found; a manifest that is not JSON is an error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..errors import GlobmedError
from ..io import write_json

NAME = "globmed.json"


def read(folder: Path, kind: str, what: str) -> dict[str, Any] | None:
    """FOLDER/globmed.json, checked to be of `kind` (`what` names it in errors); None when absent."""
    path = Path(folder) / NAME
    if not path.exists():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise GlobmedError(f"{path}: broken manifest ({exc})") from None
    found = data.get("kind") if isinstance(data, dict) else None
    if found != kind:
        raise GlobmedError(f"{folder}: not {what} ({NAME} says kind={found!r})")
    return data


def write(folder: Path, kind: str, manifest: dict[str, Any]) -> Path:
    """Write FOLDER/globmed.json (atomically) with its kind first."""
    path = Path(folder) / NAME
    write_json(path, {"kind": kind, **{k: v for k, v in manifest.items() if k != "kind"}})
    return path
