"""GlobMed data from Python, with the settings of `globmed data build`:

    import globmed.data
    result = globmed.data.build(sources="sample", out="globmed", languages="en,sw")
    # or: globmed.data.build(globmed.data.BuildSettings(sources=Path("sample"), out=Path("globmed")))
    result.configs      # {"medqa.en": {"test": 10, ...}, ...}; load one with datasets.load_dataset("globmed", "medqa.en")
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.console import Console

from .api import settings_from
from .hub.settings import BuildSettings

if TYPE_CHECKING:
    from .hub.build import BuildResult

__all__ = ["BuildSettings", "build"]


def build(settings: BuildSettings | None = None, /, console: Console | None = None, **values: Any) -> "BuildResult":
    """Read the sources, screen them, attach translations and write a Hub-ready dataset folder (as
    `globmed data build`). Progress goes to `console` (default: stderr). Returns the BuildResult."""
    from .hub.build import build as build_folder

    return build_folder(settings_from(BuildSettings, settings, values, "globmed.data.build"), console)
